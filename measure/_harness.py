"""A timing harness for machines whose speed drifts, throttles and jumps.

Each measurement warms up, then runs interleaved rounds: a fixed reference kernel,
then the workload. The reference kernel's time per round shows how fast the machine
is at that moment; dividing each round of the workload by its round's reference
drift (relative to the fastest reference round) removes machine-speed changes that
affect both alike. Rounds are summarised robustly: medians per round, outlier rounds
rejected by median absolute deviation, the median of what remains reported together
with its spread, and flags that say when drift or instability was seen.

Everything that touches the outside world is injected: the clock, the reference
kernel, the sleep function and an optional temperature reading, so the statistics are
tested deterministically with a simulated machine.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ._protocols import PowerSource

__all__ = ["Timing", "Harness", "matmul_reference"]


def matmul_reference(size: int = 128, seed: int = 0) -> Callable[[], None]:
    """A fixed amount of work (one float32 ``size x size`` matrix product) to track machine speed."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((size, size)).astype(np.float32)
    b = rng.standard_normal((size, size)).astype(np.float32)

    def run() -> None:
        a @ b

    return run


@dataclass(frozen=True, slots=True, kw_only=True)
class Timing:
    """A robust latency measurement (milliseconds).

    Attributes
    ----------
    median_ms : float
        Median over kept rounds of the drift-corrected round medians.
    raw_median_ms : float
        The same without drift correction.
    spread : float
        (p90 - p10) / median of the corrected round medians.
    rounds, kept_rounds, calls : int
        Rounds run, rounds kept after outlier rejection, workload calls timed.
    drift : float
        Slowest / fastest reference round (1.0 = no drift seen).
    reference_ms : float
        The reference kernel's time in its fastest round. Recorded for diagnosis; it is not used
        to compare measurements taken minutes apart, because after a large model it reflects the
        cache state as much as the machine's speed (measured here: 1.7-2.5x spread across a
        calibration, far more than the machine's 1.3x speed states).
    flags : tuple of str
        ``drift`` (machine speed changed by more than the limit), ``unstable`` (spread above ``unstable_spread``, 20 %),
        ``hot`` (a temperature limit was still exceeded after the cool-down timeout),
        ``clock-changed`` (a clock domain read differently during the measurement),
        ``throttled`` (the device reported throttling).
    energy_mj : float or None
        Energy per call from the power source (median over kept rounds), None without one.
    power_mw : float or None
        Average power while the workload ran.
    """

    median_ms: float
    raw_median_ms: float
    spread: float
    rounds: int
    kept_rounds: int
    calls: int
    drift: float
    flags: tuple[str, ...]
    reference_ms: float = 0.0
    energy_mj: float | None = None
    power_mw: float | None = None

    def to_dict(self) -> dict:
        return {"median_ms": self.median_ms, "raw_median_ms": self.raw_median_ms, "spread": self.spread,
                "rounds": self.rounds, "kept_rounds": self.kept_rounds, "calls": self.calls, "drift": self.drift,
                "flags": list(self.flags), "reference_ms": self.reference_ms, "energy_mj": self.energy_mj,
                "power_mw": self.power_mw}


@dataclass(slots=True, kw_only=True)
class Harness:
    """Measure callables robustly.

    Parameters
    ----------
    rounds : int
        Interleaved rounds of reference kernel + workload.
    round_s : float
        Target duration of the workload part of one round (seconds).
    warmup_s : float
        Warm-up duration before the first round (seconds).
    reference_calls : int
        Reference-kernel calls per round.
    drift_limit : float
        Relative reference change above which a measurement is flagged ``drift``.
    mad_k : float
        Rounds further than ``mad_k`` scaled MADs from the median are rejected.
    unstable_spread : float
        Spread (10th-90th percentile range over the median) above which a measurement is flagged
        ``unstable`` (calibration leaves such measurements out of its fit).
    clock, sleep : callables
        Monotonic seconds and sleep, injectable for tests.
    reference : callable
        The reference kernel (default: a 128x128 float32 matmul).
    temperature_c : callable or None
        Reads a temperature; with ``max_temp_c`` the harness waits (up to ``cooldown_timeout_s``)
        before each measurement until it is below the limit.
    power : source or None
        A power/clock source (``edgeperf.measure`` sources): read around every workload batch;
        energy per call comes from its cumulative counter where it has one, else from the
        trapezoid of the power read at both ends of the batch; clock changes and throttling
        it reports flag the measurement.
    """

    rounds: int = 9
    round_s: float = 0.05
    warmup_s: float = 0.1
    reference_calls: int = 5
    drift_limit: float = 0.15
    mad_k: float = 3.5
    unstable_spread: float = 0.2
    clock: Callable[[], float] = time.perf_counter
    sleep: Callable[[float], None] = time.sleep
    reference: Callable[[], None] = field(default_factory=matmul_reference)
    temperature_c: Callable[[], float] | None = None
    max_temp_c: float | None = None
    cooldown_timeout_s: float = 60.0
    power: PowerSource | None = None

    def __post_init__(self) -> None:
        if self.rounds < 3:
            raise ValueError(f"rounds must be at least 3 for robust statistics, got {self.rounds}")
        if self.round_s <= 0 or self.warmup_s < 0 or self.reference_calls < 1:
            raise ValueError("round_s must be positive, warmup_s non-negative and reference_calls at least 1")

    def _time_calls(self, fn: Callable[[], None], calls: int) -> list[float]:
        times = []
        for _ in range(calls):
            start = self.clock()
            fn()
            times.append(self.clock() - start)
        return times

    def _cool_down(self) -> bool:
        """Wait until the temperature is below the limit; False when it never got there."""
        if self.temperature_c is None or self.max_temp_c is None:
            return True
        waited = 0.0
        while self.temperature_c() > self.max_temp_c:
            if waited >= self.cooldown_timeout_s:
                return False
            self.sleep(1.0)
            waited += 1.0
        return True

    def measure(self, fn: Callable[[], None]) -> Timing:
        """Time ``fn`` (one inference) and return a robust :class:`Timing`."""
        cool = self._cool_down()
        start = self.clock()
        first = self._time_calls(fn, 2)
        while self.clock() - start < self.warmup_s:
            fn()
        per_call = max(min(first), 1e-9)
        calls = max(1, int(self.round_s / per_call))
        references, workloads, energies, powers, readings = [], [], [], [], []
        for _ in range(self.rounds):
            references.append(float(np.median(self._time_calls(self.reference, self.reference_calls))))
            before = self.power.read() if self.power is not None else None
            workloads.append(float(np.median(self._time_calls(fn, calls))))
            if before is not None:
                after = self.power.read()
                readings += [before, after]
                batch_mj = _batch_energy_mj(before, after)
                energies.append(batch_mj / calls)
                seconds = after.time_s - before.time_s
                powers.append(batch_mj / seconds if seconds > 0 else float("nan"))      # mJ / s = mW
        references_arr, workloads_arr = np.array(references), np.array(workloads)
        drift_factor = references_arr / references_arr.min()
        corrected = workloads_arr / drift_factor
        center = np.median(corrected)
        mad = 1.4826 * np.median(np.abs(corrected - center))
        keep = np.abs(corrected - center) <= self.mad_k * mad if mad > 0 else np.ones(len(corrected), bool)
        kept = corrected[keep]
        median = float(np.median(kept))
        spread = float((np.percentile(kept, 90) - np.percentile(kept, 10)) / median) if median > 0 else 0.0
        drift = float(references_arr.max() / references_arr.min())
        flags = []
        if drift - 1.0 > self.drift_limit:
            flags.append("drift")
        if spread > self.unstable_spread:
            flags.append("unstable")
        if not cool:
            flags.append("hot")
        energy = power = None
        if readings:
            flags += _reading_flags(readings)
            kept_energy = np.array(energies)[keep]
            kept_energy = kept_energy[np.isfinite(kept_energy)]
            kept_power = np.array(powers)[keep]
            kept_power = kept_power[np.isfinite(kept_power)]
            if kept_energy.size:
                energy = float(np.median(kept_energy))       # what one call cost, as run (not drift-corrected)
            if kept_power.size:
                power = float(np.median(kept_power))         # average power while the workload ran
        return Timing(median_ms=1e3 * median, raw_median_ms=1e3 * float(np.median(workloads_arr)), spread=spread,
                      rounds=self.rounds, kept_rounds=int(keep.sum()), calls=calls * self.rounds, drift=drift,
                      flags=tuple(flags), reference_ms=1e3 * float(references_arr.min()), energy_mj=energy,
                      power_mw=power)


def _batch_energy_mj(before, after) -> float:
    """Energy between two readings: the cumulative counter's difference, else the trapezoid of the power."""
    if before.energy_mj is not None and after.energy_mj is not None and after.energy_mj >= before.energy_mj:
        return after.energy_mj - before.energy_mj
    if before.total_mw is None or after.total_mw is None:
        return float("nan")
    return (before.total_mw + after.total_mw) / 2.0 * (after.time_s - before.time_s)   # mW x s = mJ


def _reading_flags(readings) -> list[str]:
    flags = []
    domains = set().union(*(r.freq_mhz for r in readings))
    if any(len({r.freq_mhz.get(d) for r in readings}) > 1 for d in domains):
        flags.append("clock-changed")
    if any(f in ("throttled", "arm-frequency-capped", "soft-temperature-limit") for r in readings for f in r.flags):
        flags.append("throttled")
    return flags
