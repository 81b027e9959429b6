"""Fit a profile's layer models to whole-network measurements, and validate a profile on a table.

Every executed layer of class c is modelled in the ``step_linear`` form,
``t = overhead_c + compute_scale_c * flops / peak + memory_scale_c * bytes / bandwidth``,
so a network's latency is linear in the coefficients:
``T = sum_c (overhead_c * n_c + compute_scale_c * C_c + memory_scale_c * M_c)``, with ``n_c`` the
number of executed layers of class c and ``C_c``, ``M_c`` their roofline compute and memory times
at the base profile's peaks. The fit minimises the squared *relative* error over the training
networks with non-negative coefficients and a ridge penalty on scaled coefficients (NNLS on an
augmented system); the ridge strength is chosen by k-fold cross-validation, whose held-out error
is reported and stored in the profile. Classes absent from the training networks keep the base
profile's model, and the profile says so.

Three choices are made from the data, each by the same cross-validation: whether convolutions
sharing their input run as one kernel (``merge_siblings``, horizontal fusion), whether weights and
written outputs get memory coefficients of their own (``memory_split``: ``M_c`` becomes three
columns), and, for a class every training network has at one size (NB201's classifier), that only
its overhead is fitted while its size terms stay the base profile's (they cannot be identified).

With measured energy, the board's idle power and per-class active power are fitted the same way
(non-negative least squares on ``E = P_idle * T + sum_c P_c * T_c``, with the fitted layer times).
"""

from __future__ import annotations

import copy
import csv
import datetime as _dt
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._csvfile import csv_errors
from .._errors import InputError, ModelError
from ..estimator import (
    choose_precision,
    latency_parts,
    load_model,
    map_graph,
    network_scale,
    parse_input_shape,
    resolve_operating_point,
)
from ._network_fit import choose_network_model
from ._prior import prior_references
from ._schema import Profile, parse_profile

__all__ = ["NetworkSample", "read_network_table", "fit_from_networks", "FitResult", "validate_table",
           "ValidationReport", "ValidationRow", "network_features", "prediction_metrics", "format_rho",
           "with_sibling_merge"]

_MAX_ROWS = 1_000_000
_RIDGE_GRID = (1e-8, 1e-6, 1e-4, 1e-2, 1e-1)


@dataclass(frozen=True, slots=True, kw_only=True)
class NetworkSample:
    """One measured network: a model reference and its latency (and energy)."""

    model: str
    latency_ms: float
    energy_mj: float | None = None
    input_shape: str | None = None
    line: int = 0

    def shapes(self, default=None) -> dict | None:
        """Input shapes for loading this network: its own ``NAME=DxD...`` if given, else ``default``."""
        if self.input_shape is None:
            return default
        return dict(parse_input_shape(part) for part in self.input_shape.split(";") if part)


def read_network_table(path) -> tuple[NetworkSample, ...]:
    """Read a CSV with columns ``model``, ``latency_ms`` and optionally ``energy_mj`` and ``input_shape``.

    ``input_shape`` holds ``NAME=DxDxD...`` (several separated by ``;``) for networks measured at a
    size other than their file's or zoo default.

    Relative model paths are resolved against the table's folder; ``zoo:`` references
    are kept as they are.

    Raises
    ------
    InputError
        For a missing file, missing or misnamed columns, or values that are not positive finite numbers.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such table; give a CSV with columns model, latency_ms[, energy_mj]")
    with csv_errors(path, "a network table"):
        with open(path, newline="", encoding="utf-8") as stream:
            reader = csv.DictReader(stream)
            columns = [c.strip() for c in (reader.fieldnames or [])]
            if "model" not in columns or "latency_ms" not in columns:
                hint = ""
                if any(c in columns for c in ("latency", "latency_s", "latency_us", "time")):
                    hint = "; latency must be in milliseconds in a column named latency_ms"
                raise InputError(f"{path}: needs columns model and latency_ms (optionally energy_mj), "
                                 f"found {columns}{hint}")
            samples = []
            for line, row in enumerate(reader, start=2):
                if len(samples) >= _MAX_ROWS:
                    raise InputError(f"{path}: more than {_MAX_ROWS} rows; split the table")
                row = {(k or "").strip(): (v or "").strip() for k, v in row.items()}
                model = row.get("model", "")
                if not model:
                    raise InputError(f"{path}:{line}: empty model")
                if not model.startswith("zoo:") and not Path(model).is_absolute():
                    model = str(path.parent / model)
                latency = _positive(row.get("latency_ms", ""), f"{path}:{line}: latency_ms")
                energy = row.get("energy_mj", "")
                shape = row.get("input_shape", "") or None
                if shape is not None:
                    try:
                        [parse_input_shape(part) for part in shape.split(";") if part]
                    except InputError as exc:
                        raise InputError(f"{path}:{line}: {exc}") from None
                samples.append(NetworkSample(model=model, latency_ms=latency, line=line, input_shape=shape,
                                             energy_mj=_positive(energy, f"{path}:{line}: energy_mj") if energy else None))
    if not samples:
        raise InputError(f"{path}: the table has no rows")
    return tuple(samples)


def _positive(text: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise InputError(f"{where} must be a number, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise InputError(f"{where} must be a positive finite number, got {text!r}")
    return value


#: Fitted parameters per operator class, in the column order of the design matrix.
COLUMNS = ("overhead_ms", "compute_scale", "memory_scale", "weight_scale", "output_scale")
_K = len(COLUMNS)


def _unit_profile(base: Profile, steps: dict | None = None, memory=(1.0, 1.0, 1.0)) -> Profile:
    """The base profile with every class modelled as bare roofline times (the fit's features).

    ``steps`` (operator class -> ``{dim: {"par": n}}``) pads that class's work to step widths;
    ``memory`` weighs input activations, weights and outputs.
    """
    document = copy.deepcopy(dict(base.document))
    source = next(iter(base.sources))
    unit = {"form": "step_linear", "source": source,
            "params": {"compute_scale": 1.0, "memory_scale": memory[0], "weight_scale": memory[1],
                       "output_scale": memory[2], "overhead_ms": 0.0}}
    document["layer_models"] = {"default": unit}
    for op_class, class_steps in (steps or {}).items():
        document["layer_models"][op_class] = {**unit, "params": {**unit["params"], "steps": class_steps}}
    return parse_profile(document, where=f"{base.name} (unit)")


def network_features(samples, base: Profile, precision: str | None = None, input_shapes=None, steps=None,
                     graphs: dict | None = None):
    """The fit's design matrix: per network and class, the layer count and roofline times.

    Five columns per class (see :data:`COLUMNS`): executed layers, compute ms, and the memory ms of
    input activations, of weights and of written outputs, at the base profile's peaks.

    Returns
    -------
    x : numpy.ndarray, shape (networks, 5 * classes)
    classes : list of str
        Operator classes, in column order (five columns each).
    per_network : list of dict
        The same numbers per network, keyed by class.
    precision : str
        The precision the features were computed at.

    ``graphs`` (a dict, filled as networks load) lets several calls share the loaded graphs.
    """
    units = [_unit_profile(base, steps, memory) for memory in ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0))]
    point = resolve_operating_point(base)
    rows, classes_seen, chosen = [], set(), None
    per_network = []
    graphs = {} if graphs is None else graphs  # loaded graphs, by (model, input shape): reused across calls
    for sample in samples:
        graph = _graph(sample, input_shapes, graphs)
        mapped = map_graph(graph, base.mapping)
        chosen, _ = choose_precision(base, precision, graph.native_precision)
        parts = [latency_parts(mapped, unit, chosen, point)[0] for unit in units]
        classes = {}
        for op_class in np.unique(mapped.op_class) if len(mapped.layers) else ():
            index = mapped.op_class == op_class
            classes[str(op_class)] = (float(index.sum()), float(parts[0].compute_ms[index].sum()),
                                      *(float(part.memory_ms[index].sum()) for part in parts))
            classes_seen.add(str(op_class))
        per_network.append(classes)
    order = sorted(classes_seen)
    for classes in per_network:
        row = []
        for op_class in order:
            row.extend(classes.get(op_class, (0.0,) * _K))
        rows.append(row)
    return np.array(rows, dtype=float).reshape(len(per_network), _K * len(order)), order, per_network, chosen


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


def _solve(x: np.ndarray, y: np.ndarray, ridge: float, offset: np.ndarray | None = None,
           target: np.ndarray | None = None, weights: np.ndarray | None = None) -> np.ndarray:
    """Non-negative w minimising sum(((x w + offset - y) / y)^2) + ridge * |g * (w - target) * scale|^2.

    ``target`` (default 0) is what the penalty pulls the coefficients toward (a prior's), ``g`` its
    weight per coefficient (``weights``, default 1).
    """
    from scipy.optimize import nnls  # scipy is imported only when fitting: it slows start-up by ~1 s

    scale = np.abs(x).mean(axis=0)
    active = scale > 0
    w = np.zeros(x.shape[1])
    if not active.any():
        return w
    a = x[:, active] / scale[active]
    k = a.shape[1]
    g = np.ones(k) if weights is None else weights[active]
    pull = np.zeros(k) if target is None else target[active] * scale[active]
    system = np.vstack([a / y[:, None], math.sqrt(ridge) * np.diag(g)])
    relative = np.ones(len(y)) if offset is None else 1.0 - offset / y
    rhs = np.concatenate([relative, math.sqrt(ridge) * g * pull])
    solution, _ = nnls(system, rhs, maxiter=50 * k)
    w[active] = solution / scale[active]
    return w


def prediction_metrics(predicted: np.ndarray, measured: np.ndarray) -> dict:
    """``mape``, ``within_10pct`` (fraction), ``spearman`` and ``n`` of predictions against measurements.

    ``spearman`` is None where it is undefined (fewer than 3 networks, or constant predictions), so
    that the result stays valid JSON.
    """
    from scipy.stats import spearmanr

    error = np.abs(predicted - measured) / measured
    rho = None
    if len(measured) > 2 and np.ptp(predicted) > 0 and np.ptp(measured) > 0:
        rho = float(spearmanr(predicted, measured).correlation)
    return {"mape": float(error.mean()), "within_10pct": float((error <= 0.10).mean()), "spearman": rho,
            "n": int(len(measured))}


def _cross_validate(x, y, ridge, folds, seed, offset) -> tuple[np.ndarray, dict]:
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


def _base_work_ms(samples, base: Profile, precision: str, input_shapes, graphs: dict, classes: list) -> np.ndarray:
    """Per network and class: the base profile's latency without its per-layer overhead (ms)."""
    point = resolve_operating_point(base)
    out = np.zeros((len(samples), len(classes)))
    for row, sample in enumerate(samples):
        mapped = map_graph(_graph(sample, input_shapes, graphs), base.mapping)
        parts, _ = latency_parts(mapped, base, precision, point)
        for col, op_class in enumerate(classes):
            index = mapped.op_class == op_class
            out[row, col] = float((parts.latency_ms[index] - parts.overhead_ms[index]).sum())
    return out


def format_rho(rho: float | None) -> str:
    """Spearman's rho for reports: three decimals, or ``n/a`` where undefined."""
    return "n/a" if rho is None else f"{rho:.3f}"


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class FitResult:
    """A fitted profile document and what it rests on."""

    document: dict
    profile: Profile
    cross_validation: dict
    training: dict
    ridge: float
    fitted_classes: tuple[str, ...]


def fit_from_networks(samples, base: Profile, *, name: str | None = None, precision: str | None = None,
                      source: str = "", input_shapes=None, folds: int = 5, seed: int = 0,
                      steps: dict | None = None, merge_siblings: bool | None = False,
                      memory_split: bool | None = False, graphs: dict | None = None,
                      network_term: bool | None = False, prior=None) -> FitResult:
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
    network_term : bool or None
        A power-law network-level term on the layer sum (``_network_fit``): False none, True the
        best one, None kept only when cross-validation wants it (one-standard-error rule).
    prior : Prior, optional
        Other devices' coefficients (:func:`load_prior`) to shrink toward, as far as
        cross-validation wants; provenance records how far the fit leaned on it.

    Returns
    -------
    FitResult

    Raises
    ------
    InputError
        With fewer than 3 networks.
    """
    samples = tuple(samples)
    if len(samples) < 3:
        raise InputError(f"fitting needs at least 3 measured networks, got {len(samples)}")
    y = np.array([s.latency_ms for s in samples])
    folds = max(2, min(folds, len(samples)))
    variants = _fit_variants(samples, y, base, precision, input_shapes, steps, folds, seed, merge_siblings,
                             memory_split, {} if graphs is None else graphs)
    # the lowest cross-validated error (on a tie, the variant with less structure), then the network
    # term and the prior, each kept only as far as cross-validation wants it (_network_fit)
    references, prior_note = prior_references(prior, base, variants) if prior else (None, None)
    choice = choose_network_model(variants, y, folds=folds, seed=seed, solve=_solve, ridge_grid=_RIDGE_GRID,
                                  network_term=network_term, references=references)
    chosen_variant = choice.variant
    merged, split, base_used, x, classes = (chosen_variant[k] for k in ("merge", "split", "base", "x", "classes"))
    chosen, fixed, offsets = (chosen_variant[k] for k in ("precision", "fixed", "offsets"))
    best, w, cv = choice.ridge, choice.w, prediction_metrics(choice.predicted_cv, y)
    training = prediction_metrics(choice.predict(x, offsets.sum(axis=1)), y)

    fit_name = name or f"{base.name}-fitted"
    key = f"fit-{fit_name}"
    document = copy.deepcopy(dict(base_used.document))
    document["name"] = fit_name
    document["kind"] = "fitted"
    document["version"] = _dt.date.today().isoformat()
    document["sources"] = dict(document["sources"])
    document["sources"][key] = (f"edgeperf fit on {len(samples)} measured networks ({source or 'a user table'}), "
                                f"precision {chosen}, base profile {base.name} {base.version}, ridge {best:g}, "
                                f"{folds}-fold cross-validated MAPE {cv['mape']:.3f}")
    models = dict(document["layer_models"])
    per_inference = 0.0
    for i, op_class in enumerate(classes):
        coefficients = dict(zip(COLUMNS, (float(v) for v in w[_K * i: _K * i + _K])))
        if op_class in fixed:
            # Its layers occur the same number of times in every training network, so their fitted
            # overhead is a per-network constant: it becomes the per-inference overhead (a network
            # with more such layers does not pay it again), and the class keeps the base model.
            per_inference += coefficients["overhead_ms"] * float(x[0, _K * i])
            kept = copy.deepcopy(models.get(op_class, models["default"]))
            kept["params"] = {**kept.get("params", {}), "overhead_ms": 0.0}
            kept["note"] = (f"{base.name}'s model without its overhead: every training network had this class at "
                            f"one size, so its terms cannot be fitted ({key})")
            models[op_class] = kept
            continue
        params = {k: v for k, v in coefficients.items() if split or k not in ("weight_scale", "output_scale")}
        if steps and op_class in steps:
            params["steps"] = steps[op_class]
        models[op_class] = {"form": "step_linear", "source": key, "params": params}
    document["layer_models"] = models
    if fixed:
        document["inference_overhead_ms"] = {"value": per_inference, "source": key,
                                             "note": f"fitted: the constant part of every training network's time "
                                                     f"(it could not be told apart from the {', '.join(fixed)} "
                                                     f"layers every network has once)"}
    if choice.term is not None:
        term = choice.term
        document["network_term"] = {
            "form": term.form, "source": key,
            "params": {"gamma": term.gamma, "reference_ms": term.reference_ms, "lower_ms": term.lower_ms,
                       "upper_ms": term.upper_ms},
            "note": (f"chosen by cross-validation: MAPE {100 * choice.term_record['cv_mape_with']:.1f} % with, "
                     f"{100 * choice.term_record['cv_mape_without']:.1f} % without; the power law holds between "
                     f"the additive totals of the training networks and is proportional outside them")
            if choice.term_record["cv_mape_without"] is not None else "asked for (--network-term yes)"}
    energies = [s.energy_mj for s in samples]
    if all(e is not None for e in energies):
        stretch = network_scale(x @ w + offsets.sum(axis=1), choice.term)[:, None]   # layers as the term runs them
        document["power"] = _fit_power(document["power"], x * stretch, w, offsets * stretch, classes,
                                       np.array(energies, dtype=float), key)
    document["quality"] = (f"Fitted to {len(samples)} measured networks ({source or 'a user table'}): "
                           f"{folds}-fold cross-validated MAPE {100 * cv['mape']:.1f} %, "
                           f"{100 * cv['within_10pct']:.0f} % of networks within +-10 %, Spearman {format_rho(cv['spearman'])}. "
                           f"Operator classes fitted: {', '.join(classes)}; others keep {base.name}'s models.")
    document["provenance"] = {"fitted_on": source or "user table", "n_networks": len(samples), "precision": chosen,
                              "base_profile": f"{base.name} {base.version}", "ridge": best, "folds": folds,
                              "cross_validation": cv, "training": training, "fitted_classes": classes,
                              "date": _dt.date.today().isoformat()}
    if fixed:
        document["provenance"]["fixed_size_classes"] = fixed
        document["quality"] += (f" Classes at one size in every training network ({', '.join(fixed)}) keep "
                                f"{base.name}'s model; the constant they shared with every network is a per-inference "
                                f"overhead of {per_inference:.3f} ms.")

    def best_cv(**where) -> float:
        return min(v["cv"]["mape"] for v in variants if all(v[k] == value for k, value in where.items()))

    if merge_siblings is None:
        document["provenance"]["sibling_merge"] = {
            "chosen": merged, "cv_mape_without": best_cv(merge=False), "cv_mape_with": best_cv(merge=True)}
    if memory_split is None:
        document["provenance"]["memory_terms"] = {
            "chosen": "split" if split else "one", "cv_mape_one": best_cv(split=False), "cv_mape_split": best_cv(split=True)}
    if choice.term_record is not None:
        document["provenance"]["network_term"] = choice.term_record
        if choice.term is not None:
            document["quality"] += (f" A network-level power law (gamma {choice.term.gamma:g}) on the layer sum was "
                                    f"kept by cross-validation.")
    if prior is not None:
        document["provenance"]["prior"] = {**(choice.prior_record or {"chosen": False, "references": 0,
                                                                      "reason": prior_note}),
                                           "source": prior.provenance.get("source", "a prior file")}
        if choice.prior_record and choice.prior_record.get("chosen"):
            document["quality"] += (f" Shrunk toward other devices' coefficients (prior strength "
                                    f"{choice.strength:g}, lean {choice.prior_record['lean']:.2f} of the way from the "
                                    f"data-only fit to the prior's target).")
    profile = parse_profile(document, where=fit_name)
    return FitResult(document=document, profile=profile, cross_validation=cv, training=training, ridge=best,
                     fitted_classes=tuple(classes))


_MERGE_SOURCE = ("Horizontal fusion: TensorRT merges two Conv (or two Gemm) layers that share their input and have "
                 "mergeable parameters into one kernel (NVIDIA developer forum, 'When does horizontal fusion happen for "
                 "TensorRT's graph optimization?', topic 238187, NVIDIA's answer; trtexec --verbose logs it as "
                 "'Merging layers: A || B'); kept by edgeperf fit because it lowered the cross-validated error.")


def with_sibling_merge(base: Profile) -> Profile:
    """``base`` with convolutions (and Gemms) that share their input merged into one kernel (horizontal fusion)."""
    document = copy.deepcopy(dict(base.document))
    document["sources"] = {**document["sources"], "merge-siblings": _MERGE_SOURCE}
    document["mapping"] = {**document["mapping"], "merge_siblings": {"op_types": ["Conv", "Gemm"], "source": "merge-siblings"}}
    return parse_profile(document, where=f"{base.name} (sibling convolutions merged)")


def _fit_variants(samples, y, base, precision, input_shapes, steps, folds, seed, merge_siblings, memory_split,
                  graphs) -> list[dict]:
    """Design matrix, ridge and cross-validated error of each mapping / memory-term variant asked for."""
    variants = []
    for merge in ((False, True) if merge_siblings is None else (bool(merge_siblings),)):
        variant_base = with_sibling_merge(base) if merge else base
        full, classes, _, chosen = network_features(samples, variant_base, precision, input_shapes, steps, graphs)
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
            best = min(_RIDGE_GRID, key=lambda ridge: _cross_validate(x, y, ridge, folds, seed, offset)[1]["mape"])
            _, cv = _cross_validate(x, y, best, folds, seed, offset)
            variants.append({"cv": cv, "merge": merge, "split": split, "base": variant_base, "x": x, "fixed": fixed,
                             "classes": classes, "precision": chosen, "ridge": best, "offsets": offsets})
    return variants


def _fit_power(power: dict, x: np.ndarray, w: np.ndarray, offsets: np.ndarray, classes: list, energy: np.ndarray,
               key: str) -> dict:
    from scipy.optimize import nnls

    times = offsets + np.column_stack([x[:, _K * i: _K * i + _K] @ w[_K * i: _K * i + _K]
                                       for i in range(len(classes))])
    design = np.column_stack([times.sum(axis=1), times])  # mW x ms / 1000 = mJ
    solution, _ = nnls(design / energy[:, None], np.full(len(energy), 1000.0))
    fitted = {"idle_mw": {"value": float(solution[0]), "source": key}, "calibrated": True,
              "active_mw": {"default": dict(power["active_mw"]["default"])}}
    for op_class, active in zip(classes, solution[1:]):
        fitted["active_mw"][op_class] = {"value": float(active), "source": key}
    return fitted


@dataclass(frozen=True, slots=True, kw_only=True)
class ValidationRow:
    model: str
    measured_ms: float
    predicted_ms: float

    @property
    def error(self) -> float:
        return (self.predicted_ms - self.measured_ms) / self.measured_ms


@dataclass(frozen=True, slots=True, kw_only=True)
class ValidationReport:
    """Measured against predicted latency per network, and summary statistics."""

    platform: str
    rows: tuple[ValidationRow, ...]
    summary: dict

    def to_dict(self) -> dict:
        return {"platform": self.platform,
                "rows": [{"model": r.model, "measured_ms": r.measured_ms, "predicted_ms": r.predicted_ms,
                          "error": r.error} for r in self.rows],
                "summary": self.summary}


def validate_table(samples, profile: Profile, *, precision: str | None = None, input_shapes=None) -> ValidationReport:
    """Compare a profile's predictions with measured latencies (no device needed).

    The summary has ``mape``, ``within_10pct`` (fraction), ``spearman`` and ``n``.
    """
    from .. import estimate

    rows = []
    for sample in samples:
        try:
            est = estimate(sample.model, profile, precision=precision, input_shapes=sample.shapes(input_shapes))
        except ModelError as exc:
            raise ModelError(f"table line {sample.line}: {exc}") from None
        rows.append(ValidationRow(model=sample.model, measured_ms=sample.latency_ms, predicted_ms=est.total_latency_ms))
    measured = np.array([r.measured_ms for r in rows])
    predicted = np.array([r.predicted_ms for r in rows])
    return ValidationReport(platform=profile.name, rows=tuple(rows), summary=prediction_metrics(predicted, measured))
