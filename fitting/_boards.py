"""Fit every board profile from the published table, judge it held out, and make the profiles.

:func:`fit_boards` loads each published network on its board's runtime mapping, chooses the prior
strength by leave-one-network-out error, fits each chip with the prior learned from the other chips,
sizes the intervals from the held-out residuals (split conformal, pooled over all boards), derives the
boards without measurements here from their nearest fitted board (sizing their intervals from the same
derivation done between fitted boards), and returns the profiles (values) with what they rest on.
"""

from __future__ import annotations

import datetime as _dt
import math
from dataclasses import dataclass, replace

import numpy as np

from .._errors import InputError
from .._messages import show
from ..estimator import ParameterMemory, Uncertainty, conformal_half_width, load_model, map_graph
from ..profiles import Citation, Profile, Provenance
from ._board_profiles import BoardDescription, board_profile, runtime_profile
from ._board_prior import (
    STRENGTHS,
    HeldOut,
    Sample,
    board_params,
    fit_unit,
    learn_prior,
    leave_one_network_out,
    predict_sample,
    unit_parameters,
)
from ._board_model import COMBINE, PARAMETERS, board_features, log_prior
from ._published import PublishedRow
from ._board_specs import BLOCK_TABLES, DERIVED, EDGETPU_ON_CHIP_BYTES, FITTED, HOST_LINKS, BoardSpec, DerivedSpec

__all__ = ["BoardFit", "load_samples", "fit_boards", "metrics", "COVERAGE", "TRANSFERS", "derive_params",
           "leave_one_board_out"]

#: Coverage the intervals are built for.
COVERAGE = 0.9
#: Widening outside the fit (assumptions, stated in each profile): per unit of |log(size ratio)|, and
#: the factor by which unseen layer classes or precisions may be off (the datasheet profiles' typical
#: miss on the published table: geometric-mean predicted/measured 0.4, issue 16).
SIZE_SLOPE = 0.5
UNSEEN_FACTOR = 2.5

#: Derivations between fitted boards (target <- source), to measure what a derived profile is worth.
TRANSFERS = (("jetson-tx2", "jetson-nano"), ("jetson-nano", "jetson-tx2"),
             ("raspberry-pi-3", "raspberry-pi-4"), ("raspberry-pi-4", "raspberry-pi-3"),
             ("raspberry-pi-3bplus-ncnn", "raspberry-pi-4-ncnn"), ("raspberry-pi-4-ncnn", "raspberry-pi-3bplus-ncnn"),
             ("raspberry-pi-4", "raspberry-pi-4-ncnn"), ("raspberry-pi-4-ncnn", "raspberry-pi-4"),
             ("coral-usb", "coral-edgetpu"), ("coral-edgetpu", "coral-usb"))


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class BoardFit:
    """Everything :func:`fit_boards` decided and measured, and the profiles it made."""

    strength: float
    cv_by_strength: dict
    held_out: tuple[HeldOut, ...]
    strict_held_out: tuple[HeldOut, ...]
    params: dict                 # profile -> linear-scale coefficients
    fitted_names: dict           # profile -> the coefficients its data informed
    prior: dict                  # unit -> prior medians (linear) it was fitted with
    half_width: float
    transfer: tuple[tuple[str, str, PublishedRow, float], ...]
    transfer_half_width: float
    profiles: dict               # profile name -> Profile


def load_samples(rows, bases: dict, specs=FITTED + BLOCK_TABLES, mappings: dict | None = None) -> dict:
    """``{unit: [Sample, ...]}``: each row's network (or block) loaded at its size and mapped for its runtime.

    ``mappings`` (runtime name -> Mapping) replaces shipped runtime mappings, for judging alternatives.

    Raises
    ------
    InputError
        When a row's profile has no fit specification or no base profile.
    """
    by_profile = {spec.profile: spec for spec in specs}
    units: dict[str, list[Sample]] = {}
    profiles = {}
    graphs = {}
    for row in rows:
        spec = by_profile.get(row.profile)
        if spec is None or spec.base_profile not in bases:
            raise InputError(f"table line {row.line}: no fitted board profile {show(row.profile)} (known: "
                             f"{', '.join(sorted(by_profile))})")
        if row.profile not in profiles:
            profiles[row.profile] = runtime_profile(bases[spec.base_profile], spec.runtime)
            if mappings and spec.runtime in mappings:
                profiles[row.profile] = replace(profiles[row.profile], mapping=mappings[spec.runtime])
        profile = profiles[row.profile]
        key = (row.model, row.input_hw)
        if key not in graphs:
            graphs[key] = load_model(row.model, input_shapes=row.input_shapes)
        mapped = map_graph(graphs[key], profile.mapping)
        units.setdefault(spec.unit, []).append(
            Sample(row=row, spec=spec, features=board_features(mapped, profile, row.precision)))
    return units


def metrics(held) -> dict:
    """Median and max |error|, share within +-10 % and +-30 %, Spearman rho (None below 3 networks)."""
    from scipy.stats import spearmanr

    errors = np.array([h.error for h in held])
    measured = [h.row.latency_ms for h in held]
    predicted = [h.predicted_ms for h in held]
    rho = float(spearmanr(measured, predicted).correlation) if len(held) >= 3 else None
    return {"n": len(held), "median_abs_error": float(np.median(np.abs(errors))),
            "max_abs_error": float(np.max(np.abs(errors))), "within_10pct": float(np.mean(np.abs(errors) <= 0.10)),
            "within_30pct": float(np.mean(np.abs(errors) <= 0.30)), "spearman": rho}


def derive_params(source: dict, *, host_clock_ratio: float = 1.0, winograd: bool = True) -> dict:
    """A derived board's coefficients: the source's efficiencies; its host-side overheads scaled by the CPU clock ratio."""
    params = dict(source)
    params["layer_overhead_ms"] = source["layer_overhead_ms"] * host_clock_ratio
    params["inference_overhead_ms"] = source["inference_overhead_ms"] * host_clock_ratio
    if not winograd:
        params["winograd_scale"] = 1.0
    return params


def _host_ratio(target: Profile, source: Profile, target_spec: BoardSpec) -> float:
    """Host CPU speed ratio source/target for CPU runtimes (their datasheet fp32 peaks); 1 for accelerators."""
    if target_spec.runtime not in ("tflite", "ncnn", "armnn") or target_spec.link:
        return 1.0
    return source.precisions["fp32"] / target.precisions["fp32"]


def fit_boards(rows, bases: dict, *, strengths=STRENGTHS, strict: bool = True, progress=None) -> BoardFit:
    """Fit, judge and document every board profile (see the module docstring).

    Parameters
    ----------
    rows : sequence of PublishedRow
        The published table's rows, and the rows of any block table (``read_block_table``) to fit jointly.
    bases : dict
        Profile name -> the :class:`~edgeperf.profiles.Profile` whose datasheet facts (peaks, bandwidth,
        clocks, power) the fit keeps; every fitted and derived profile needs one.
    strengths : sequence of float
        Prior strengths tried; the lowest held-out median |error| wins (ties: the stronger prior).
    strict : bool
        Also run the strict leave-one-network-out (the network removed from every chip).
    progress : callable(str), optional
    """
    say = progress or (lambda message: None)
    units = load_samples(rows, bases)
    cv = {}
    for strength in strengths:
        say(f"leave-one-network-out at prior strength {strength:g}")
        cv[strength] = leave_one_network_out(units, strength)
    strength = min(strengths, key=lambda s: (round(metrics(cv[s])["median_abs_error"], 4), s))
    held = tuple(cv[strength])
    strict_held = tuple(leave_one_network_out(units, strength, strict=True)) if strict else ()
    half = conformal_half_width([h.log_residual for h in held], COVERAGE)

    params, informed, priors = {}, {}, {}
    for unit, samples in units.items():
        mu = learn_prior({u: s for u, s in units.items() if u != unit}, strength)
        fit = fit_unit(samples, mu, strength)
        priors[unit] = {name: math.exp(value) for name, value in mu.items()}
        for profile in sorted({s.spec.profile for s in samples}):
            params[profile] = board_params(fit, mu, profile)
            informed[profile] = [n.split("@")[0] for n in unit_parameters(samples)
                                 if "@" not in n or n.endswith("@" + profile)]

    precisions = {}
    for samples in units.values():
        for sample in samples:
            if not sample.spec.blocks:
                precisions.setdefault(sample.spec.profile, set()).add(sample.row.precision)
    global_prior = {name: math.exp(v) for name, v in learn_prior(units, strength).items()}
    say("derivations between fitted boards")
    transfer = _transfers(units, bases, params)
    transfer_half = conformal_half_width([math.log(r.latency_ms / p) for *_, r, p in transfer], COVERAGE)
    profiles = {}
    for spec in FITTED:
        if spec.profile in params:
            profiles[spec.profile] = _fitted(spec, units, params, informed, priors, held, strict_held, half,
                                             strength, cv, bases)
    for spec in DERIVED:
        if spec.source in params and spec.profile in bases:
            profiles[spec.profile] = _derived(spec, params, priors, transfer, transfer_half, bases, precisions,
                                              global_prior)
    return BoardFit(strength=strength, cv_by_strength={s: metrics(h) for s, h in cv.items()}, held_out=held,
                    strict_held_out=strict_held, params=params, fitted_names=informed, prior=priors,
                    half_width=half, transfer=tuple(transfer), transfer_half_width=transfer_half, profiles=profiles)


def _transfers(units: dict, bases: dict, params: dict, combine: str = COMBINE) -> list:
    """``(target, source, row, predicted_ms)`` for every published row of each TRANSFERS target, predicted from
    its source board's coefficients as a derived profile would be (same chip: only the host-side terms)."""
    by_profile = {spec.profile: spec for spec in FITTED}
    unit_of = {s.spec.profile: unit for unit, samples in units.items() for s in samples}
    out = []
    for target, source in TRANSFERS:
        if target not in params or source not in params:
            continue
        spec = by_profile[target]
        ratio = _host_ratio(bases[target], bases[source], spec)
        derived = derive_params(params[source], host_clock_ratio=ratio)
        if unit_of[target] == unit_of[source]:   # same chip: only the host-side terms can transfer
            derived = {**params[target], "inference_overhead_ms": derived["inference_overhead_ms"],
                       "stream_efficiency": derived["stream_efficiency"]}
        for sample in units[unit_of[target]]:
            if sample.spec.profile == target:
                out.append((target, source, sample.row, predict_sample(derived, sample, combine)))
    return out


def leave_one_board_out(units: dict, bases: dict, strength: float, *, winograd: bool = True, combine: str = COMBINE,
                        shared_prior: bool = True) -> list[HeldOut]:
    """Each TRANSFERS target board predicted with no data of its own: from its source board's coefficients
    (fitted with the prior learned from the other chips), as a derived profile is made.

    The options are :func:`~edgeperf.fitting.leave_one_network_out`'s.
    """
    params = {}
    for unit, samples in units.items():
        others = {u: ss for u, ss in units.items() if u != unit}
        mu = learn_prior(others, strength, winograd=winograd, combine=combine) if shared_prior else log_prior()
        fit = fit_unit(samples, mu, strength, winograd=winograd, combine=combine)
        for profile in {s.spec.profile for s in samples}:
            params[profile] = board_params(fit, mu, profile, winograd=winograd)
    return [HeldOut(row=row, predicted_ms=ms) for *_, row, ms in _transfers(units, bases, params, combine)]


def _per_board(held, profile: str) -> dict:
    return metrics([h for h in held if h.row.profile == profile])


def _coefficients(params: dict, informed: list, prior: dict, rows: list, key: str, also: str = "") -> dict:
    networks = ", ".join(f"{r.network} @{r.input_hw} {r.precision}" for r in rows) + also
    out = {}
    for name, value in params.items():
        if (name == "stream_efficiency" and name not in informed) or name == "runtime_factor":
            continue
        out[name] = {"value": value, "source": key, "prior_median": prior[name], "meaning": PARAMETERS[name].meaning,
                     "determined_by": f"MAP fit to {networks}" if name in informed
                     else "the prior learned across the other chips (no network here informs it)"}
    return out


_WIDENING = {"interval-widening": (
    "Assumptions of edgeperf's interval widening (estimator/_intervals.py): the interval's log half-width grows "
    f"by {SIZE_SLOPE} per unit of |log(input size / nearest fitted size)| (the -nb201 fits, made at 32x32, were "
    "2-12x off at 224x224: a log ratio of 0.7-2.5 over log(7) = 1.9), and layer classes or precisions the fit "
    f"never saw may be off by a factor {UNSEEN_FACTOR} (the datasheet profiles' geometric-mean miss on the "
    "published table, issue 16).")}


def _uncertainty(half: float, residuals: int, method: str, precisions, input_hw=None, classes=()) -> Uncertainty:
    return Uncertainty(coverage=COVERAGE, half_width=half, residuals=residuals, method=method,
                       fitted_precisions=tuple(sorted(precisions)), fitted_input_hw=input_hw,
                       fitted_classes=tuple(sorted(classes)), size_slope=SIZE_SLOPE, unseen_factor=UNSEEN_FACTOR)


def _parameter_memory(spec: BoardSpec, p: dict, key: str):
    """The Edge TPU's parameter memory and its citations (None for boards without a host link)."""
    if not spec.link:
        return None
    rate, why = HOST_LINKS[spec.link]
    memory = ParameterMemory(on_chip_bytes=EDGETPU_ON_CHIP_BYTES, stream_gbps=rate * p["stream_efficiency"])
    return memory, {
        ("parameter_memory", "on_chip_bytes"): Citation(
            source="edgetpu-fusion", note="Coral documentation: roughly 8 MB of on-chip SRAM caches parameters"),
        ("parameter_memory", "stream_gbps"): Citation(
            source=key, note=f"host link {rate:g} GB/s ({why}) x fitted stream_efficiency {p['stream_efficiency']:.3g}")}


def _energy_text(base: Profile) -> str:
    """What a board profile's quality says about its energy when its base has an operating model ('' otherwise)."""
    model = getattr(base, "operating", None)
    if model is None:
        return ""
    return (f" Energy and the clocks' effect: operating model {model.name} (data/operating/boards.json: rail powers, "
            "voltage against clock, CPU-side kernel launches and pre/post-processing, GPU occupancy against batch; "
            "edgeperf profiles show lists which numbers are assumptions). At the reference clocks and batch 1 an estimate "
            "is the board model's latency (its fitted overheads hold the CPU-side work there); the operating model adds "
            "only how the CPU, GPU and memory clocks and the batch change it.")


def _fitted_texts(spec: BoardSpec, rows: list, siblings: list, tables: list, board: dict, half: float,
                  strength: float):
    """The source text and the quality text of a fitted board profile."""
    sources = sorted({r.source.split(" ")[0] for r in rows})
    blocks = "".join(f" and {n} measured blocks of {t.about} (runtime factor and harness overhead of their own)"
                     for t, n in tables)
    source_text = (f"edgeperf board fit ({_dt.date.today().isoformat()}, benchmarks/board_profiles.py): maximum a "
                   f"posteriori coefficients of the board model (edgeperf.fitting.fit_boards) fitted to {len(rows)} "
                   f"published batch-1 latencies of this board and runtime ({'; '.join(sources)})"
                   + (f" together with {', '.join(siblings)} (same chip: shared efficiencies and per-layer overhead)"
                      if siblings else "") + blocks
                   + f", with a prior learned across the other chips of that table (prior strength {strength:g}, "
                     f"chosen by leave-one-network-out error)")
    within = f"{100 * board['within_30pct']:.0f} % within +-30 %"
    rho = f", Spearman {board['spearman']:.2f}" if board["spearman"] is not None else ""
    quality = (f"Fitted to {len(rows)} published networks of this board and runtime "
               f"({', '.join(sorted({r.network for r in rows}))}) at their deployed sizes "
               f"({min(r.input_hw for r in rows)}-{max(r.input_hw for r in rows)} px)"
               + "".join(f", {n} measured blocks of the same chip ({t.about})" for t, n in tables)
               + f", with a prior learned across the other boards. Leave-one-network-out: median |error| "
               f"{100 * board['median_abs_error']:.1f} %, "
               f"worst {100 * board['max_abs_error']:.1f} %, {within}{rho}. Every estimate carries a "
               f"{100 * COVERAGE:.0f} % interval from the held-out residuals of all fitted boards "
               f"(x{math.exp(-half):.2f} to x{math.exp(half):.2f}), widened outside the fitted sizes, layer classes "
               f"and precisions ({', '.join(sorted({r.precision for r in rows}))}). docs/accuracy.md has the figures.")
    return source_text, quality


def _fitted(spec, units, params, informed, priors, held, strict_held, half, strength, cv, bases) -> Profile:
    samples = units[spec.unit]
    rows = [s.row for s in samples if s.spec.profile == spec.profile]
    board = _per_board(held, spec.profile)
    p = params[spec.profile]
    key = f"fit-{spec.profile}"
    siblings = sorted({s.spec.profile for s in samples if not s.spec.blocks} - {spec.profile})
    tables = [(t, sum(s.spec is t for s in samples)) for t in BLOCK_TABLES if any(s.spec is t for s in samples)]
    source_text, quality = _fitted_texts(spec, rows, siblings, tables, board, half, strength)
    classes = {c for s in samples for c in s.features.op_classes}
    hw = (min(r.input_hw for r in rows), max(r.input_hw for r in rows))
    uncertainty = _uncertainty(half, len(held), "split conformal on the leave-one-network-out log residuals of every "
                               "fitted board (pooled)", {r.precision for r in rows}, hw, classes)
    provenance = Provenance(
        fitted_on=f"{len(rows)} published batch-1 latencies of this board and runtime (published_rows: each with its "
                  "source)",
        n_networks=len(rows), date=_dt.date.today().isoformat(), fitted_input_hw_max=hw[1],
    ).with_details(
        method="board model (edgeperf.fitting.fit_boards): compute plus memory time per executed layer (step_linear layer models) with a per-layer overhead, a "
               "per-inference overhead, Winograd work scale where the runtime uses it, parameter streaming where "
               "the accelerator caches parameters on chip",
        published_rows=[{"network": r.network, "model": r.model, "input": r.input_hw, "precision": r.precision,
                         "latency_ms": r.latency_ms, "source": r.source, "zoo_network_differs": r.note} for r in rows],
        coefficients=_coefficients(p, informed[spec.profile], priors[spec.unit], rows, key, "".join(
            f" and {n} blocks of {t.profile}" for t, n in tables)),
        prior={"learned_from": "the other chips of the published table", "strength": strength,
               "cv_median_abs_error_by_strength": {f"{s:g}": metrics(h)["median_abs_error"] for s, h in cv.items()}},
        leave_one_network_out={**board, "rows": [
            {"network": h.row.network, "input": h.row.input_hw, "precision": h.row.precision,
             "measured_ms": h.row.latency_ms, "predicted_ms": h.predicted_ms}
            for h in held if h.row.profile == spec.profile]},
        strict_leave_one_network_out=_per_board(strict_held, spec.profile) if strict_held else None,
        **_block_details(tables, params))
    base = bases[spec.profile]
    about = BoardDescription(name=spec.profile, runtime=spec.runtime, kind="fitted", key=key, source_text=source_text,
                             quality=quality + _energy_text(base), provenance=provenance, uncertainty=uncertainty, extra_sources=_WIDENING,
                             coefficient_note="board-model fit, see provenance.coefficients")
    return board_profile(base, p, about, int8_ratio=p.get("int8_ratio") if "int8" in base.precisions else None,
                         parameter_memory=_parameter_memory(spec, p, key))


def _block_details(tables: list, params: dict) -> dict:
    """Provenance of the block tables fitted jointly with a chip (none: no key)."""
    if not tables:
        return {}
    return {"block_tables": [
        {"table": t.profile, "about": t.about, "source": "HW-NAS-Bench FBNet per-block lookup table (Li et al., ICLR "
         f"2021, RICE-EIC/HW-NAS-Bench, MIT), column {t.column}", "blocks": n, "runtime_factor": params[t.profile]["runtime_factor"],
         "harness_overhead_ms": params[t.profile]["inference_overhead_ms"],
         "how": "fitted jointly with this chip's published networks: the blocks share the chip's coefficients; "
                "their layer sum is multiplied by the runtime factor and their harness pays its own overhead"}
        for t, n in tables]}


def _derived_params(spec: DerivedSpec, params: dict, priors: dict, global_prior: dict) -> dict:
    source_spec = next(s for s in FITTED if s.profile == spec.source)
    has_winograd = spec.runtime in ("tensorrt", "ncnn", "armnn")
    p = derive_params(params[spec.source], host_clock_ratio=spec.host_clock_ratio, winograd=has_winograd)
    if has_winograd and source_spec.runtime not in ("tensorrt", "ncnn", "armnn"):
        p["winograd_scale"] = priors[source_spec.unit]["winograd_scale"]
    if spec.keep_layer_models:
        # per-layer overhead of an unmeasured accelerator: the median learned across every fitted chip
        p["layer_overhead_ms"] = global_prior["layer_overhead_ms"]
    return p


def _derived(spec: DerivedSpec, params, priors, transfer, transfer_half, bases, precisions,
             global_prior: dict) -> Profile:
    p = _derived_params(spec, params, priors, global_prior)
    key = f"derived-{spec.profile}"
    base = bases[spec.profile]
    # the precisions the derivation check covers: the source's fitted ones; a kept per-class throughput
    # (ANNETTE's NCS2 fit) was measured at the board's default precision
    fitted_precisions = ([base.default_precision] if spec.keep_layer_models
                         else sorted(q for q in precisions[spec.source] if q in base.precisions))
    pairs = sorted({(t, s) for t, s, *_ in transfer})
    errors = [p_ / r.latency_ms - 1 for *_, r, p_ in transfer]
    source_text = (f"edgeperf board derivation ({_dt.date.today().isoformat()}, benchmarks/board_profiles.py): the "
                   f"coefficients of the fitted {spec.source} profile ({spec.reason}), this board's datasheet peaks and "
                   f"bandwidth, its runtime's mapping; per-layer and per-inference overheads x {spec.host_clock_ratio:.3g} "
                   f"(host CPU clock ratio). No published whole-network latency of this board was fitted.")
    quality = (f"Derived, not fitted: no published whole-network latency of this board was available to fit. It takes "
               f"the coefficients of {spec.source} ({spec.reason}) with this board's datasheet facts. The same "
               f"derivation done between fitted boards ({len(pairs)} pairs, {len(transfer)} networks) missed by a median "
               f"of {100 * float(np.median(np.abs(errors))):.0f} % (worst {100 * float(np.max(np.abs(errors))):.0f} %), "
               f"so every estimate carries a {100 * COVERAGE:.0f} % interval of x{math.exp(-transfer_half):.2f} to "
               f"x{math.exp(transfer_half):.2f}; trust rankings more than milliseconds.")
    uncertainty = _uncertainty(transfer_half, len(transfer), "split conformal on the log residuals of derivations "
                               f"between fitted boards ({', '.join(f'{t} from {s}' for t, s in pairs)})",
                               fitted_precisions)
    coefficients = {n: {"value": v, "source": key, "from": (
        "the prior learned across every fitted chip" if spec.keep_layer_models and n == "layer_overhead_ms"
        else f"{spec.source}") + (f" x host_clock_ratio {spec.host_clock_ratio:.3g}"
                                  if n in ("layer_overhead_ms", "inference_overhead_ms") else "")}
        for n, v in p.items() if n != "stream_efficiency" and (not spec.keep_layer_models or n.endswith("overhead_ms"))}
    provenance = Provenance(date=_dt.date.today().isoformat()).with_details(
        derived_from=spec.source, reason=spec.reason, host_clock_ratio=spec.host_clock_ratio,
        coefficients=coefficients,
        transfer_check={"pairs": [f"{t} <- {s}" for t, s in pairs], "median_abs_error": float(np.median(np.abs(errors))),
                        "max_abs_error": float(np.max(np.abs(errors)))})
    about = BoardDescription(name=spec.profile, runtime=spec.runtime, kind="derived", key=key, source_text=source_text,
                             quality=quality + _energy_text(base), provenance=provenance, uncertainty=uncertainty, extra_sources=_WIDENING,
                             coefficient_note=f"derived from {spec.source}, see provenance.coefficients",
                             keep_layer_models=spec.keep_layer_models)
    return board_profile(base, p, about, int8_ratio=p.get("int8_ratio") if "int8" in base.precisions else None,
                         parameter_memory=None)
