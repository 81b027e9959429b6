"""The cross-validated choices of a network fit beyond the per-class coefficients: network term and prior.

``_networks`` builds one design matrix per fit variant (sibling merge, memory terms) and
:func:`choose_network_model` decides, by the same k-fold cross-validation (same folds, same
relative-error solver):

1. per variant, the ridge strength, and the variant with the lowest error (ties: less structure);
   without a network term and a prior this is exactly what ``edgeperf fit`` chose before them;
2. the network term (``estimator._network_term``), of either form: a power law ``T = R (A / R) ** gamma``
   on the additive total ``A``, fitted by transforming the measured times to ``R (y / R) ** (1 / gamma)``
   (``R`` their geometric mean), fitting the linear model to those, and mapping predictions back,
   gamma from :data:`GAMMAS`; or the critical path ``T = (1 - p) A + p (C + F)``, fitted as a
   linear model of each network's layer sum and longest path (``_critical_fit``: the path chosen at
   the plain fit's coefficients, predictions with the true longest path), ``p`` from
   :data:`PARALLELS`. The candidate of either form with the lowest cross-validated error is kept
   only when its per-network errors beat the best fit without a term by more than one standard
   error of the paired difference (the one-standard-error rule: a term whose gain is within the
   noise of a few networks is left out);
3. the prior (``_prior``): the same fits pulled toward the low-rank target with strengths
   :data:`PRIOR_STRENGTHS`, kept when that lowers the cross-validated error; the target is rebuilt
   from each fold's training networks only;
4. per-signature residuals (``_signature_fit``): one additive correction per exact layer signature,
   fitted together with the chosen configuration's coefficients, ridge strength by the same folds,
   kept by the same one-standard-error rule as the network term.

Every choice is recorded with the cross-validated errors that made it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..estimator import NetworkTerm, network_scale
from ._critical_fit import longest_paths, path_rows
from ._prior import prior_target
from ._signature_fit import choose_residuals, residual_penalty, with_residuals

__all__ = ["NetworkChoice", "choose_network_model", "GAMMAS", "PARALLELS", "PRIOR_STRENGTHS", "TERM_FORMS"]

#: Exponents of the power-law network term tried besides 1 (no term).
GAMMAS = (0.8, 0.9, 1.1, 1.2, 1.3)
#: Parallel shares of the critical-path network term tried besides 0 (no term): quarters of [0, 1].
PARALLELS = (0.25, 0.5, 0.75, 1.0)
#: Ridge of the plain fit that chooses the paths when a prior's pull replaces the ridge (the grid's middle).
_PATH_RIDGE = 1e-4
#: Network-term forms a fit tries by default.
TERM_FORMS = ("power_law", "critical_path")
#: Strengths of the pull toward the prior's target tried (in units of the squared relative error).
PRIOR_STRENGTHS = (0.01, 0.1, 1.0, 10.0, 100.0)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class NetworkChoice:
    """The chosen fit: variant, coefficients, ridge, network term, and the records of each choice."""

    variant: object                 # the chosen fit variant
    w: np.ndarray
    ridge: float                    # ridge strength toward zero (0 when the prior's pull replaced it)
    strength: float | None          # strength of the pull toward the prior's target, None without
    term: NetworkTerm | None
    predicted_cv: np.ndarray        # cross-validated prediction per training network (ms)
    term_record: dict | None
    prior_record: dict | None
    residual_ms: dict | None = None      # signature -> fitted residual (ms), when kept (``_signature_fit``)
    residual_strength: float | None = None
    signature_record: dict | None = None

    def predict(self, x: np.ndarray, offset: np.ndarray, layers=None) -> np.ndarray:
        """Latency (ms) of networks with design ``x`` (this variant's columns) and fixed parts ``offset``.

        ``layers`` (``_critical_fit.NetworkLayers`` of the same networks) is needed for a critical-path
        term and for per-signature residuals (a signature the fit did not keep gets none).
        """
        additive = self.additive(x, offset, layers)
        return additive * _factor(additive, offset, self.term, layers, getattr(self.variant, "columns", None), self.w,
                                  self._aligned(layers))

    def additive(self, x: np.ndarray, offset: np.ndarray, layers=None) -> np.ndarray:
        """Each network's layer sum plus fixed parts (ms), with the per-signature residuals if kept."""
        aligned = self._aligned(layers)
        additive = x @ self.w + offset
        return additive if aligned is None else with_residuals(additive, layers.signature_counts() @ aligned)

    def factor(self, x: np.ndarray, offset: np.ndarray, layers=None) -> np.ndarray:
        """The network term's factor ``T / A`` for each network (1 without a term)."""
        return _factor(self.additive(x, offset, layers), offset, self.term, layers,
                       getattr(self.variant, "columns", None), self.w, self._aligned(layers))

    def _aligned(self, layers):
        """The kept residuals as an array over ``layers.signature_names`` (None without residuals)."""
        if not self.residual_ms:
            return None
        if layers is None or not layers.signatures:
            raise ValueError("per-signature residuals need the networks' layers with their signatures")
        return np.array([self.residual_ms.get(name, 0.0) for name in layers.signature_names])


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class _Config:
    variant: object
    gamma: float
    strength: float | None      # prior strength (None: ridge toward zero)
    ridge: float
    predicted: np.ndarray
    parallel: float = 0.0       # critical-path term's parallel share (0: none)

    def error(self, y):
        return np.abs(self.predicted - y) / y

    def mape(self, y) -> float:
        return float(self.error(y).mean())


def _factor(additive, offset, term, layers, columns, w, residual_ms=None):
    """``T / A`` of networks with additive totals ``additive`` under ``term`` (critical path: from their layers,
    each with its signature's residual ``residual_ms``, one per ``layers.signature_names``, if given)."""
    if term is None or term.form != "critical_path":
        return network_scale(additive, term)
    if layers is None or columns is None:
        raise ValueError("a critical-path network term needs the networks' layers")
    timed = (1.0 - term.parallel) * additive + term.parallel * (longest_paths(layers, columns @ w, residual_ms) + offset)
    return np.divide(timed, additive, out=np.ones_like(additive), where=additive > 0)


class _Fitter:
    """One variant's design with everything a fit of it needs, for any term, ridge and prior strength."""

    def __init__(self, variant, y: np.ndarray, solve, references):
        self.variant, self.y, self.solve = variant, y, solve
        self.x = variant.x
        self.offset = variant.offsets.sum(axis=1)
        self.references = references
        self.layers = getattr(variant, "layers", None)
        self.columns = getattr(variant, "columns", None)
        self.counts = self.layers.signature_counts() if self.layers is not None and self.layers.signatures else None
        self._paths: dict = {}

    @property
    def has_paths(self) -> bool:
        return self.layers is not None and self.columns is not None

    def _path_design(self, rows, ridge: float, parallel: float, w=None) -> np.ndarray:
        """``(1 - p) x + p x_path`` on ``rows``, each network's path chosen at ``w`` (default: the plain fit's)."""
        if w is None:
            key = (rows.tobytes(), ridge)
            if key not in self._paths:
                plain = self.solve(self.x[rows], self.y[rows], ridge, self.offset[rows])
                self._paths[key] = path_rows(self.layers.take(rows), self.columns @ plain) @ self.columns
            along = self._paths[key]
        else:
            along = path_rows(self.layers.take(rows), self.columns @ w) @ self.columns
        return (1.0 - parallel) * self.x[rows] + parallel * along

    def fit(self, rows, gamma: float, ridge: float, strength: float | None, parallel: float = 0.0,
            refine: bool = False, free=None):
        """Coefficients and term fitted on ``rows``; None when the prior cannot be built there.

        ``refine``: for a critical-path term, choose the paths again at the solved coefficients and solve again;
        ``free``: ``(counts, penalty)`` of per-signature residuals fitted with the coefficients (``_signature_fit``,
        over all networks); then the residuals come fourth in the returned tuple.
        """
        y = self.y[rows]
        if parallel:
            term = NetworkTerm(form="critical_path", parallel=parallel)
            x, target_ms = self._path_design(rows, ridge if strength is None else _PATH_RIDGE, parallel), y
        else:
            reference_ms = float(np.exp(np.mean(np.log(y))))
            target_ms = y if gamma == 1.0 else reference_ms * (y / reference_ms) ** (1.0 / gamma)
            term = None if gamma == 1.0 else NetworkTerm(gamma=gamma, reference_ms=reference_ms,
                                                         lower_ms=float(target_ms.min()),
                                                         upper_ms=float(target_ms.max()))
            x = self.x[rows]
        offset = self.offset[rows]
        extra = {} if free is None else {"free": (free[0][rows], free[1])}
        for again in range(2 if parallel and refine else 1):
            if again:
                x = self._path_design(rows, ridge, parallel, w=solved[0])
            if strength is None:
                found, pulled = self.solve(x, target_ms, ridge, offset, **extra), (None,)
            else:
                pulled = prior_target(x, target_ms, offset, self.references)
                if pulled is None:
                    return None
                found = self.solve(x, target_ms, strength, offset, target=pulled[0], weights=pulled[1], **extra)
            solved = (found, term, pulled[0]) if free is None else (found[0], term, pulled[0], found[1])
        return solved

    def cross_validate(self, gamma, ridge, strength, folds, seed, parallel: float = 0.0) -> np.ndarray | None:
        predicted = np.empty(len(self.y))
        order = np.random.default_rng(seed).permutation(len(self.y))
        for fold in range(folds):
            test = order[fold::folds]
            fitted = self.fit(np.setdiff1d(order, test), gamma, ridge, strength, parallel)
            if fitted is None:
                return None
            additive = self.x[test] @ fitted[0] + self.offset[test]
            layers = self.layers.take(test) if parallel else None
            predicted[test] = additive * _factor(additive, self.offset[test], fitted[1], layers, self.columns,
                                                 fitted[0])
        return predicted


def _with_prior(fitters, chosen, references: dict, folds: int, seed: int, simplest, y):
    """The chosen configuration, pulled toward the prior where that cross-validates better, and the record of it."""
    prior_record = None
    if any(references.values()):
        pulled = []
        for fitter in fitters:
            if not fitter.references:
                continue
            for strength in PRIOR_STRENGTHS:
                if chosen.parallel and not fitter.has_paths:
                    continue
                predicted = fitter.cross_validate(chosen.gamma, 0.0, strength, folds, seed, chosen.parallel)
                if predicted is not None:
                    pulled.append(_Config(variant=fitter.variant, gamma=chosen.gamma, strength=strength, ridge=0.0,
                                          predicted=predicted, parallel=chosen.parallel))
        if pulled:
            candidate = simplest(pulled)
            used = next(f for f in fitters if f.variant is candidate.variant)
            prior_record = {"chosen": candidate.mape(y) < chosen.mape(y), "strength": candidate.strength,
                            "references": len(used.references), "cv_mape_without": chosen.mape(y),
                            "cv_mape_with": candidate.mape(y)}
            if prior_record["chosen"]:
                chosen = candidate
        else:
            prior_record = {"chosen": False, "references": max(len(f.references) for f in fitters),
                            "reason": "fewer than 4 references cover this fit's classes"}
    return chosen, prior_record


def choose_network_model(variants: list[dict], y: np.ndarray, *, folds: int, seed: int, solve, ridge_grid,
                         network_term: bool | None = False, references: dict | None = None,
                         forms: tuple = TERM_FORMS, signature_residuals: bool | None = False) -> NetworkChoice:
    """Choose variant, ridge, network term and prior strength by cross-validation (see the module docstring).

    Parameters
    ----------
    variants : list
        Fit variants (``_networks._Variant`` or alike), each with ``x`` (design), ``offsets`` (fixed
        work per network and class), ``merge`` and ``split`` (bools), and for the critical-path term
        ``layers`` (``_critical_fit.NetworkLayers``) and ``columns`` (the raw design's map to ``x``).
    y : numpy.ndarray
        Measured latencies (ms).
    solve : callable
        ``solve(x, y, ridge, offset, target=None, weights=None)``: the relative-error NNLS of ``_networks``.
    ridge_grid : tuple of float
    network_term : bool or None
        False: no term; True: the best term; None: kept by the one-standard-error rule.
    references : dict, optional
        ``(merge, split) -> [(name, coefficients)]`` in each variant's design units; None: no prior.
    forms : tuple of str
        Network-term forms tried (:data:`TERM_FORMS`); the critical path only on variants with layers.
    signature_residuals : bool or None
        Per-signature residuals (``_signature_fit``), on variants whose layers carry signatures:
        False none, True with the best strength, None kept by the one-standard-error rule.

    Returns
    -------
    NetworkChoice
    """
    references = references or {}
    fitters = [_Fitter(v, y, solve, references.get((v.merge, v.split), [])) for v in variants]
    gammas = (1.0,) if network_term is False else ((1.0,) + GAMMAS if network_term is None else GAMMAS)

    def best_ridge(fitter, gamma, parallel=0.0) -> _Config:
        configs = [_Config(variant=fitter.variant, gamma=gamma, strength=None, ridge=ridge, parallel=parallel,
                           predicted=fitter.cross_validate(gamma, ridge, None, folds, seed, parallel))
                   for ridge in ridge_grid]
        return min(configs, key=lambda c: c.mape(y))   # the first (weakest) ridge on a tie, as before

    def simplest(configs):
        return min(configs, key=lambda c: (c.mape(y), c.variant.merge + c.variant.split))

    plain = simplest([best_ridge(f, 1.0) for f in fitters]) if 1.0 in gammas else None
    chosen, term_record = plain, None
    if network_term is not False:
        chosen, term_record = _with_term(fitters, plain, gammas, forms, network_term, y, best_ridge, simplest)
    chosen, prior_record = _with_prior(fitters, chosen, references, folds, seed, simplest, y)
    fitter = next(f for f in fitters if f.variant is chosen.variant)
    kept, signature_record = None, None
    if signature_residuals is not False and fitter.counts is not None:
        kept, signature_record = choose_residuals(fitter, chosen, y, folds, seed, signature_residuals,
                                                  _beats_by_one_se, _factor)
    rows = np.arange(len(y))
    w, term, target, residual_ms = _fit_all(fitter, chosen, kept, rows)
    if chosen.strength is not None:
        # the same variant and term fitted on the data alone: how far did the prior move the coefficients?
        free = best_ridge(fitter, chosen.gamma, chosen.parallel)
        prior_record["lean"] = _lean(w, fitter.fit(rows, chosen.gamma, free.ridge, None, chosen.parallel,
                                                   refine=True)[0], target, fitter.x)
    return NetworkChoice(variant=chosen.variant, w=w, ridge=chosen.ridge, strength=chosen.strength, term=term,
                         predicted_cv=chosen.predicted if kept is None else kept[1], term_record=term_record,
                         prior_record=prior_record,
                         residual_ms=residual_ms, residual_strength=kept[0] if kept else None,
                         signature_record=signature_record)


def _fit_all(fitter, chosen, kept, rows):
    """The chosen configuration fitted on ``rows`` (all networks), with the per-signature residuals ``kept``
    (``(strength, cross-validated predictions)``) or without: ``(w, term, prior target, signature -> ms or None)``."""
    if kept is None:
        return (*fitter.fit(rows, chosen.gamma, chosen.ridge, chosen.strength, chosen.parallel, refine=True), None)
    w, term, target, values = fitter.fit(rows, chosen.gamma, chosen.ridge, chosen.strength, chosen.parallel,
                                         refine=True, free=residual_penalty(fitter, rows, kept[0]))
    return w, term, target, {name: float(v) for name, v in zip(fitter.layers.signature_names, values) if v != 0.0}


def _with_term(fitters, plain, gammas, forms, network_term, y, best_ridge, simplest):
    """The best network term of each form tried, and whether it is kept over ``plain``; (chosen, record)."""
    candidates = {}
    if "power_law" in forms:
        candidates["power_law"] = simplest([best_ridge(f, g) for f in fitters for g in gammas if g != 1.0])
    if "critical_path" in forms and any(f.has_paths for f in fitters):
        candidates["critical_path"] = simplest([best_ridge(f, 1.0, p) for f in fitters if f.has_paths
                                                for p in PARALLELS])
    form, bent = min(candidates.items(), key=lambda item: item[1].mape(y))
    keep = network_term is True or _beats_by_one_se(plain.error(y), bent.error(y))
    record = {"chosen": keep, "form": form, "gamma": bent.gamma, "parallel": bent.parallel,
              "rule": "forced" if network_term is True else "one standard error of the paired cross-validated difference",
              "cv_mape_without": plain.mape(y) if plain else None, "cv_mape_with": bent.mape(y),
              "cv_mape": {name: c.mape(y) for name, c in candidates.items()}}
    return (bent if keep else plain), record


def _beats_by_one_se(errors: np.ndarray, candidate: np.ndarray) -> bool:
    """True when ``candidate``'s errors are lower by more than one standard error of the paired difference."""
    difference = errors - candidate
    if len(difference) < 3:
        return False
    se = float(difference.std(ddof=1)) / math.sqrt(len(difference))
    return float(difference.mean()) > se


def _lean(w: np.ndarray, data_only: np.ndarray, target: np.ndarray, x: np.ndarray) -> float:
    """How far the fit moved from the data-only coefficients toward the prior's target, 0 to 1.

    The projection of the move onto the line from the data-only fit to the target, in
    column-normalised units (each coefficient times its column's mean feature), so that every
    coefficient counts by the time it explains.
    """
    scale = np.abs(x).mean(axis=0)
    gap = float(np.linalg.norm((target - data_only) * scale))
    if gap == 0.0:
        return 0.0
    moved = float(np.dot((w - data_only) * scale, (target - data_only) * scale)) / gap ** 2
    return float(min(max(moved, 0.0), 1.0))
