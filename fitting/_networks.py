"""Fit a profile's layer models to whole-network measurements.

Every executed layer of class c is modelled in the ``step_linear`` form,
``t = overhead_c + compute_scale_c * flops / peak + memory_scale_c * bytes / bandwidth``,
so a network's latency is linear in the coefficients:
``T = sum_c (overhead_c * n_c + compute_scale_c * C_c + memory_scale_c * M_c)``, with ``n_c`` the
number of executed layers of class c and ``C_c``, ``M_c`` their roofline compute and memory times
at the base profile's peaks. The fit minimises the squared *relative* error over the training
networks with coefficients bounded by the schema (0 up to each parameter's maximum, as constraints
of a bounded-variable least-squares solver on an augmented system) and a ridge penalty on scaled
coefficients; the ridge strength is chosen by k-fold cross-validation, whose held-out error is
reported and stored in the profile. Classes absent from the training networks keep the base
profile's model, and so do classes the measurements cannot identify (a coefficient driven to the
schema's maximum); the profile says so.

Three choices are made from the data, each by the same cross-validation: whether convolutions
sharing their input run as one kernel (``merge_siblings``, horizontal fusion), whether weights and
written outputs get memory coefficients of their own (``memory_split``: ``M_c`` becomes three
columns), and, for a class every training network has at one size (NB201's classifier), that only
its overhead is fitted while its size terms stay the base profile's (they cannot be identified).

With measured energy, the board's idle power and per-class active power are fitted the same way
(bounded least squares on ``E = P_idle * T + sum_c P_c * T_c``, with the fitted layer times).
"""

from __future__ import annotations

import datetime as _dt
import math
from dataclasses import dataclass, replace
from types import MappingProxyType

import numpy as np

from .._errors import InputError, ModelError
from .._progress import silent, step
from ..estimator import (COST_MODELS, SignatureResiduals, choose_precision, latency_parts, layer_paths, layer_signatures,
                         load_model, map_graph, resolve_operating_point)
from ..profiles import Citation, CrossValidatedChoice, LayerModel, Metrics, PowerModel, Profile, Provenance
from ._critical_fit import NetworkLayers
from ._network_fit import choose_network_model
from ._prior import prior_references
from ._samples import NetworkSample

__all__ = ["fit_from_networks", "FitResult", "NetworkFeatures", "network_features", "prediction_metrics",
           "format_rho", "with_sibling_merge", "COLUMNS", "column_map"]

_RIDGE_GRID = (1e-8, 1e-6, 1e-4, 1e-2, 1e-1)
#: The schema's largest power value (mW): the power fit's upper bound.
_MAX_POWER_MW = 1e7


#: Fitted parameters per operator class, in the column order of the design matrix.
COLUMNS = ("overhead_ms", "compute_scale", "memory_scale", "weight_scale", "output_scale")
_K = len(COLUMNS)


def _unit_profile(base: Profile, steps: dict | None = None, memory=(1.0, 1.0, 1.0)) -> Profile:
    """The base profile with every class modelled as bare roofline times (the fit's features).

    ``steps`` (operator class -> ``{dim: {"par": n}}``) pads that class's work to step widths;
    ``memory`` weighs input activations, weights and outputs.
    """
    params = {"compute_scale": 1.0, "memory_scale": memory[0], "weight_scale": memory[1], "output_scale": memory[2],
              "overhead_ms": 0.0}
    unit = LayerModel(form="step_linear", stated=MappingProxyType(params), source=next(iter(base.sources)))
    models = {"default": unit}
    for op_class, class_steps in (steps or {}).items():
        models[op_class] = replace(unit, stated=MappingProxyType({**params, "steps": class_steps}))
    # layer roofline times only: weights streamed past an on-chip parameter memory are not a per-class term,
    # and per-signature residuals belong to the base's own fit
    return replace(base, name=f"{base.name} (unit)", layer_models=MappingProxyType(models), parameter_memory=None,
                   signature_residuals=None)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class NetworkFeatures:
    """The fit's design matrix and what its columns mean.

    ``x`` has shape (networks, 5 * classes): five columns per operator class of ``classes`` (see
    :data:`COLUMNS`); ``per_network`` holds the same numbers per network, keyed by class;
    ``precision`` is the precision they were computed at.
    """

    x: np.ndarray
    classes: list
    per_network: list
    precision: str
    layers: NetworkLayers | None = None   # per network: each layer's class and raw features, and their DAG


def network_features(samples, base: Profile, precision: str | None = None, input_shapes=None, steps=None,
                     graphs: dict | None = None, progress=silent, label: str = "reading networks") -> NetworkFeatures:
    """The fit's design matrix: per network and class, the layer count and roofline times.

    Five columns per class (see :data:`COLUMNS`): executed layers, compute ms, and the memory ms of
    input activations, of weights and of written outputs, at the base profile's peaks.
    ``graphs`` (a dict, filled as networks load) lets several calls share the loaded graphs;
    ``progress`` gets a step per network (``edgeperf._progress``).
    """
    units = [_unit_profile(base, steps, memory) for memory in ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0))]
    point = resolve_operating_point(base)
    rows, classes_seen, chosen = [], set(), None
    per_network, per_layer = [], []
    graphs = {} if graphs is None else graphs  # loaded graphs, by (model, input shape): reused across calls
    samples = tuple(samples)
    for number, sample in enumerate(samples, start=1):
        step(progress, number - 1, len(samples), label)
        graph = _graph(sample, input_shapes, graphs)
        mapped = map_graph(graph, base.mapping)
        chosen, _ = choose_precision(base, precision, graph.native_precision)
        parts = [latency_parts(mapped, unit, chosen, point.freq_mhz)[0] for unit in units]
        classes = {}
        for op_class in np.unique(mapped.op_class) if len(mapped.layers) else ():
            index = mapped.op_class == op_class
            classes[str(op_class)] = (float(index.sum()), float(parts[0].compute_ms[index].sum()),
                                      *(float(part.memory_ms[index].sum()) for part in parts))
            classes_seen.add(str(op_class))
        per_network.append(classes)
        feats = np.column_stack([np.ones(len(mapped.layers)), parts[0].compute_ms,
                                 *(part.memory_ms for part in parts)]) if len(mapped.layers) else np.zeros((0, _K))
        per_layer.append((mapped.op_class.astype(str), feats, NetworkLayers.dag(layer_paths(mapped)),
                          layer_signatures(mapped)))
    step(progress, len(samples), len(samples), label)
    order = sorted(classes_seen)
    position = {c: i for i, c in enumerate(order)}
    names = sorted({s for *_, signatures in per_layer for s in signatures})
    index = {s: i for i, s in enumerate(names)}
    layers = NetworkLayers(classes=tuple(np.array([position[c] for c in classes], dtype=int)
                                         for classes, *_ in per_layer),
                           feats=tuple(f for _, f, _, _ in per_layer), paths=tuple(p for _, _, p, _ in per_layer),
                           n_classes=len(order), signature_names=tuple(names),
                           signatures=tuple(np.array([index[s] for s in signatures], dtype=int)
                                            for *_, signatures in per_layer))
    for classes in per_network:
        row = []
        for op_class in order:
            row.extend(classes.get(op_class, (0.0,) * _K))
        rows.append(row)
    x = np.array(rows, dtype=float).reshape(len(per_network), _K * len(order))
    return NetworkFeatures(x=x, classes=order, per_network=per_network, precision=chosen, layers=layers)


def _graph(sample: NetworkSample, input_shapes, graphs: dict):
    """The sample's loaded graph, from ``graphs`` (by model and input shape) or loaded into it."""
    key = (sample.model, sample.input_shape)
    if key not in graphs:
        try:
            graphs[key] = load_model(sample.model, input_shapes=sample.shapes(input_shapes))
        except ModelError as exc:
            raise ModelError(f"table line {sample.line}: {exc}") from None
    return graphs[key]


def _one_memory_term(x: np.ndarray) -> np.ndarray:
    """The design with every byte weighed alike: weight and output columns folded into the memory column."""
    x = x.copy()
    for i in range(x.shape[1] // _K):
        x[:, _K * i + 2] += x[:, _K * i + 3] + x[:, _K * i + 4]
        x[:, _K * i + 3: _K * i + 5] = 0.0
    return x


def column_map(n_classes: int, fixed: list, split: bool) -> np.ndarray:
    """The map from the raw design (5 columns per class) to a variant's: ``x = x_raw @ column_map(...)``.

    ``fixed`` (class indices): only their layer count is fitted; ``split`` False: one memory term.
    """
    columns = np.eye(_K * n_classes)
    for i in fixed:
        columns[:, _K * i + 1: _K * i + _K] = 0.0
    return columns if split else _one_memory_term(columns)


def _upper_bounds(n_columns: int) -> np.ndarray:
    """Each design column's largest coefficient the step_linear schema accepts (``COST_MODELS`` specs)."""
    highs = {spec.name: spec.high for spec in COST_MODELS["step_linear"].params}
    return np.tile([highs[name] for name in COLUMNS], n_columns // _K)


def _solve(x: np.ndarray, y: np.ndarray, ridge: float, offset: np.ndarray | None = None,
           target: np.ndarray | None = None, weights: np.ndarray | None = None, free=None):
    """w in the schema's bounds minimising sum(((x w + offset - y) / y)^2) + ridge * |g * (w - target) * scale|^2.

    ``free``: ``(f, penalty)``, unbounded columns ``f`` (networks x m) fitted together with ``w``,
    ``x w + f c + offset``, with the penalty ``|penalty * c|^2`` toward zero (per-signature
    residuals, ``_signature_fit``); then ``(w, c)`` is returned.

    ``target`` (default 0) is what the penalty pulls the coefficients toward (a prior's), ``g`` its
    weight per coefficient (``weights``, default 1). The bounds (0 up to each parameter's schema
    maximum) are the solver's constraints (bounded-variable least squares), so a fit never writes a
    coefficient its schema refuses.
    """
    from scipy.optimize import lsq_linear  # scipy is imported only when fitting: it slows start-up by ~1 s

    scale = np.abs(x).mean(axis=0)
    active = scale > 0
    w = np.zeros(x.shape[1])
    if free is not None:
        return _solve_free(x, y, ridge, offset, target, weights, free)
    if not active.any():
        return w
    a = x[:, active] / scale[active]
    k = a.shape[1]
    g = np.ones(k) if weights is None else weights[active]
    pull = np.zeros(k) if target is None else target[active] * scale[active]
    system = np.vstack([a / y[:, None], math.sqrt(ridge) * np.diag(g)])
    relative = np.ones(len(y)) if offset is None else 1.0 - offset / y
    rhs = np.concatenate([relative, math.sqrt(ridge) * g * pull])
    highs = _upper_bounds(x.shape[1])[active]
    solution = lsq_linear(system, rhs, bounds=(np.zeros(k), highs * scale[active]), method="bvls").x
    w[active] = np.clip(solution / scale[active], 0.0, highs)
    return w


def _solve_free(x, y, ridge, offset, target, weights, free):
    """:func:`_solve` with unbounded, penalised columns ``free = (f, penalty)``: (w, c)."""
    from scipy.optimize import lsq_linear

    f, penalty = free
    m = f.shape[1]
    scale = np.abs(x).mean(axis=0)
    active = scale > 0
    a = x[:, active] / scale[active]
    k = a.shape[1]
    g = np.ones(k) if weights is None else weights[active]
    pull = np.zeros(k) if target is None else target[active] * scale[active]
    system = np.vstack([np.hstack([a, f]) / y[:, None],
                        np.hstack([math.sqrt(ridge) * np.diag(g), np.zeros((k, m))]),
                        np.hstack([np.zeros((m, k)), penalty * np.eye(m)])])
    relative = np.ones(len(y)) if offset is None else 1.0 - offset / y
    rhs = np.concatenate([relative, math.sqrt(ridge) * g * pull, np.zeros(m)])
    highs = _upper_bounds(x.shape[1])[active]
    lows = np.concatenate([np.zeros(k), np.full(m, -np.inf)])
    solution = lsq_linear(system, rhs, bounds=(lows, np.concatenate([highs * scale[active], np.full(m, np.inf)])),
                          method="bvls").x
    w = np.zeros(x.shape[1])
    w[active] = np.clip(solution[:k] / scale[active], 0.0, highs)
    return w, solution[k:]


def _at_bound(w: np.ndarray, classes: list) -> dict:
    """Classes with a coefficient at its schema maximum: the data cannot identify them. Class -> parameter names."""
    upper = _upper_bounds(len(w))
    hits: dict = {}
    for index in np.flatnonzero(w >= 0.999 * upper):
        hits.setdefault(classes[index // _K], []).append(COLUMNS[index % _K])
    return hits


def prediction_metrics(predicted: np.ndarray, measured: np.ndarray) -> Metrics:
    """MAPE, the fraction within +-10 %, Spearman's rho and the count of predictions against measurements.

    ``spearman`` is None where it is undefined (fewer than 3 networks, or constant predictions), so
    that the result stays valid JSON.

    >>> prediction_metrics(np.array([1.0, 2.1, 2.8]), np.array([1.0, 2.0, 3.0])).within_10pct
    1.0
    """
    from scipy.stats import spearmanr

    error = np.abs(predicted - measured) / measured
    rho = None
    if len(measured) > 2 and np.ptp(predicted) > 0 and np.ptp(measured) > 0:
        rho = float(spearmanr(predicted, measured).correlation)
    return Metrics(mape=float(error.mean()), within_10pct=float((error <= 0.10).mean()), spearman=rho,
                   n=int(len(measured)))


def _cross_validate(x, y, ridge, folds, seed, offset) -> tuple[np.ndarray, Metrics]:
    predicted = np.empty(len(y))
    order = np.random.default_rng(seed).permutation(len(y))
    for fold in range(folds):
        test = order[fold::folds]
        train = np.setdiff1d(order, test)
        predicted[test] = x[test] @ _solve(x[train], y[train], ridge, offset[train]) + offset[test]
    return predicted, prediction_metrics(predicted, y)


def _fixed_size_classes(x: np.ndarray, classes: list) -> list:
    """Classes present in every network with identical count and work: their size terms cannot be fitted."""
    fixed = []
    for i, op_class in enumerate(classes):
        block = x[:, _K * i: _K * i + _K]
        if block[:, 0].min() > 0 and np.all(np.ptp(block, axis=0) <= 1e-9 * np.abs(block).max(axis=0)):
            fixed.append(op_class)
    return fixed


def _base_work_ms(samples, base: Profile, precision: str, input_shapes, graphs: dict, classes: list,
                  overhead: bool = False) -> np.ndarray:
    """Per network and class: the base profile's latency, without its per-layer overhead unless asked (ms)."""
    point = resolve_operating_point(base)
    out = np.zeros((len(samples), len(classes)))
    for row, sample in enumerate(samples):
        mapped = map_graph(_graph(sample, input_shapes, graphs), base.mapping)
        parts, _ = latency_parts(mapped, base, precision, point.freq_mhz)
        for col, op_class in enumerate(classes):
            index = mapped.op_class == op_class
            out[row, col] = float((parts.latency_ms[index] - (0.0 if overhead else parts.overhead_ms[index])).sum())
    return out


def format_rho(rho: float | None) -> str:
    """Spearman's rho for reports: three decimals, or ``n/a`` where undefined."""
    return "n/a" if rho is None else f"{rho:.3f}"


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class FitResult:
    """A fitted profile and what it rests on (``profile.provenance`` records the same figures)."""

    profile: Profile
    cross_validation: Metrics
    training: Metrics
    ridge: float
    fitted_classes: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class _Variant:
    """One mapping / memory-term variant of a fit: its design matrix and cross-validated error."""

    merge: bool
    split: bool
    base: Profile
    x: np.ndarray
    classes: list
    fixed: list
    offsets: np.ndarray
    precision: str
    ridge: float
    cv: Metrics
    layers: NetworkLayers | None = None   # per network: the layers and their DAG (raw features)
    columns: np.ndarray | None = None     # the raw design's map to this variant's: x = x_raw @ columns


def fit_from_networks(samples, base: Profile, *, name: str | None = None, precision: str | None = None,
                      source: str = "", input_shapes=None, folds: int = 5, seed: int = 0,
                      steps: dict | None = None, merge_siblings: bool | None = False,
                      memory_split: bool | None = False, graphs: dict | None = None, progress=silent,
                      network_term: bool | None = False, prior=None,
                      signature_residuals: bool | None = False) -> FitResult:
    """Fit per-class step-linear layer models (and power, given energy) to measured networks.

    Parameters
    ----------
    samples : sequence of NetworkSample
    base : Profile
        Supplies the mapping (fusion) rules, peaks, clocks and everything not fitted.
    name : str, optional
        Name of the fitted profile (default: base name + ``-fitted``).
    precision : str, optional
        Precision the measurements were taken at (default: as :func:`edgeperf.estimate` chooses).
    source : str
        Where the measurements come from (stored as the fit's source).
    folds : int
        Cross-validation folds (at most the number of samples).
    steps : dict, optional
        Operator class -> step widths (``{"c_out": {"par": 8}}``) its work is padded to, kept in
        the fitted model (found from the data by layer sweeps).
    merge_siblings : bool or None
        Run convolutions that read the same tensor with identical attributes as one kernel
        (horizontal fusion, as TensorRT does) in the fitted profile's mapping. None: fit with and
        without, and keep the variant with the lower cross-validated error (recorded in provenance).
    memory_split : bool or None
        Give weights and written outputs their own memory coefficients (``weight_scale``,
        ``output_scale``) besides the input activations' ``memory_scale``. None: fit with one and
        with three memory terms, and keep the lower cross-validated error.
    graphs : dict, optional
        Loaded graphs by (model, input shape), filled as networks load; share one between fits of
        the same networks to load each only once.
    progress : callable, optional
        A progress sink (``edgeperf._progress``): a step per network read, per variant.
    network_term : bool or None
        A power-law network-level term on the layer sum (``_network_fit``): False none, True the
        best one, None kept only when cross-validation wants it (one-standard-error rule).
    prior : Prior, optional
        Other devices' coefficients (:func:`~edgeperf.fitting.load_prior`) to shrink toward, as far
        as cross-validation wants; provenance (``details["prior"]``) records how far the fit leaned.
    signature_residuals : bool or None
        Per-signature residuals (``_signature_fit``): one additive correction (ms) per exact layer
        signature, shrunk toward zero: False none, True kept, None kept only when cross-validation
        wants them (one-standard-error rule).

    Returns
    -------
    FitResult

    Raises
    ------
    InputError
        With fewer than 3 networks.
    """
    # Longer than 60 lines by its docstring alone (eleven options, each documented); the steps are
    # the helpers below: variants, the chosen one's models, quality, provenance, and power.
    # measurements replace modelled rails and CPU; a base's per-signature residuals belong to its own fit
    samples, base = tuple(samples), replace(base, operating=None, signature_residuals=None)
    if len(samples) < 3:
        raise InputError(f"fitting needs at least 3 measured networks, got {len(samples)}")
    y = np.array([s.latency_ms for s in samples])
    folds = max(2, min(folds, len(samples)))
    graphs = {} if graphs is None else graphs
    variants = _fit_variants(samples, y, base, precision, input_shapes, steps, folds, seed, merge_siblings,
                             memory_split, graphs, progress)
    # classes the data cannot identify are held at the base model in each variant (_solve_identified);
    # then the lowest cross-validated error (on a tie, the variant with less structure), the network
    # term and the prior, each kept only as far as cross-validation wants it (_network_fit)
    identified = [_solve_identified(v, samples, y, input_shapes, graphs, folds, seed) for v in variants]
    variants = [v for v, _, _ in identified]
    references, prior_note = prior_references(prior, base, variants) if prior else (None, None)
    choice = choose_network_model(variants, y, folds=folds, seed=seed, solve=_solve, ridge_grid=_RIDGE_GRID,
                                  network_term=network_term, references=references,
                                  signature_residuals=signature_residuals)
    unidentified = next(u for v, _, u in identified if (v.merge, v.split) == (choice.variant.merge, choice.variant.split))
    chosen = replace(choice.variant, ridge=choice.ridge, cv=prediction_metrics(choice.predicted_cv, y))
    offset = chosen.offsets.sum(axis=1)
    w = choice.w
    training = prediction_metrics(choice.predict(chosen.x, offset, chosen.layers), y)
    fit_name = name or f"{base.name}-fitted"
    key = f"fit-{fit_name}"
    citation = (f"edgeperf fit on {len(samples)} measured networks ({source or 'a user table'}), "
                f"precision {chosen.precision}, base profile {base.name} {base.version}, ridge {chosen.ridge:g}, "
                f"{folds}-fold cross-validated MAPE {chosen.cv.mape:.3f}")
    models, per_inference = _fitted_layer_models(chosen, w, base.name, key, steps, unidentified)
    # the base's own per-inference overhead, parameter streaming and interval belong to its fit, not this one
    own = {("inference_overhead_ms",)} | {a for a in chosen.base.citations if a[0] in ("parameter_memory", "uncertainty")}
    fitted = replace(chosen.base, name=fit_name, kind="fitted", path="", version=_dt.date.today().isoformat(),
                     inference_overhead_ms=0.0, parameter_memory=None, uncertainty=None,
                     citations=MappingProxyType({a: c for a, c in chosen.base.citations.items() if a not in own}),
                     sources=MappingProxyType({**chosen.base.sources, key: citation}), layer_models=models,
                     provenance=_fit_provenance(chosen, variants, source, len(samples), base, folds, training,
                                                merge_siblings, memory_split, unidentified),
                     quality=_fit_quality(chosen, len(samples), source, folds, base.name, per_inference,
                                          unidentified))
    sizes = [size for s in samples if (size := _graph(s, input_shapes, graphs).input_hw) is not None]
    if sizes:   # the range the fit saw: estimates outside it say so
        fitted = replace(fitted, provenance=replace(fitted.provenance, fitted_input_hw_min=min(sizes),
                                                    fitted_input_hw_max=max(sizes)))
    if chosen.fixed:
        fitted = replace(fitted, inference_overhead_ms=per_inference, citations=MappingProxyType({
            **fitted.citations, ("inference_overhead_ms",): Citation(
                source=key, note=f"fitted: the constant part of every training network's time (it could not be "
                                 f"told apart from the {', '.join(chosen.fixed)} layers every network has once)")}))
    fitted = _with_network_choices(fitted, choice, key, prior, prior_note)
    zero = _zero_cost(chosen, w, unidentified)
    if zero:
        fitted = replace(fitted, provenance=fitted.provenance.with_details(zero_cost_classes=zero), quality=(
            f"{fitted.quality} Fitted at zero cost: {', '.join(zero)} (the training networks do not separate "
            "their time from other classes', which carry it; networks rich in them are estimated less surely)."))
    energies = [s.energy_mj for s in samples]
    if all(e is not None for e in energies):
        stretch = choice.factor(chosen.x, offset, chosen.layers)[:, None]   # the layers as the term runs them
        # the per-signature residuals ride in the first class's fixed part: only each network's total enters the fit
        residual = (choice.additive(chosen.x, offset, chosen.layers) - chosen.x @ w - offset)[:, None]
        power, cited = _fit_power(fitted, replace(chosen, x=chosen.x * stretch, offsets=np.column_stack(
            [chosen.offsets[:, :1] + residual, chosen.offsets[:, 1:]]) * stretch), w, np.array(energies, dtype=float),
                                  key, samples, input_shapes, {} if graphs is None else graphs)
        fitted = replace(fitted, power=power, citations=fitted.recited("power", cited))
    return FitResult(profile=fitted, cross_validation=chosen.cv, training=training, ridge=chosen.ridge,
                     fitted_classes=tuple(chosen.classes))


def _zero_cost(chosen: _Variant, w: np.ndarray, unidentified: dict) -> list[str]:
    """Fitted classes present in the training networks whose fitted time is nil in all of them."""
    times = [float(np.abs(chosen.x[:, _K * i: _K * i + _K] @ w[_K * i: _K * i + _K]).sum())
             for i in range(len(chosen.classes))]
    total = sum(times) + float(np.abs(chosen.offsets).sum())
    return [c for i, c in enumerate(chosen.classes) if c not in chosen.fixed and c not in unidentified
            and chosen.x[:, _K * i: _K * i + _K].any() and times[i] <= 1e-9 * total]


def _with_network_choices(fitted: Profile, choice, key: str, prior, prior_note: str | None) -> Profile:
    """The fitted profile with the network term and the prior's use recorded (term, citation, provenance, quality)."""
    record, provenance, quality = choice.term_record, fitted.provenance, fitted.quality
    if record is not None:
        options = ({"none": record["cv_mape_without"]} if record["cv_mape_without"] is not None else {}) | \
            dict(record["cv_mape"])
        provenance = replace(provenance, network_term=CrossValidatedChoice(
            chosen=record["form"] if record["chosen"] else "none", cv_mape=MappingProxyType(options)))
    citations = fitted.citations
    if choice.term is not None:
        quality += f" A network-level term ({choice.term.describe()}) was kept."
        citations = MappingProxyType({**citations, ("network_term",): Citation(source=key, note=(
            "kept by cross-validation (one-standard-error rule); " + (
                "the power law holds between the additive totals of the training networks and is proportional "
                "outside them" if choice.term.form == "power_law" else
                "the share of the work off the longest path through the layers that the runtime overlaps")))})
    if prior is not None:
        used = choice.prior_record or {"chosen": False, "references": 0, "reason": prior_note}
        provenance = provenance.with_details(prior={**used, "source": prior.provenance.get("source", "a prior file")})
        if used.get("chosen"):
            quality += (f" Shrunk toward other devices' coefficients (prior strength {choice.strength:g}, lean "
                        f"{used['lean']:.2f} of the way from the data-only fit to the prior's target).")
    fitted = replace(fitted, network_term=choice.term, citations=citations, provenance=provenance, quality=quality)
    return _with_signature_residuals(fitted, choice, key)


def _with_signature_residuals(fitted: Profile, choice, key: str) -> Profile:
    """The fitted profile with the per-signature residuals (if kept) and the choice's record."""
    record = choice.signature_record
    if record is None:
        return fitted
    provenance = replace(fitted.provenance, signature_residuals=CrossValidatedChoice(
        chosen="per_signature" if record["chosen"] else "none", cv_mape=MappingProxyType(
            {"none": record["cv_mape_without"], "per_signature": record["cv_mape_with"]})))
    if not choice.residual_ms:
        return replace(fitted, provenance=provenance)
    residuals = SignatureResiduals(residual_ms=MappingProxyType(choice.residual_ms), strength=choice.residual_strength)
    citations = MappingProxyType({**fitted.citations, ("signature_residuals",): Citation(source=key, note=(
        "kept by cross-validation (one-standard-error rule): each entry is the fitted residual (ms) of every executed "
        "layer of that exact signature, added to its modelled time; signatures not listed get none"))})
    quality = fitted.quality + f" Per-signature residuals were kept ({residuals.describe()})."
    return replace(fitted, signature_residuals=residuals, citations=citations, provenance=provenance, quality=quality)


def _solve_identified(chosen: _Variant, samples, y, input_shapes, graphs, folds, seed):
    """The chosen variant's coefficients, with the classes the data cannot identify held at the base model.

    A class whose coefficient the data drives to the schema's maximum is not identified by these
    measurements (its work is too small, or collinear with another class's): its whole time becomes
    a fixed offset from the base profile, its columns are cleared, the cross-validated error is
    computed again and the fit solved again. Returns the variant, the coefficients and the
    unidentified classes (class -> the parameters at their maximum).
    """
    w = _solve(chosen.x, y, chosen.ridge, chosen.offsets.sum(axis=1))
    unidentified = {c: p for c, p in _at_bound(w, chosen.classes).items() if c not in chosen.fixed}
    if not unidentified:
        return chosen, w, unidentified
    columns = [chosen.classes.index(c) for c in unidentified]
    offsets = chosen.offsets.copy()
    offsets[:, columns] = _base_work_ms(samples, chosen.base, chosen.precision, input_shapes, graphs, chosen.classes,
                                        overhead=True)[:, columns]
    x, mapped = chosen.x.copy(), None if chosen.columns is None else chosen.columns.copy()
    for i in columns:
        x[:, _K * i: _K * i + _K] = 0.0
        if mapped is not None:
            mapped[:, _K * i: _K * i + _K] = 0.0
    _, cv = _cross_validate(x, y, chosen.ridge, folds, seed, offsets.sum(axis=1))
    return (replace(chosen, x=x, offsets=offsets, cv=cv, columns=mapped), _solve(x, y, chosen.ridge, offsets.sum(axis=1)),
            unidentified)


def _fitted_layer_models(chosen: _Variant, w: np.ndarray, base_name: str, key: str, steps: dict | None,
                         unidentified: dict):
    """The fitted profile's layer models, and the per-inference overhead (ms) taken out of fixed-size classes."""
    models = dict(chosen.base.layer_models)
    per_inference = 0.0
    for i, op_class in enumerate(chosen.classes):
        coefficients = dict(zip(COLUMNS, (float(v) for v in w[_K * i: _K * i + _K])))
        if op_class in chosen.fixed:
            # Its layers occur the same number of times in every training network, so their fitted
            # overhead is a per-network constant: it becomes the per-inference overhead (a network
            # with more such layers does not pay it again), and the class keeps the base model.
            per_inference += coefficients["overhead_ms"] * float(chosen.x[0, _K * i])
            kept = chosen.base.layer_model(op_class)
            models[op_class] = replace(kept, stated=MappingProxyType({**kept.stated, "overhead_ms": 0.0}), note=(
                f"{base_name}'s model without its overhead: every training network had this class at one size, "
                f"so its terms cannot be fitted ({key})"))
            continue
        if op_class in unidentified:
            models[op_class] = replace(chosen.base.layer_model(op_class), note=(
                f"{base_name}'s model: these measurements cannot identify this class "
                f"({', '.join(unidentified[op_class])} reached the schema's maximum) ({key})"))
            continue
        params = {k: v for k, v in coefficients.items() if chosen.split or k not in ("weight_scale", "output_scale")}
        if steps and op_class in steps:
            params["steps"] = steps[op_class]
        models[op_class] = LayerModel(form="step_linear", stated=MappingProxyType(params), source=key)
    return MappingProxyType(models), per_inference


def _fit_quality(chosen: _Variant, n: int, source: str, folds: int, base_name: str, per_inference: float,
                 unidentified: dict) -> str:
    cv = chosen.cv
    quality = (f"Fitted to {n} measured networks ({source or 'a user table'}): "
               f"{folds}-fold cross-validated MAPE {100 * cv.mape:.1f} %, "
               f"{100 * cv.within_10pct:.0f} % of networks within +-10 %, Spearman {format_rho(cv.spearman)}. "
               f"Operator classes fitted: {', '.join(chosen.classes)}; others keep {base_name}'s models.")
    if unidentified:
        quality += (f" Classes these measurements cannot identify ({', '.join(unidentified)}: a coefficient "
                    f"reached the schema's maximum) keep {base_name}'s model.")
    if chosen.fixed:
        quality += (f" Classes at one size in every training network ({', '.join(chosen.fixed)}) keep "
                    f"{base_name}'s model; the constant they shared with every network is a per-inference "
                    f"overhead of {per_inference:.3f} ms.")
    return quality


def _fit_provenance(chosen: _Variant, variants: list, source: str, n: int, base: Profile, folds: int,
                    training: Metrics, merge_siblings, memory_split, unidentified: dict) -> Provenance:
    def best_cv(**where) -> float:
        return min(v.cv.mape for v in variants if all(getattr(v, k) == value for k, value in where.items()))

    sibling_merge = memory_terms = None
    if merge_siblings is None:
        sibling_merge = CrossValidatedChoice(chosen=chosen.merge, cv_mape=MappingProxyType(
            {"without": best_cv(merge=False), "with": best_cv(merge=True)}))
    if memory_split is None:
        memory_terms = CrossValidatedChoice(chosen="split" if chosen.split else "one", cv_mape=MappingProxyType(
            {"one": best_cv(split=False), "split": best_cv(split=True)}))
    provenance = Provenance(fitted_on=source or "user table", n_networks=n, precision=chosen.precision,
                            base_profile=f"{base.name} {base.version}", ridge=chosen.ridge, folds=folds,
                            cross_validation=chosen.cv, training=training, fitted_classes=tuple(chosen.classes),
                            date=_dt.date.today().isoformat(), fixed_size_classes=tuple(chosen.fixed) or None,
                            sibling_merge=sibling_merge, memory_terms=memory_terms)
    return provenance.with_details(unidentified_classes=unidentified) if unidentified else provenance


_MERGE_SOURCE = ("Horizontal fusion: TensorRT merges two Conv (or two Gemm) layers that share their input and have "
                 "mergeable parameters into one kernel (NVIDIA developer forum, 'When does horizontal fusion happen for "
                 "TensorRT's graph optimization?', topic 238187, NVIDIA's answer; trtexec --verbose logs it as "
                 "'Merging layers: A || B'); kept by edgeperf fit because it lowered the cross-validated error.")


def with_sibling_merge(base: Profile) -> Profile:
    """``base`` with convolutions (and Gemms) that share their input merged into one kernel (horizontal fusion)."""
    return replace(base, sources=MappingProxyType({**base.sources, "merge-siblings": _MERGE_SOURCE}),
                   mapping=replace(base.mapping, merge_siblings=("Conv", "Gemm"), merge_source="merge-siblings"))


def _fit_variants(samples, y, base, precision, input_shapes, steps, folds, seed, merge_siblings, memory_split,
                  graphs, progress=silent) -> list[_Variant]:
    """Design matrix, ridge and cross-validated error of each mapping / memory-term variant asked for."""
    variants = []
    for merge in ((False, True) if merge_siblings is None else (bool(merge_siblings),)):
        variant_base = with_sibling_merge(base) if merge else base
        label = "networks, siblings merged" if merge else "networks"
        features = network_features(samples, variant_base, precision, input_shapes, steps, graphs, progress, label)
        full, classes, chosen = features.x, features.classes, features.precision
        # A class every network has at one size (NB201's classifier) cannot have fitted size terms:
        # its work keeps the base profile's model (a fixed offset), and only its overhead is fitted.
        fixed = _fixed_size_classes(full, classes)
        offsets = np.zeros((len(y), len(classes)))
        if fixed:
            columns = [classes.index(c) for c in fixed]
            offsets[:, columns] = _base_work_ms(samples, variant_base, chosen, input_shapes, graphs, classes)[:, columns]
            full = full.copy()
            for i in columns:
                full[:, _K * i + 1: _K * i + _K] = 0.0
        offset = offsets.sum(axis=1)
        for split in ((False, True) if memory_split is None else (bool(memory_split),)):
            x = full if split else _one_memory_term(full)
            best = min(_RIDGE_GRID, key=lambda ridge: _cross_validate(x, y, ridge, folds, seed, offset)[1].mape)
            _, cv = _cross_validate(x, y, best, folds, seed, offset)
            variants.append(_Variant(merge=merge, split=split, base=variant_base, x=x, classes=classes, fixed=fixed,
                                     offsets=offsets, precision=chosen, ridge=best, cv=cv, layers=features.layers,
                                     columns=column_map(len(classes), [classes.index(c) for c in fixed], split)))
    return variants


def _fit_power(fitted: Profile, chosen: _Variant, w: np.ndarray, energy: np.ndarray, key: str, samples,
               input_shapes, graphs: dict):
    """Power while running and energy per unit of work, fitted to measured energy: the power model and its citations.

    ``E = P0 T + e_flop F + e_byte bytes`` (CMOS: static power over the run's time, switching energy
    per operation and per byte moved), non-negative, relative least squares, with ``T`` the fitted
    model's latency of each training network. On HW-NAS-Bench's TX2 blocks it predicts held-out
    energy better than a per-class active power did (docs/accuracy.md).
    """
    from scipy.optimize import lsq_linear

    x, classes = chosen.x, chosen.classes
    times = chosen.offsets + np.column_stack([x[:, _K * i: _K * i + _K] @ w[_K * i: _K * i + _K]
                                              for i in range(len(classes))])
    work = np.zeros((len(samples), 2))
    point = resolve_operating_point(fitted)
    for row, sample in enumerate(samples):
        mapped = map_graph(_graph(sample, input_shapes, graphs), fitted.mapping)
        _, bytes_ = latency_parts(mapped, fitted, chosen.precision, point.freq_mhz)
        work[row] = float(mapped.flops.sum()), float(bytes_.sum())
    # columns: ms x mW / 1000 = mJ; FLOP x pJ x 1e-9 = mJ; byte x pJ x 1e-9 = mJ
    design = np.column_stack([(times.sum(axis=1) + fitted.inference_overhead_ms) / 1000.0, work * 1e-9])
    # non-negative and bounded by the schema's maxima (power 1e7 mW, work 1e6 pJ) as the solver's constraint
    solution = lsq_linear(design / energy[:, None], np.ones(len(energy)), bounds=(0.0, [_MAX_POWER_MW, 1e6, 1e6]),
                          method="bvls").x
    note = "fitted: E = P0 T + e_flop F + e_byte bytes on the training networks' measured energy"
    cited = {("power", "idle_mw"): Citation(source=key, note=note),
             ("power", "active_mw", "default"): Citation(source=key, note="0: the work terms carry the dynamic energy"),
             ("power", "pj_per_flop"): Citation(source=key), ("power", "pj_per_byte"): Citation(source=key)}
    return PowerModel(idle_mw=float(solution[0]), active_mw=MappingProxyType({"default": 0.0}), calibrated=True,
                      pj_per_flop=float(solution[1]), pj_per_byte=float(solution[2])), cited
