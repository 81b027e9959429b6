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

from .._errors import InputError, ModelError
from ..estimator import (
    choose_precision,
    latency_parts,
    load_model,
    map_graph,
    parse_input_shape,
    resolve_operating_point,
)
from ._schema import Profile, parse_profile

__all__ = ["NetworkSample", "read_network_table", "fit_from_networks", "FitResult", "validate_table",
           "ValidationReport", "ValidationRow", "network_features", "prediction_metrics", "format_rho"]

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
    try:
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
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a UTF-8 text file; the table is CSV") from None
    except csv.Error as exc:
        raise InputError(f"{path}: not valid CSV ({exc})") from None
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


def _unit_profile(base: Profile, steps: dict | None = None) -> Profile:
    """The base profile with every class modelled as bare roofline times (the fit's features).

    ``steps`` (operator class -> ``{dim: {"par": n}}``) pads that class's work to step widths.
    """
    document = copy.deepcopy(dict(base.document))
    source = next(iter(base.sources))
    unit = {"form": "step_linear", "params": {"compute_scale": 1.0, "memory_scale": 1.0, "overhead_ms": 0.0},
            "source": source}
    document["layer_models"] = {"default": unit}
    for op_class, class_steps in (steps or {}).items():
        document["layer_models"][op_class] = {**unit, "params": {**unit["params"], "steps": class_steps}}
    return parse_profile(document, where=f"{base.name} (unit)")


def network_features(samples, base: Profile, precision: str | None = None, input_shapes=None, steps=None):
    """The fit's design matrix: per network and class, [layer count, roofline compute ms, roofline memory ms].

    Returns
    -------
    x : numpy.ndarray, shape (networks, 3 * classes)
    classes : list of str
        Operator classes, in column order (three columns each).
    per_network : list of dict
        The same numbers per network, keyed by class.
    precision : str
        The precision the features were computed at.
    """
    unit = _unit_profile(base, steps)
    point = resolve_operating_point(base)
    rows, classes_seen, chosen = [], set(), None
    per_network = []
    graphs = {}
    for sample in samples:
        key = (sample.model, sample.input_shape)
        graph = graphs.get(key)
        if graph is None:
            try:
                graph = graphs[key] = load_model(sample.model, input_shapes=sample.shapes(input_shapes))
            except ModelError as exc:
                raise ModelError(f"table line {sample.line}: {exc}") from None
        mapped = map_graph(graph, base.mapping)
        chosen, _ = choose_precision(base, precision, graph.native_precision)
        parts, _ = latency_parts(mapped, unit, chosen, point)
        classes = {}
        for op_class in np.unique(mapped.op_class) if len(mapped.layers) else ():
            index = mapped.op_class == op_class
            classes[str(op_class)] = (float(index.sum()), float(parts.compute_ms[index].sum()),
                                      float(parts.memory_ms[index].sum()))
            classes_seen.add(str(op_class))
        per_network.append(classes)
    order = sorted(classes_seen)
    for classes in per_network:
        row = []
        for op_class in order:
            row.extend(classes.get(op_class, (0.0, 0.0, 0.0)))
        rows.append(row)
    return np.array(rows, dtype=float), order, per_network, chosen


def _solve(x: np.ndarray, y: np.ndarray, ridge: float) -> np.ndarray:
    """Non-negative w minimising sum(((x w - y) / y)^2) + ridge * |w * scale|^2."""
    from scipy.optimize import nnls  # scipy is imported only when fitting: it slows start-up by ~1 s

    scale = np.abs(x).mean(axis=0)
    active = scale > 0
    w = np.zeros(x.shape[1])
    if not active.any():
        return w
    a = x[:, active] / scale[active]
    k = a.shape[1]
    system = np.vstack([a / y[:, None], math.sqrt(ridge) * np.eye(k)])
    target = np.concatenate([np.ones(len(y)), np.zeros(k)])
    solution, _ = nnls(system, target, maxiter=50 * k)
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


def _cross_validate(x, y, ridge, folds, seed) -> tuple[np.ndarray, dict]:
    predicted = np.empty(len(y))
    order = np.random.default_rng(seed).permutation(len(y))
    for fold in range(folds):
        test = order[fold::folds]
        train = np.setdiff1d(order, test)
        predicted[test] = x[test] @ _solve(x[train], y[train], ridge)
    return predicted, prediction_metrics(predicted, y)


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
                      steps: dict | None = None) -> FitResult:
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
    x, classes, per_network, chosen = network_features(samples, base, precision, input_shapes, steps)
    y = np.array([s.latency_ms for s in samples])
    folds = max(2, min(folds, len(samples)))
    best = min(_RIDGE_GRID, key=lambda ridge: _cross_validate(x, y, ridge, folds, seed)[1]["mape"])
    _, cv = _cross_validate(x, y, best, folds, seed)
    w = _solve(x, y, best)
    training = prediction_metrics(x @ w, y)

    fit_name = name or f"{base.name}-fitted"
    key = f"fit-{fit_name}"
    document = copy.deepcopy(dict(base.document))
    document["name"] = fit_name
    document["kind"] = "fitted"
    document["version"] = _dt.date.today().isoformat()
    document["sources"] = dict(document["sources"])
    document["sources"][key] = (f"edgeperf fit on {len(samples)} measured networks ({source or 'a user table'}), "
                                f"precision {chosen}, base profile {base.name} {base.version}, ridge {best:g}, "
                                f"{folds}-fold cross-validated MAPE {cv['mape']:.3f}")
    models = dict(document["layer_models"])
    for i, op_class in enumerate(classes):
        overhead, compute_scale, memory_scale = w[3 * i: 3 * i + 3]
        params = {"overhead_ms": float(overhead), "compute_scale": float(compute_scale),
                  "memory_scale": float(memory_scale)}
        if steps and op_class in steps:
            params["steps"] = steps[op_class]
        models[op_class] = {"form": "step_linear", "source": key, "params": params}
    document["layer_models"] = models
    energies = [s.energy_mj for s in samples]
    if all(e is not None for e in energies):
        document["power"] = _fit_power(document["power"], x, w, classes, np.array(energies, dtype=float), key)
    document["quality"] = (f"Fitted to {len(samples)} measured networks ({source or 'a user table'}): "
                           f"{folds}-fold cross-validated MAPE {100 * cv['mape']:.1f} %, "
                           f"{100 * cv['within_10pct']:.0f} % of networks within +-10 %, Spearman {format_rho(cv['spearman'])}. "
                           f"Operator classes fitted: {', '.join(classes)}; others keep {base.name}'s models.")
    document["provenance"] = {"fitted_on": source or "user table", "n_networks": len(samples), "precision": chosen,
                              "base_profile": f"{base.name} {base.version}", "ridge": best, "folds": folds,
                              "cross_validation": cv, "training": training, "fitted_classes": classes,
                              "date": _dt.date.today().isoformat()}
    profile = parse_profile(document, where=fit_name)
    return FitResult(document=document, profile=profile, cross_validation=cv, training=training, ridge=best,
                     fitted_classes=tuple(classes))


def _fit_power(power: dict, x: np.ndarray, w: np.ndarray, classes: list, energy: np.ndarray, key: str) -> dict:
    from scipy.optimize import nnls

    times = np.column_stack([x[:, 3 * i: 3 * i + 3] @ w[3 * i: 3 * i + 3] for i in range(len(classes))])
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
