"""Latency, power and energy over many operating points at once (DVFS exploration).

The estimator's engine computes each layer's latency parts once at reference
clocks and scales them to every point of the grid at once: the compute part
with ``f_ref / f_compute``, the memory part with ``f_ref / f_memory``, the
overhead not at all, combined as each cost model's registry entry says. Power at
an operating point is the board's static (idle) power, plus the layer class's
dynamic power scaled by ``f * V^2`` of the compute domain (``f`` alone where
voltages are unknown), plus each other domain's dynamic power
(``power.domain_mw``) scaled the same way; a domain is active for the whole
layer (clock trees toggle while a kernel waits on memory).

Energy per inference against frequency is therefore not assumed monotone:
static energy falls as clocks rise (shorter runs), dynamic energy of
memory-bound layers rises (the core toggles faster while it waits), and
voltage raises the cost of every cycle. Where these balance, the curve is
U-shaped and the energy-optimal clock lies below the maximum.

The default governor is modelled as the power mode's maximum clocks: under a
sustained DNN load the Jetson governors (``schedutil``, ``nvhost_podgov``)
keep the highest frequency 89 % (CPU) and 83 % (GPU) of the time (seed 002).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from .._errors import InputError, LimitError
from .._frames import frame, short_repr
from .._messages import show
from ..estimator import (
    MappedGraph,
    PlatformProfile,
    evaluate_points,
    interval_points,
    reference_costs,
    resolve_operating_point,
)

__all__ = ["frequency_grid", "DvfsPoint", "DvfsReport", "explore_dvfs", "MAX_GRID_POINTS"]

#: Largest frequency grid evaluated in one call (a guard against absurd DVFS tables).
MAX_GRID_POINTS = 2_000_000

def frequency_grid(profile: PlatformProfile, power_mode: str | None = None,
                   domains: tuple[str, ...] | None = None) -> dict:
    """Every combination of available clock steps under a power mode's caps.

    The grid spans the domains that change latency or power: the compute and
    memory domains and those with dynamic power in the profile (or ``domains``).

    Returns
    -------
    dict of str to numpy.ndarray
        Clock (MHz) of each domain at each grid point, equal-length arrays.

    Raises
    ------
    InputError
        For an unknown power mode or domain.
    LimitError
        When the grid has more than :data:`MAX_GRID_POINTS` points.
    """
    base = resolve_operating_point(profile, power_mode)
    caps = dict(profile.power_modes[base.power_mode]) if base.power_mode is not None else {}
    if domains is None:
        domains = tuple(dict.fromkeys((profile.compute_domain, profile.memory_domain, *profile.power.domain_mw)))
    steps = []
    for name in domains:
        if name not in profile.clocks:
            raise InputError(f"platform {show(profile.name)} has no clock domain {show(name)}; domains: {show(sorted(profile.clocks))}")
        ceiling = min(caps.get(name, np.inf), profile.clocks[name].reference_mhz)
        steps.append([f for f in profile.clocks[name].available_mhz if f <= ceiling + 1e-6]
                     or [profile.clocks[name].available_mhz[0]])
    size = int(np.prod([len(s) for s in steps]))
    if size > MAX_GRID_POINTS:
        raise LimitError(f"the frequency grid of {profile.name} has {size} points, more than {MAX_GRID_POINTS}; "
                         "restrict it to fewer domains")
    columns = np.array(list(itertools.product(*steps)), dtype=float).reshape(size, len(domains))
    return {name: columns[:, i] for i, name in enumerate(domains)}


@dataclass(frozen=True, slots=True, kw_only=True)
class DvfsPoint:
    """One operating point of a DVFS sweep (units in the names)."""

    freq_mhz: MappingProxyType
    latency_ms: float
    power_mw: float
    energy_mj: float
    latency_ms_low: float | None = None     # the profile's interval at this point (None: no uncertainty model)
    latency_ms_high: float | None = None

    def to_dict(self) -> dict:
        return {"freq_mhz": dict(self.freq_mhz), "latency_ms": self.latency_ms, "latency_ms_low": self.latency_ms_low,
                "latency_ms_high": self.latency_ms_high, "power_mw": self.power_mw, "energy_mj": self.energy_mj}


@dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class DvfsReport:
    """A whole-grid DVFS evaluation of one model on one platform."""

    model: str
    platform: str
    precision: str
    power_mode: str | None
    points: tuple[DvfsPoint, ...]
    energy_optimal: DvfsPoint
    latency_optimal: DvfsPoint
    max_clocks: DvfsPoint
    governor: DvfsPoint
    best_under_limit: DvfsPoint | None
    max_latency_ms: float | None
    energy_calibrated: bool
    notes: tuple[str, ...]

    def __repr__(self) -> str:
        return short_repr(self, "model", "platform", "precision", "power_mode", "energy_optimal",
                          points=len(self.points))

    def to_frame(self):
        """One row per operating point: ``<domain>_mhz`` columns, ``latency_ms``, ``power_mw``, ``energy_mj``,
        and which optimum a point is (``tags``). Needs pandas."""
        rows = []
        for point in self.points:
            tags = [tag for other, tag in ((self.energy_optimal, "min energy"), (self.latency_optimal, "min latency"),
                                           (self.best_under_limit, "best within limit")) if other is point]
            rows.append({**{f"{name}_mhz": mhz for name, mhz in point.freq_mhz.items()},
                         "latency_ms": point.latency_ms, "power_mw": point.power_mw, "energy_mj": point.energy_mj,
                         "tags": ", ".join(tags)})
        return frame(rows)

    @property
    def energy_saving_vs_max_pct(self) -> float:
        return 100.0 * (1.0 - self.energy_optimal.energy_mj / self.max_clocks.energy_mj)

    @property
    def energy_saving_vs_governor_pct(self) -> float:
        return 100.0 * (1.0 - self.energy_optimal.energy_mj / self.governor.energy_mj)

    def to_dict(self) -> dict:
        return {
            "schema": "edgeperf.dvfs/1",
            "model": self.model, "platform": self.platform, "precision": self.precision,
            "power_mode": self.power_mode,
            "points": [p.to_dict() for p in self.points],
            "energy_optimal": self.energy_optimal.to_dict(),
            "latency_optimal": self.latency_optimal.to_dict(),
            "max_clocks": self.max_clocks.to_dict(),
            "governor": self.governor.to_dict(),
            "energy_saving_vs_max_pct": self.energy_saving_vs_max_pct,
            "energy_saving_vs_governor_pct": self.energy_saving_vs_governor_pct,
            "max_latency_ms": self.max_latency_ms,
            "best_under_limit": self.best_under_limit.to_dict() if self.best_under_limit else None,
            "energy_calibrated": self.energy_calibrated,
            "notes": list(self.notes),
        }


def explore_dvfs(mapped: MappedGraph, profile: PlatformProfile, *, precision: str, power_mode: str | None = None,
                 max_latency_ms: float | None = None) -> DvfsReport:
    """Evaluate a model over the whole frequency grid of a power mode.

    Parameters
    ----------
    mapped : MappedGraph
    profile : Profile
    precision : str
    power_mode : str, optional
        Default: the profile's default mode.
    max_latency_ms : float, optional
        Report the lowest-energy point whose latency is at most this.

    Returns
    -------
    DvfsReport
        Points sorted by clock; ties between optima are broken towards lower latency.

    Raises
    ------
    InputError
        For a bad power mode or a non-positive latency limit.

    Examples
    --------
    >>> from edgeperf import load_model, load_profile, map_graph      # doctest: +SKIP
    >>> p = load_profile("jetson-nano")                                 # doctest: +SKIP
    >>> r = explore_dvfs(map_graph(load_model("zoo:resnet18"), p.mapping), p, precision="fp16")  # doctest: +SKIP
    >>> r.energy_optimal.freq_mhz["gpu"] <= 921.6                       # doctest: +SKIP
    True
    """
    if max_latency_ms is not None and not max_latency_ms > 0:
        raise InputError(f"--max-latency-ms must be > 0, got {max_latency_ms}")
    grid = frequency_grid(profile, power_mode)
    costs = reference_costs(mapped, profile, precision)
    latency, energy = evaluate_points(costs, profile, grid)
    power = np.divide(energy * 1000.0, latency, out=np.zeros_like(energy), where=latency > 0)
    bounds = interval_points(costs, profile, grid)
    low, high = ([None] * latency.size,) * 2 if bounds is None else (bounds[0].tolist(), bounds[1].tolist())
    names = list(grid)
    points = tuple(DvfsPoint(freq_mhz=MappingProxyType({n: float(grid[n][i]) for n in names}),
                             latency_ms=float(latency[i]), power_mw=float(power[i]), energy_mj=float(energy[i]),
                             latency_ms_low=low[i], latency_ms_high=high[i])
                   for i in range(latency.size))
    by_energy = np.lexsort((latency, energy))
    by_latency = np.lexsort((energy, latency))
    max_index = int(np.lexsort([-grid[n] for n in reversed(names)])[0])
    best = None
    if max_latency_ms is not None:
        feasible = by_energy[latency[by_energy] <= max_latency_ms]
        best = points[int(feasible[0])] if feasible.size else None
    mode = resolve_operating_point(profile, power_mode).power_mode
    notes = _notes(profile, mode, names, max_latency_ms, best)
    return DvfsReport(
        model=mapped.graph.name, platform=profile.name, precision=precision, power_mode=mode, points=points,
        energy_optimal=points[int(by_energy[0])], latency_optimal=points[int(by_latency[0])],
        max_clocks=points[max_index], governor=points[max_index], best_under_limit=best,
        max_latency_ms=max_latency_ms, energy_calibrated=profile.power.calibrated, notes=tuple(notes),
    )


def _governor_note(profile: PlatformProfile, mode: str | None) -> str:
    """What 'the default governor' is on this platform, and what the claim rests on."""
    thermal = getattr(profile, "thermal", None)
    if not profile.power_modes and thermal is not None and thermal.domain == profile.compute_domain:
        return (f"no DVFS governor on {profile.name}: the {profile.compute_domain} clock is a fixed setting, held until "
                "the thermal policy caps it (edgeperf simulate models that); 'default' here is the highest setting")
    evidence = ("seed 002: Jetson governors hold the highest frequency 83-89 % of the time under DNN load"
                if profile.power_modes else "no governor measurements for this board; on Jetsons (seed 002) the "
                "governors hold the highest frequency 83-89 % of the time under DNN load")
    return f"default governor modelled as the maximum clocks of power mode {mode or 'default'} ({evidence})"


def _notes(profile: PlatformProfile, mode: str | None, names: list, max_latency_ms: float | None, best) -> list[str]:
    notes = [_governor_note(profile, mode)]
    if all(profile.clocks[n].voltage_v is None for n in names):
        notes.append("no voltage table in the profile: dynamic power scales with f only (constant voltage)")
    if not profile.power.calibrated:
        notes.append(f"energy not calibrated on {profile.name}: published board power figures")
    if max_latency_ms is not None and best is None:
        notes.append(f"no operating point meets {max_latency_ms:g} ms")
    return notes
