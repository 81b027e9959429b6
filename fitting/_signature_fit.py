"""Per-signature residuals of a network fit: one additive correction per exact layer signature, kept by cross-validation.

The per-class model costs every layer of a class by one formula of its work. Where the device's
time for one kernel differs from that formula (a lookup-table entry timed once, a shape the
runtime serves with a worse kernel), the error repeats in every network that has the kernel and a
per-class model cannot follow it. After the rest of the fit is chosen (variant, ridge, network
term, prior: ``_network_fit``), this step fits one residual ``c_s`` (ms) per signature ``s``
(``estimator.layer_signature``: class, operator, fusion rule, shapes and work), added to every
layer of that signature before the network term:

    T_i = f_i(A_i + sum_s n_is c_s),

with ``A_i`` the fitted additive total, ``n_is`` the network's layers of signature ``s`` and
``f_i`` the network term's factor (1 without one). With the factor held at the fitted model's,
this is linear in ``c``: ``c`` minimises the mean squared relative error of ``T`` plus a ridge
``strength * sum_s (c_s / R) ** 2`` toward zero (``R`` the training networks' geometric-mean
time, so that ``strength`` is dimensionless: a correction of a whole typical network costs as much
as ``strength`` of squared relative error). Signatures whose count is the same in every training
network (absent, or at one count everywhere, like a classifier) carry nothing the per-class fit
and its constant do not, and stay at zero. The strength is chosen from :data:`STRENGTHS` by the
fit's k-fold cross-validation (same folds, the rest of the model refitted on each fold's training
part), and the table is kept only when its per-network errors beat the model without it by more
than one standard error of the paired difference (the rule of the network term).
"""

from __future__ import annotations

import numpy as np

__all__ = ["STRENGTHS", "fit_residuals", "choose_residuals", "final_residuals", "with_residuals"]

#: Ridge strengths of the per-signature residuals tried (dimensionless; see the module docstring).
STRENGTHS = (0.01, 0.1, 1.0, 10.0, 100.0)


def fit_residuals(counts: np.ndarray, residual_ms: np.ndarray, weight: np.ndarray, strength: float,
                  scale_ms: float) -> np.ndarray:
    """Per-signature residuals (ms) minimising ``mean((weight (counts c - residual_ms))^2) + strength |c / scale_ms|^2``.

    Columns of ``counts`` that do not vary over the rows are left at zero.

    >>> counts = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [2.0, 0.0]])
    >>> c = fit_residuals(counts, counts @ np.array([0.5, -0.2]), np.ones(4), 1e-9, 10.0)
    >>> [round(float(v), 6) for v in c]
    [0.5, -0.2]
    """
    n = len(residual_ms)
    out = np.zeros(counts.shape[1])
    active = np.ptp(counts, axis=0) > 0 if n else np.zeros(counts.shape[1], dtype=bool)
    if not active.any():
        return out
    a = counts[:, active] * weight[:, None]
    lhs = a.T @ a / n + strength / scale_ms ** 2 * np.eye(int(active.sum()))
    out[active] = np.linalg.solve(lhs, a.T @ (residual_ms * weight) / n)
    return out


def _fold_residuals(fitter, rows, fitted, strength: float, factor) -> np.ndarray:
    """Residuals fitted on ``rows`` to the model ``fitted`` (coefficients, term) with its factor held."""
    w, term = fitted[0], fitted[1]
    additive = fitter.x[rows] @ w + fitter.offset[rows]
    f = factor(additive, fitter.offset[rows], term, fitter.layers.take(rows), fitter.columns, w, None)
    y = fitter.y[rows]
    scale_ms = float(np.exp(np.mean(np.log(y))))
    counts = fitter.counts[rows]
    return fit_residuals(counts, y / f - additive, f / y, strength, scale_ms)


def with_residuals(additive: np.ndarray, residual_ms: np.ndarray) -> np.ndarray:
    """Additive totals (ms) plus each network's residuals, never below zero.

    (The estimator clips each layer at zero, ``estimator._signatures``; the fit, which does not keep
    per-layer costs here, clips the network. They differ only where a residual exceeds its layer's
    own time, which makes a prediction so poor that cross-validation does not keep it.)
    """
    return np.maximum(additive + residual_ms, 0.0)


def predict_with(fitter, rows, fitted, residual_ms, factor) -> np.ndarray:
    """Latency (ms) of ``rows`` under ``fitted`` (coefficients, term) with per-signature residuals ``residual_ms``."""
    w, term = fitted[0], fitted[1]
    additive = with_residuals(fitter.x[rows] @ w + fitter.offset[rows], fitter.counts[rows] @ residual_ms)
    layers = fitter.layers.take(rows) if term is not None and term.form == "critical_path" else None
    return additive * factor(additive, fitter.offset[rows], term, layers, fitter.columns, w, residual_ms)


def choose_residuals(fitter, chosen, y: np.ndarray, folds: int, seed: int, mode: bool | None, beats, factor):
    """Cross-validate per-signature residuals on top of the ``chosen`` configuration: (residuals or None, record).

    ``fitter`` (``_network_fit._Fitter``) has the variant's design, its layers with signatures and
    ``counts`` (networks x signatures); ``mode``: True keeps the best strength, None keeps it by
    ``beats`` (the one-standard-error rule); ``factor``: ``_network_fit._factor``. Returns the
    strength chosen and the per-network cross-validated predictions with it, or None when not kept.
    """
    predicted = {strength: np.empty(len(y)) for strength in STRENGTHS}
    order = np.random.default_rng(seed).permutation(len(y))
    for fold in range(folds):
        test = order[fold::folds]
        train = np.setdiff1d(order, test)
        fitted = fitter.fit(train, chosen.gamma, chosen.ridge, chosen.strength, chosen.parallel)
        if fitted is None:
            return None, {"chosen": False, "reason": "the chosen fit could not be refitted on a fold"}
        for strength in STRENGTHS:
            residual = _fold_residuals(fitter, train, fitted, strength, factor)
            predicted[strength][test] = predict_with(fitter, test, fitted, residual, factor)
    errors = {strength: np.abs(p - y) / y for strength, p in predicted.items()}
    best = min(STRENGTHS, key=lambda s: (float(errors[s].mean()), -s))    # a tie: the stronger shrinkage
    without = chosen.error(y)
    keep = mode is True or beats(without, errors[best])
    record = {"chosen": keep, "strength": best, "signatures": int(fitter.counts.shape[1]),
              "rule": "forced" if mode is True else "one standard error of the paired cross-validated difference",
              "cv_mape_without": float(without.mean()), "cv_mape_with": float(errors[best].mean())}
    return (best, predicted[best]) if keep else None, record


def final_residuals(fitter, rows, fitted, strength: float, factor) -> np.ndarray:
    """The residuals on all of ``rows`` with the chosen strength (see :func:`_fold_residuals`)."""
    return _fold_residuals(fitter, rows, fitted, strength, factor)
