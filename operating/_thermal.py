"""Sustained-run simulation: a lumped RC thermal model with trip points and reactive throttling.

The board is one thermal node (HotSpot-style, notes/energy_dse.md section 4.3)::

    C dT/dt = P(t) - (T - T_base) / R,     T_base = idle_c + (ambient - ambient_ref) - R P_idle

so at idle power it settles at the profile's ``idle_c`` (shifted with the
ambient) and under a constant power ``P`` at ``T_base + R P``. Over an
interval of constant power the solution is exact:
``T(t) = T_ss + (T_0 - T_ss) exp(-t / RC)``.

Fan steps (``thermal.fan``), where a board has a fan curve, lower the thermal resistance (and
with it the time constant, the heat capacity staying) above their temperatures, switched at
the same polls. The throttling policy is reactive, as on the Coral (notes section 1.8): every
``poll_ms`` the governor reads the temperature and caps the throttled clock
domain at the level of the highest trip point exceeded; a level is released
once the temperature falls ``hysteresis_c`` below its trip. Each inference
runs at the cap in force when it starts, with latency and energy from the
estimator at that clock. The first inference also loads the model
(``first_inference_ms``), which makes it the slowest (seed 000).

Inferences between two polls at one level all take the same time and power, so
the simulation advances a poll interval at a time in closed form (a geometric
recurrence of the temperature), and millions of inferences cost milliseconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .._errors import InputError, LimitError, ProfileError
from .._messages import show
from .._numbers import number_problem, parse_number
from ..estimator import MappedGraph, PlatformProfile, evaluate_points, reference_costs, resolve_operating_point

__all__ = ["ThrottleEvent", "SimulationResult", "simulate_sustained", "MAX_INFERENCES", "MAX_TRACE_EXPORT"]

#: Longest simulated run (inferences); its traces must fit in memory.
MAX_INFERENCES = 20_000_000
#: Longest idle gap after an inference (one day, in ms).
MAX_GAP_MS = 86_400_000.0
#: Longest run whose per-inference traces are written as JSON or CSV (about 100 MB of text).
MAX_TRACE_EXPORT = 2_000_000


@dataclass(frozen=True, slots=True, kw_only=True)
class ThrottleEvent:
    """The governor capped the clock further at ``time_s``."""

    time_s: float
    temp_c: float
    cap_mhz: float
    inference: int

    def to_dict(self) -> dict:
        return {"time_s": self.time_s, "temp_c": self.temp_c, "cap_mhz": self.cap_mhz, "inference": self.inference}


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class SimulationResult:
    """Per-inference traces and totals of a sustained run (units in the names)."""

    model: str
    platform: str
    precision: str
    inferences: int
    ambient_c: float
    gap_ms: float
    latency_ms_trace: np.ndarray
    temp_c_trace: np.ndarray        # temperature at the end of each inference
    clock_mhz_trace: np.ndarray
    throttle_events: tuple[ThrottleEvent, ...]
    total_time_s: float
    energy_j: float
    notes: tuple[str, ...]

    @property
    def max_temp_c(self) -> float:
        return float(self.temp_c_trace.max()) if self.temp_c_trace.size else math.nan

    def check_exportable(self) -> None:
        """Refuse to write per-inference traces longer than :data:`MAX_TRACE_EXPORT` (JSON/CSV text of 20 M
        inferences takes minutes and gigabytes; the totals and the table need no trace).

        Raises
        ------
        LimitError
        """
        if self.inferences > MAX_TRACE_EXPORT:
            raise LimitError(f"the per-inference trace of {self.inferences} inferences is too long to write as text "
                             f"(at most {MAX_TRACE_EXPORT}); use the table format, or simulate fewer inferences")

    def to_dict(self) -> dict:
        self.check_exportable()
        return {
            "schema": "edgeperf.simulate/1",
            "model": self.model, "platform": self.platform, "precision": self.precision,
            "inferences": self.inferences, "ambient_c": self.ambient_c, "gap_ms": self.gap_ms,
            "total_time_s": self.total_time_s, "energy_j": self.energy_j, "max_temp_c": self.max_temp_c,
            "throttle_events": [e.to_dict() for e in self.throttle_events],
            "latency_ms_trace": self.latency_ms_trace.tolist(),
            "temp_c_trace": self.temp_c_trace.tolist(),
            "clock_mhz_trace": self.clock_mhz_trace.tolist(),
            "notes": list(self.notes),
        }


def _level_costs(mapped, profile: PlatformProfile, precision, point, caps):
    """Latency (ms) and energy (mJ) per inference with the throttled domain at each cap."""
    costs = reference_costs(mapped, profile, precision)
    domain = profile.thermal.domain
    clocks = {name: np.full(len(caps), point.freq_mhz[name]) for name in profile.clocks}
    clocks[domain] = np.minimum(clocks[domain], np.asarray(caps, dtype=float))
    latency, energy = evaluate_points(costs, profile, clocks)
    return latency, energy, clocks[domain]


def simulate_sustained(mapped: MappedGraph, profile: PlatformProfile, *, precision: str, inferences: int,
                       ambient_c: float | None = None, gap_ms: float = 0.0, power_mode: str | None = None,
                       start_c: float | None = None) -> SimulationResult:
    """Simulate ``inferences`` back-to-back inferences (each followed by ``gap_ms`` idle).

    Parameters
    ----------
    mapped : MappedGraph
    profile : Profile
        Must have a ``thermal`` section.
    precision : str
    inferences : int
        Number of inferences, 1 to :data:`MAX_INFERENCES`.
    ambient_c : float, optional
        Ambient temperature; default the profile's reference ambient.
    gap_ms : float
        Idle time after each inference (host pre- and post-processing).
    power_mode : str, optional
    start_c : float, optional
        Temperature at the start; default the idle temperature at this ambient.

    Returns
    -------
    SimulationResult

    Raises
    ------
    ProfileError
        When the profile has no thermal model.
    InputError, LimitError
        For a bad count, gap or ambient.
    """
    thermal, ambient = _checked(profile, inferences, gap_ms, ambient_c)
    point = resolve_operating_point(profile, power_mode)
    levels = thermal.levels
    caps = [point.freq_mhz[thermal.domain]] + [level.cap_mhz for level in levels]
    latency, energy, clock = _level_costs(mapped, profile, precision, point, caps)
    idle_mw, resistance = profile.power.idle_mw, thermal.resistance_c_per_w
    base_c = thermal.idle_c + (ambient - thermal.ambient_c) - resistance * idle_mw / 1000.0
    temp = base_c + resistance * idle_mw / 1000.0 if start_c is None else float(start_c)
    lat_trace, temp_trace, clock_trace, events, now = _trajectory(
        thermal, caps, latency, energy, clock, inferences=inferences, gap_ms=gap_ms, base_c=base_c, temp=temp,
        idle_mw=idle_mw)
    # each inference at the clock it ran at, plus idle power over the gaps and the model load
    total_energy_mj = _trace_energy(clock_trace, clock, energy) + idle_mw * (gap_ms * inferences
                                                                             + thermal.first_inference_ms) / 1000.0
    return SimulationResult(
        model=mapped.graph.name, platform=profile.name, precision=precision, inferences=inferences,
        ambient_c=ambient, gap_ms=gap_ms, latency_ms_trace=lat_trace, temp_c_trace=temp_trace,
        clock_mhz_trace=clock_trace, throttle_events=events, total_time_s=now,
        energy_j=total_energy_mj / 1000.0, notes=_notes(profile),
    )


def _trajectory(thermal, caps: list, latency: np.ndarray, energy: np.ndarray, clock: np.ndarray, *, inferences: int,
                gap_ms: float, base_c: float, temp: float, idle_mw: float):
    """Per-inference latency, temperature and clock traces, throttle events and the run's end time (s).

    Advances a poll interval at a time: the inferences between two polls run at one throttle level,
    so their temperatures are one geometric sequence (:func:`_cycle_temperatures`); at each poll the
    governor (:func:`_governor`) sets the level and fan steps in force for the next interval.
    """
    resistance = thermal.resistance_c_per_w
    poll_s, gap_s = thermal.poll_ms / 1000.0, gap_ms / 1000.0
    lat_trace, temp_trace, clock_trace = np.empty(inferences), np.empty(inferences), np.empty(inferences)
    events = []
    level = fan = done = 0         # throttle level and fan steps in force, inferences run
    now, next_poll = 0.0, poll_s
    first_extra_s = thermal.first_inference_ms / 1000.0
    while done < inferences:
        run_s = latency[level] / 1000.0
        power_w = energy[level] / latency[level] if latency[level] > 0 else idle_mw / 1000.0
        cycle = run_s + gap_s
        if done == 0 and first_extra_s > 0:
            count = 1
        else:
            count = max(1, min(inferences - done, math.ceil((next_poll - now) / cycle) if cycle > 0 else inferences))
        extra = first_extra_s if done == 0 else 0.0
        r_now = thermal.fan[fan - 1].resistance_c_per_w if fan else resistance
        temps, after_run = _cycle_temperatures(temp, count, run_s + extra, gap_s, base_c + r_now * power_w,
                                               base_c + r_now * idle_mw / 1000.0,
                                               thermal.time_constant_s * r_now / resistance)   # C stays; tau = R C
        lat_trace[done:done + count] = latency[level]
        if extra:
            lat_trace[done] += thermal.first_inference_ms
        temp_trace[done:done + count] = after_run
        clock_trace[done:done + count] = clock[level]
        now += count * cycle + extra
        done += count
        temp = float(temps[-1])
        while now >= next_poll:
            new_level, fan = _governor(thermal, temp, level, fan)
            if new_level > level:
                events.append(ThrottleEvent(time_s=next_poll, temp_c=temp, cap_mhz=caps[new_level], inference=done))
            level = new_level
            # the temperature is the same at every poll until ``now``: one evaluation decides them all
            next_poll += poll_s * (math.floor((now - next_poll) / poll_s) + 1)
    return lat_trace, temp_trace, clock_trace, tuple(events), now


def _checked(profile: PlatformProfile, inferences, gap_ms: float, ambient_c: float | None):
    """The profile's thermal model and the ambient temperature, once the request is known to be sound."""
    thermal = profile.thermal
    if thermal is None:
        raise ProfileError(f"platform {show(profile.name)} has no thermal model (a 'thermal' section); "
                           f"profiles with one: see edgeperf profiles list")
    if isinstance(inferences, bool) or not isinstance(inferences, int) or inferences < 1:
        raise InputError(f"--inferences must be a positive integer, got {show(inferences)}")
    if inferences > MAX_INFERENCES:
        raise LimitError(f"--inferences {inferences} is more than {MAX_INFERENCES}; simulate fewer")
    gap_ms = parse_number(gap_ms, "--gap-ms", low=0.0, high=MAX_GAP_MS)
    ambient = thermal.ambient_c if ambient_c is None else ambient_c
    ambient, problem = number_problem(ambient, low=-60.0, high=150.0)
    if problem is not None:
        raise InputError(f"--ambient-c must be between -60 and 150 degrees C: {problem}")
    return thermal, ambient


def _cycle_temperatures(temp: float, count: int, run_s: float, gap_s: float, ss_run: float, ss_idle: float,
                        tau_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Temperatures after each of ``count`` cycles (run, then idle gap), and at the end of each run.

    One cycle runs at steady-state temperature ``ss_run`` for ``run_s`` and idles towards ``ss_idle``
    for ``gap_s``: ``T_{i+1} = a T_i + b`` exactly, so ``count`` cycles are a geometric sequence.
    """
    a_run = math.exp(-run_s / tau_s)
    a_gap = math.exp(-gap_s / tau_s)
    a = a_run * a_gap
    b = (ss_run * (1 - a_run)) * a_gap + ss_idle * (1 - a_gap)
    if count == 1:
        temps = np.array([a * temp + b])
    else:
        fixed = b / (1 - a) if a < 1 else temp
        temps = fixed + (temp - fixed) * a ** np.arange(1, count + 1)
    before = np.concatenate(([temp], temps[:-1]))
    after_run = a_run * before + ss_run * (1 - a_run)     # forward: a long gap makes a_gap 0, not a divisor
    return temps, after_run


def _governor(thermal, temp: float, level: int, fan: int) -> tuple[int, int]:
    """Throttle level and fan steps after a poll at ``temp``: raise past trips, release below trip - hysteresis."""
    levels = thermal.levels
    while level < len(levels) and temp >= levels[level].temp_c:
        level += 1
    while level > 0 and temp < levels[level - 1].temp_c - thermal.hysteresis_c:
        level -= 1
    while fan < len(thermal.fan) and temp >= thermal.fan[fan].temp_c:
        fan += 1
    while fan > 0 and temp < thermal.fan[fan - 1].temp_c - thermal.hysteresis_c:
        fan -= 1
    return level, fan


def _notes(profile: PlatformProfile) -> tuple[str, ...]:
    notes = []
    if not profile.power.calibrated:
        notes.append(f"energy not calibrated on {profile.name}: published board power figures")
    if profile.thermal.first_inference_ms == 0:
        notes.append("no first-inference (model load) time in the profile")
    return tuple(notes)


def _trace_energy(clock_trace, level_clock, level_energy) -> float:
    """Sum of per-inference energies (mJ), looked up by the clock each inference ran at."""
    order = np.argsort(level_clock)
    index = order[np.searchsorted(level_clock[order], clock_trace)]
    return float(level_energy[index].sum())
