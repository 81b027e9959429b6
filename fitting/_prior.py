"""A prior over network-fit coefficients, learned from other devices' measurements.

``edgeperf fit --networks`` fits per-class coefficients (``_fit``); with few networks many of them
are poorly determined. The prior holds, for reference devices measured on many networks (the
public NAS-Bench columns in ../shared/external), their fitted coefficient vectors per runtime
family (fusion rules) and fit variant (sibling merge, memory terms). A new device's fit shrinks
toward a low-rank empirical-Bayes target built from them (:func:`prior_target`), with a strength
chosen by cross-validation, so the data decides how much it leans on the prior.

``prior_target``: every reference is scaled to the new device's training networks (one factor each,
relative least squares), and its coefficients become shapes: the share of the mean latency each
design column explains. The target is the new device's best fit within the references' mean shape
plus their first ``rank`` principal directions (a device is described by a few coordinates, as in
HELP's hardware embedding); each coefficient's pull is the inverse of the references' spread
around that subspace (floored at 2 % of the latency), so coefficients the devices agree on are held
firmly and the others loosely.

The shipped prior (``fitting/data/network-fit-prior.json``) is package data written by
``benchmarks/lodo_fit.py --write-prior``; it says what it was fitted on in its ``provenance``.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from importlib import resources

import numpy as np

from .._errors import ProfileError
from .._json import loads_finite, read_json_file
from .._messages import show

__all__ = ["Prior", "Reference", "load_prior", "parse_prior", "prior_target", "prior_references", "PRIOR_SCHEMA",
           "VARIANTS", "variant_key", "PROBE"]

PRIOR_SCHEMA = "edgeperf.network-prior/1"
#: Fit variants a reference holds coefficients for: (sibling merge, split memory terms).
VARIANTS = ((False, False), (False, True), (True, False), (True, True))
_COEFFICIENTS = 5   # per class, in _fit.COLUMNS order
_SHIPPED = "network-fit-prior.json"
#: Largest prior file read (the shipped one is about 116 kB).
_MAX_PRIOR_BYTES = 16 * 2**20
#: A layer whose fit features under two base profiles give the unit conversion between them.
PROBE = "zoo:layer:conv,cin=16,cout=32,hw=28,k=3,s=1"


def variant_key(merge: bool, split: bool) -> str:
    """``plain-one``, ``plain-split``, ``merged-one`` or ``merged-split``."""
    return f"{'merged' if merge else 'plain'}-{'split' if split else 'one'}"


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Reference:
    """One reference device: its fitted coefficients per runtime family and variant.

    ``fits[family][variant_key]`` maps an operator class to its five coefficients, in the units of
    the family's base profile (``Prior.families``).
    """

    device: str
    hardware: str
    title: str
    source: str
    networks: int
    fits: dict


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Prior:
    """Reference devices and the runtime families (base profile, precision, fusion rules) their fits used."""

    families: dict              # family -> {"base_profile", "precision", "mapping"}
    references: tuple[Reference, ...]
    provenance: dict = field(default_factory=dict)

    def without(self, hardware: str) -> "Prior":
        """The prior without the references of ``hardware`` (for leave-one-device-out)."""
        return Prior(families=self.families, references=tuple(r for r in self.references if r.hardware != hardware),
                     provenance=self.provenance)

    def family_for(self, mapping_document: dict) -> str | None:
        """The family whose fusion rules equal ``mapping_document``'s (sibling merging aside), or None."""
        wanted = _rules(mapping_document)
        for family, spec in self.families.items():
            if _rules(spec["mapping"]) == wanted:
                return family
        return None

    def aligned(self, family: str, merge: bool, split: bool, classes, units=None) -> list[tuple[str, np.ndarray]]:
        """Reference coefficient vectors in a design's column order (five per class).

        ``units`` (five factors, default 1) divides each coefficient column: a design column that is
        ``u`` times the family base's feature needs a coefficient ``1/u`` times as large. References
        lacking one of ``classes`` are left out.
        """
        units = np.ones(_COEFFICIENTS) if units is None else np.asarray(units, dtype=float)
        out = []
        for reference in self.references:
            fit = reference.fits.get(family, {}).get(variant_key(merge, split))
            if fit is None or any(c not in fit for c in classes):
                continue
            out.append((reference.device, np.concatenate([np.asarray(fit[c], dtype=float) / units for c in classes])))
        return out

    def to_document(self) -> dict:
        return {"schema": PRIOR_SCHEMA, "provenance": copy.deepcopy(self.provenance),
                "families": copy.deepcopy(self.families),
                "references": [{"device": r.device, "hardware": r.hardware, "title": r.title, "source": r.source,
                                "networks": r.networks, "fits": copy.deepcopy(r.fits)} for r in self.references]}


def _rules(mapping: dict) -> str:
    return json.dumps({k: v for k, v in mapping.items() if k != "merge_siblings"}, sort_keys=True)


def parse_prior(document, where: str = "prior") -> Prior:
    """Validate a prior document (see :meth:`Prior.to_document`).

    Raises
    ------
    ProfileError
        Naming the bad key and value.
    """
    def fail(path, message):
        raise ProfileError(f"{where}: {path} {message}")

    if not isinstance(document, dict) or document.get("schema") != PRIOR_SCHEMA:
        got = document.get("schema") if isinstance(document, dict) else document
        fail("schema", f"must be {PRIOR_SCHEMA!r}, got {show(got)}")
    families = document.get("families")
    if not isinstance(families, dict) or not families:
        fail("families", "must be a non-empty object")
    for name, spec in families.items():
        if (not isinstance(spec, dict) or not {"base_profile", "precision", "mapping", "probe_features"} <= set(spec)
                or not isinstance(spec["base_profile"], str) or not isinstance(spec["precision"], str)
                or not isinstance(spec["mapping"], dict)):
            fail(f"families.{name}", "must have base_profile and precision (names), mapping (an object) and "
                                     "probe_features")
        probe = spec["probe_features"]
        if (not isinstance(probe, list) or len(probe) != _COEFFICIENTS or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v) and v >= 0 for v in probe)):
            fail(f"families.{name}.probe_features", f"must be {_COEFFICIENTS} finite numbers >= 0 (the probe "
                                                    f"layer's design row on the base), got {show(probe)}")
    fitted_on = document.get("provenance")      # the prior's own record (not a profile's)
    if not isinstance(fitted_on, dict) or not fitted_on:
        fail("provenance", "must say what the prior was fitted on")
    references = []
    for i, item in enumerate(document.get("references") or fail("references", "must be a non-empty list")):
        base = f"references[{i}]"
        if not isinstance(item, dict) or not {"device", "hardware", "title", "source", "networks", "fits"} <= set(item):
            fail(base, "must have device, hardware, title, source, networks and fits")
        for family, variants in item["fits"].items():
            if family not in families:
                fail(f"{base}.fits.{family}", f"is not a family {sorted(families)}")
            if not isinstance(variants, dict):
                fail(f"{base}.fits.{family}", f"must be an object of variants, got {show(variants)}")
            for key, classes in variants.items():
                if key not in {variant_key(*v) for v in VARIANTS}:
                    fail(f"{base}.fits.{family}.{key}", "is not a variant (plain|merged)-(one|split)")
                if not isinstance(classes, dict):
                    fail(f"{base}.fits.{family}.{key}", f"must be an object of classes, got {show(classes)}")
                for op_class, values in classes.items():
                    if (not isinstance(values, list) or len(values) != _COEFFICIENTS
                            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v)
                                       and v >= 0 for v in values)):
                        fail(f"{base}.fits.{family}.{key}.{op_class}", f"must be {_COEFFICIENTS} finite numbers >= 0, "
                                                                       f"got {show(values)}")
        if isinstance(item["networks"], bool) or not isinstance(item["networks"], int) or item["networks"] < 1:
            fail(f"{base}.networks", f"must be a whole number of networks >= 1, got {show(item['networks'])}")
        if not isinstance(item["fits"], dict):
            fail(f"{base}.fits", f"must be an object of families, got {show(item['fits'])}")
        references.append(Reference(device=item["device"], hardware=item["hardware"], title=item["title"],
                                    source=item["source"], networks=int(item["networks"]), fits=item["fits"]))
    return Prior(families=families, references=tuple(references), provenance=fitted_on)


def load_prior(path=None) -> Prior:
    """The shipped prior, or the one at ``path``.

    Raises
    ------
    ProfileError
        For a missing, unreadable or invalid file.
    """
    if path is None:
        text = resources.files("edgeperf.fitting").joinpath("data", _SHIPPED).read_text(encoding="utf-8")
        where = f"shipped prior {_SHIPPED}"
        document = loads_finite(text, error=ProfileError, where=where)
    else:
        where = str(path)
        document = read_json_file(path, what="a prior", limit=_MAX_PRIOR_BYTES, error=ProfileError,
                                  hint="give a prior JSON file (benchmarks/lodo_fit.py --write-prior writes one)")
    return parse_prior(document, where)


def prior_target(x: np.ndarray, y: np.ndarray, offset: np.ndarray, references, rank: int = 2,
                 floor: float = 0.02) -> tuple[np.ndarray, np.ndarray] | None:
    """The low-rank empirical-Bayes target and per-coefficient pull for one design (see the module docstring).

    Parameters
    ----------
    x : numpy.ndarray, shape (networks, coefficients)
    y : numpy.ndarray
        Measured latencies (ms; transformed by the network term when one is being fitted).
    offset : numpy.ndarray
        Fixed part of each network's time (ms).
    references : list of (name, coefficients)
        From :meth:`Prior.aligned`.

    Returns
    -------
    (target, weights) or None
        Coefficients the fit is pulled toward and, per coefficient, the pull's weight in the
        solver's units (column-normalised coefficients); None with fewer than ``rank + 2`` usable
        references.
    """
    colmean = np.abs(x).mean(axis=0)
    ybar = float(np.mean(y))
    share = 1.0 - offset / y
    shapes = []
    for _, w in references:
        ratio = (x @ w) / y
        denominator = float(ratio @ ratio)
        factor = float(ratio @ share) / denominator if denominator > 0 else 0.0
        if factor > 0:
            shapes.append(factor * w * colmean / ybar)
    if len(shapes) < rank + 2:
        return None
    shapes = np.array(shapes)
    mean = shapes.mean(axis=0)
    directions = np.linalg.svd(shapes - mean, full_matrices=False)[2][:rank]
    per_share = np.where(colmean > 0, x / np.where(colmean > 0, colmean, 1.0), 0.0) * ybar / y[:, None]
    basis = np.column_stack([per_share @ mean, per_share @ directions.T])
    coords = np.linalg.lstsq(basis, share, rcond=None)[0]
    fitted = np.maximum(coords[0] * mean + coords[1:] @ directions, 0.0)
    spread = shapes - mean - (shapes - mean) @ directions.T @ directions
    sd = np.maximum(spread.std(axis=0), floor)
    target = np.where(colmean > 0, fitted * ybar / np.where(colmean > 0, colmean, 1.0), 0.0)
    return target, 1.0 / (ybar * sd)


def probe_features(base, precision: str) -> np.ndarray:
    """The fit's design row of :data:`PROBE` on ``base`` at ``precision``: the units of a design built on it."""
    from ._networks import network_features   # _networks imports this module
    from ._samples import NetworkSample

    return network_features((NetworkSample(model=PROBE, latency_ms=1.0),), base, precision).x[0]


def prior_references(prior: Prior, base, variants: list[dict]) -> tuple[dict | None, str | None]:
    """The prior's reference coefficients in the units of each fit variant's design, or (None, why not).

    The references were fitted with their family's base profile; a design built on ``base`` differs
    from it by a factor per column kind (peak throughput, bandwidth, bytes per element at the
    precision), measured on :data:`PROBE` (the family base's row is stored in the prior, so the
    conversion does not depend on what a shipped profile of that name says today). Only a ``base``
    with one of the prior's families' fusion rules can use it: the classes mean different layers
    under other rules.
    """
    family = prior.family_for(base.to_document()["mapping"])
    if family is None:
        return None, (f"{base.name}'s fusion rules ({base.mapping.runtime}) match none of the prior's families "
                      f"({', '.join(sorted(prior.families))})")
    here = probe_features(base, variants[0].precision)
    there = np.asarray(prior.families[family]["probe_features"], dtype=float)
    units = np.where(there > 0, here / np.where(there > 0, there, 1.0), 1.0)
    return {(v.merge, v.split): prior.aligned(family, v.merge, v.split, v.classes, units) for v in variants}, None
