"""Operating a board: DVFS exploration of its clock grid, and sustained runs with temperature and throttling.

Both stand beside the estimator and evaluate through its engine (``reference_costs`` ->
``evaluate_points``), so every operating point costs what a single estimate at those clocks
costs::

    frequency_grid(profile, mode)            -> clock of each domain at each grid point   (_dvfs)
    explore_dvfs(mapped, profile, ...)       -> DvfsReport: every point, optima            (_dvfs)
    simulate_sustained(mapped, profile, ...) -> SimulationResult: traces, throttle events  (_thermal)

Most callers want :func:`edgeperf.dvfs` and :func:`edgeperf.simulate`, which load the model
and profile first.
"""

from ._dvfs import MAX_GRID_POINTS, DvfsPoint, DvfsReport, explore_dvfs, frequency_grid
from ._thermal import MAX_INFERENCES, SimulationResult, ThrottleEvent, simulate_sustained

__all__ = ["MAX_GRID_POINTS", "DvfsPoint", "DvfsReport", "explore_dvfs", "frequency_grid", "MAX_INFERENCES",
           "SimulationResult", "ThrottleEvent", "simulate_sustained"]
