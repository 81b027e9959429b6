"""Constraint checks and the Pareto front over design tables (numpy, no optuna).

>>> import numpy as np
>>> pareto_mask(np.array([[1.0, 5.0], [2.0, 2.0], [3.0, 3.0], [4.0, 1.0]]))
array([ True,  True, False,  True])
"""

from __future__ import annotations

import numpy as np

__all__ = ["violations", "pareto_mask", "objective_matrix"]


def violations(columns: dict, spec, memory_limit: np.ndarray, power_budget: np.ndarray) -> tuple[dict, np.ndarray]:
    """Violation of each constraint by each design (0 where met), and the feasibility mask.

    Violations are relative to the bound (``(value - max) / |max|``) so that
    the worst one names the constraint a design misses most.

    Parameters
    ----------
    columns : dict of str to numpy.ndarray
        A design table (see ``_space.COLUMNS``).
    spec : SearchSpec
    memory_limit, power_budget : numpy.ndarray
        Per design: the platform's memory (bytes) and power budget (mW).
    """
    result = {}
    for c in spec.constraints:
        value = columns[c.metric]
        amount = np.zeros(value.size)
        if c.high is not None:
            amount = np.maximum(amount, (value - c.high) / max(abs(c.high), 1e-12))
        if c.low is not None:
            amount = np.maximum(amount, (c.low - value) / max(abs(c.low), 1e-12))
        result[c.metric] = np.where(np.isnan(value), np.inf, amount)
    if spec.memory_fits:
        limit = np.where(np.isfinite(memory_limit), memory_limit, np.inf)
        with np.errstate(invalid="ignore"):
            over = (columns["memory_bytes"] - limit) / limit
        result["memory"] = np.where(np.isfinite(limit), np.maximum(0.0, over), 0.0)
    if np.isfinite(power_budget).any():
        finite = np.isfinite(power_budget)
        budget = np.where(finite, power_budget, 1.0)
        result["power_budget"] = np.where(finite, np.maximum(0.0, (columns["power_mw"] - budget) / budget), 0.0)
    feasible = np.ones(columns["latency_ms"].size, dtype=bool)
    for amount in result.values():
        feasible &= amount <= 0
    return result, feasible


def objective_matrix(columns: dict, objectives) -> np.ndarray:
    """Objectives as a matrix to minimise (maximised metrics negated), shape ``(designs, objectives)``."""
    return np.column_stack([columns[m] if d == "min" else -columns[m] for m, d in objectives])


def pareto_mask(values: np.ndarray) -> np.ndarray:
    """Rows not dominated by any other row (all objectives minimised); duplicates keep the first."""
    n = values.shape[0]
    keep = np.zeros(n, dtype=bool)
    if n == 0:
        return keep
    order = np.lexsort(values.T[::-1])
    front = np.empty((0, values.shape[1]))
    for i in order:
        row = values[i]
        if front.size and np.any(np.all(front <= row, axis=1)):
            continue  # dominated by (or equal to) a front member
        keep[i] = True
        front = np.vstack([front, row])
    return keep
