"""Per-signature residuals of a network fit: one additive correction per exact layer signature, kept by cross-validation.

The per-class model costs every layer of a class by one formula of its work. Where the device's
time for one kernel differs from that formula (a lookup-table entry timed once, a shape the
runtime serves with a worse kernel), the error repeats in every network that has the kernel and a
per-class model cannot follow it. Once the rest of the fit is chosen (variant, ridge, network term,
prior: ``_network_fit``), this step adds one residual ``c_s`` (ms) per signature ``s``
(``estimator.layer_signature``: class, operator, fusion rule, shapes and work) to every layer of
that signature, before the network term:

    T_i = f_i(A_i + sum_s n_is c_s),

with ``A_i`` the additive total of the per-class model, ``n_is`` the network's layers of signature
``s`` and ``f_i`` the network term's factor (1 without one). The residuals are fitted together
with the layer coefficients, in the same relative-error least squares (``_networks._solve``, the
residuals as unbounded columns; for the power law on the transformed times, for the critical path
as if every residual were on the longest path), with a ridge ``strength * sum_s (c_s / R) ** 2``
toward zero added to the mean squared relative error (``R`` the training networks' geometric-mean
time, so that ``strength`` is dimensionless: a correction the size of a whole typical network
costs as much as ``strength`` of squared relative error). Signatures whose count is the same in
every training network (absent, or at one count everywhere, like a classifier) carry nothing the
per-class fit and its constant do not, and stay at zero. The strength is chosen from
:data:`STRENGTHS` by the fit's k-fold cross-validation (same folds, everything refitted on each
fold's training part), and the table is kept only when its per-network errors beat the model
without it by more than one standard error of the paired difference (the rule of the network term).
"""

from __future__ import annotations

import numpy as np

__all__ = ["STRENGTHS", "choose_residuals", "residual_penalty", "with_residuals"]

#: Ridge strengths of the per-signature residuals tried (dimensionless; see the module docstring).
STRENGTHS = (0.01, 0.1, 1.0, 10.0, 100.0)


def residual_penalty(fitter, rows, strength: float) -> tuple[np.ndarray, float]:
    """``(counts, penalty)`` for ``_networks._solve``'s free columns: the signature counts of every network
    (columns constant over ``rows`` zeroed) and the ridge row weight ``sqrt(n strength) / R`` over ``rows``."""
    y = fitter.y[rows]
    varies = np.ptp(fitter.counts[rows], axis=0) > 0
    scale_ms = float(np.exp(np.mean(np.log(y))))
    return fitter.counts * varies, float(np.sqrt(len(rows) * strength) / scale_ms)


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
    """Cross-validate per-signature residuals with the ``chosen`` configuration: (kept or None, record).

    ``fitter`` (``_network_fit._Fitter``) has the variant's design, its layers with signatures and
    ``counts`` (networks x signatures); ``mode``: True keeps the best strength, None keeps it by
    ``beats`` (the one-standard-error rule); ``factor``: ``_network_fit._factor``. Kept: the
    strength chosen and the per-network cross-validated predictions with it.
    """
    predicted = {strength: np.empty(len(y)) for strength in STRENGTHS}
    order = np.random.default_rng(seed).permutation(len(y))
    for fold in range(folds):
        test = order[fold::folds]
        train = np.setdiff1d(order, test)
        for strength in STRENGTHS:
            fitted = fitter.fit(train, chosen.gamma, chosen.ridge, chosen.strength, chosen.parallel,
                                free=residual_penalty(fitter, train, strength))
            if fitted is None:
                return None, {"chosen": False, "reason": "the chosen fit could not be refitted on a fold"}
            predicted[strength][test] = predict_with(fitter, test, fitted, fitted[3], factor)
    errors = {strength: np.abs(p - y) / y for strength, p in predicted.items()}
    best = min(STRENGTHS, key=lambda s: (float(errors[s].mean()), -s))    # a tie: the stronger shrinkage
    without = chosen.error(y)
    keep = mode is True or beats(without, errors[best])
    record = {"chosen": keep, "strength": best, "signatures": int(fitter.counts.shape[1]),
              "rule": "forced" if mode is True else "one standard error of the paired cross-validated difference",
              "cv_mape_without": float(without.mean()), "cv_mape_with": float(errors[best].mean())}
    return (best, predicted[best]) if keep else None, record
