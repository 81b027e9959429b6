"""Fit a board's lumped RC thermal model to a recorded temperature trace (what ``profile.thermal`` holds).

The model is the one ``edgeperf.operating`` simulates: ``C dT/dt = P(t) - (T - T_base) / R``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .._errors import InputError
from .._messages import show

__all__ = ["ThermalFit", "fit_thermal"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ThermalFit:
    """A first-order RC model fitted to a temperature trace (units in the names)."""

    base_c: float                 # steady temperature at zero power
    resistance_c_per_w: float
    time_constant_s: float

    @property
    def heat_capacity_j_per_c(self) -> float:
        """``tau / R``: the heat the board stores per degree."""
        return self.time_constant_s / self.resistance_c_per_w


def fit_thermal(time_s, temp_c, power_mw) -> ThermalFit:
    """Fit a first-order RC model to a recorded temperature trace.

    The trace is sampled at increasing times with the power drawn over each
    interval; the model ``T' = (T_base + R P - T) / tau`` is fitted by linear
    least squares on the exact discretisation ``T_{i+1} = a T_i + (1 - a)(T_base + R P_i)``
    with ``a = exp(-dt / tau)`` (equal steps required).

    Returns
    -------
    ThermalFit
        Base temperature (C), thermal resistance (C/W) and time constant (s).

    Raises
    ------
    InputError
        For fewer than 10 samples, unequal or non-increasing time steps, or a
        trace without enough power variation to separate R from the base.
    """
    t = np.asarray(time_s, dtype=float)
    temp = np.asarray(temp_c, dtype=float)
    power = np.asarray(power_mw, dtype=float) / 1000.0
    if not (t.ndim == temp.ndim == power.ndim == 1 and t.size == temp.size == power.size):
        raise InputError("a thermal trace needs equal-length time_s, temp_c and power_mw columns")
    if t.size < 10:
        raise InputError(f"a thermal trace needs at least 10 samples, got {t.size}")
    if not (np.all(np.isfinite(t)) and np.all(np.isfinite(temp)) and np.all(np.isfinite(power))):
        raise InputError("a thermal trace must hold finite numbers only")
    dt = np.diff(t)
    if np.any(dt <= 0) or np.ptp(dt) > 1e-6 * max(dt.mean(), 1e-12) + 1e-9:
        raise InputError("a thermal trace needs strictly increasing, equally spaced time_s (resample it)")
    if np.ptp(power) <= 0:
        raise InputError("a thermal trace needs at least two power levels to separate R from the idle temperature")
    design = np.column_stack([temp[:-1], np.ones(t.size - 1), power[:-1]])
    (a, c0, c1), *_ = np.linalg.lstsq(design, temp[1:], rcond=None)
    if not 0 < a < 1:
        raise InputError(f"the trace does not look like a first-order thermal response (decay factor {a:.3f}); "
                         "sample it faster than its time constant and include a heating or cooling step")
    tau = -dt.mean() / math.log(a)
    return ThermalFit(base_c=float(c0 / (1 - a)), resistance_c_per_w=float(c1 / (1 - a)), time_constant_s=float(tau))


def with_thermal_fit(base, fit: ThermalFit, *, source: str = "a temperature trace"):
    """``base`` with its thermal section's RC part replaced by ``fit``: ambient, idle temperature, R and tau.

    The zero-power temperature is the ambient the trace was recorded at; the idle temperature is
    where the board settles at the profile's idle power (``ambient + R P_idle``). The throttling
    policy (domain, trip points, poll period, hysteresis, fan) comes from the board's documentation,
    not from a trace: ``base`` must already have a thermal section to keep it from.

    Raises
    ------
    InputError
        When ``base`` has no thermal section.
    """
    from dataclasses import replace
    from types import MappingProxyType

    from ..profiles import Citation

    if base.thermal is None:
        raise InputError(f"profile {show(base.name)} has no thermal section to update: a trace gives the RC model, "
                         "but the throttling policy (trip points, poll period) must come from the board's "
                         "documentation; start from a profile with one (e.g. coral-edgetpu)")
    key = "fit-thermal"
    idle_c = fit.base_c + fit.resistance_c_per_w * base.power.idle_mw / 1000.0
    thermal = replace(base.thermal, ambient_c=round(fit.base_c, 3), idle_c=round(idle_c, 3),
                      resistance_c_per_w=round(fit.resistance_c_per_w, 4), time_constant_s=round(fit.time_constant_s, 3))
    cited = {("thermal", "ambient_c"): Citation(source=key, note="zero-power temperature of the fit"),
             ("thermal", "idle_c"): Citation(source=key, note="ambient + R x the profile's idle power"),
             ("thermal", "resistance_c_per_w"): Citation(source=key),
             ("thermal", "time_constant_s"): Citation(source=key)}
    text = (f"edgeperf fit-thermal on {source}: first-order RC model C dT/dt = P - (T - T_base) / R fitted by "
            f"least squares on its exact discretisation; T_base {fit.base_c:.2f} C, R {fit.resistance_c_per_w:.3f} "
            f"C/W, tau {fit.time_constant_s:.1f} s")
    return replace(base, path="", thermal=thermal, sources=MappingProxyType({**base.sources, key: text}),
                   citations=MappingProxyType({**base.citations, **cited}))
