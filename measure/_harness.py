"""A timing harness for machines whose speed drifts, throttles, jumps, and is shared with other load.

Each measurement warms up, then runs interleaved rounds: a fixed reference kernel, then the
workload. Every call is timed on its own, so a call that the operating system pre-empted (another
process took the core) shows as one long sample instead of dragging an average:

- a round's workload time is a low quantile (``quantile``, the lower quartile) of its calls, and
  the reference's is the fastest of its calls;
- drift correction divides a round's workload time by how much slower the reference ran in that
  round than in its fastest round, but only when the reference is itself stable within the round
  (its median call within ``reference_spread`` of its fastest), and never by more than
  ``max_correction`` (1.5: this machine's speed states are about 1.3x apart, notes/measured_here.md;
  a larger change is other load, not a speed state). A round outside those bounds is not corrected
  but left out, and counted;
- rounds further than ``mad_k`` scaled MADs from the median are rejected; the median of the rest
  is reported with its spread;
- a measurement below ``floor_ms`` (the physical floor the caller states: its FLOPs at the device's
  peak throughput, its bytes at peak bandwidth) is flagged ``implausible``.

Other load that time-slices this process evenly (two CPU-bound neighbours on two cores) slows every
call and the reference kernel alike, so no relative statistic can see it. The CPU clock can: with
``cpu_clock`` (the CPU time of the thread that runs the workload, :func:`cpu_timing`), every call is
also timed on it, and a round in which the calls got less than ``min_share`` (0.9) of a core per
thread ran time-sliced. When the runtime computes in the calling thread alone (one intra-op
thread, ``cpu_threads`` 1), a call's CPU time is the time it took while it ran: such a round is
timed by CPU time instead of wall time, down to ``min_cpu_share`` (0.2) of a core, and the
measurement is flagged ``contended``; below that, or with several threads (whose CPU time is not
a latency), the round is left out like a round with an unstable reference. A device whose clock
changes (a board throttling, DVFS) slows CPU time and wall time alike: its share stays near 1, and
the change is the device's own speed, which the reference kernel's drift correction handles, not
other load.

A measurement that is ``disturbed`` (fewer than half its rounds usable), ``implausible`` or
``unstable`` is measured again after a back-off (``backoff_s``, doubling) up to ``retries`` times
and while the harness's re-measurement budget (``retry_budget_s``) lasts; what is still disturbed
after that is returned flagged, for the caller to exclude and count.

Everything that touches the outside world is injected: the clock, the reference kernel, the sleep
function and an optional temperature reading, so the statistics are tested deterministically with a
simulated machine and recorded timings.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Callable

import numpy as np

from .._errors import DisturbedError
from ._protocols import PowerSource

__all__ = ["Timing", "Harness", "matmul_reference", "DISTURBED_FLAGS", "MAX_CORRECTION", "MAX_DISTURBED",
           "MIN_SHARE", "MIN_CPU_SHARE", "raise_if_disturbed", "cpu_timing"]

#: Flags that mean other load disturbed a measurement: it is re-measured, then excluded and counted.
DISTURBED_FLAGS = ("disturbed", "implausible", "unstable")
#: The largest drift correction applied by default (the machine's speed states are about 1.3x apart).
MAX_CORRECTION = 1.5
#: The largest share of a command's measurements that may stay disturbed; above it the command
#: ends with :class:`DisturbedError` (exit code 3) instead of a result resting on too little.
MAX_DISTURBED = 0.25
#: Below this share of a core per thread (CPU time over wall time) a round ran time-sliced with other load.
MIN_SHARE = 0.9
#: The least share of a core at which a round's CPU time still stands in for its wall time: below it
#: the neighbours' cache traffic dominates. Measured here at a share of 0.31 (load average 6 on 2
#: cores): ResNet-18's and MobileNet v2's CPU times per call were 1.1-1.4x their idle wall times,
#: their wall times 3-4x.
MIN_CPU_SHARE = 0.2


def cpu_timing(settings: dict) -> dict:
    """The harness's CPU-clock settings for a runner (``Harness(..., **cpu_timing(runner.settings()))``).

    CPU execution providers only: the calling thread's CPU time with one intra-op thread (the runtime
    then computes in the calling thread), the process's with several (``cpu_threads``: shares are per
    thread). Other providers (a GPU) wait for their device, and CPU time says nothing: ``{}``.

    >>> cpu_timing({"threads": 1, "providers": ["CPUExecutionProvider"]})["cpu_threads"]
    1
    >>> cpu_timing({"threads": 1, "providers": ["CUDAExecutionProvider"]})
    {}
    """
    providers = settings.get("providers") or ["CPUExecutionProvider"]
    if any(p != "CPUExecutionProvider" for p in providers):
        return {}
    threads = max(1, int(settings.get("threads") or 1))
    return {"cpu_clock": time.thread_time if threads == 1 else time.process_time, "cpu_threads": threads}


def raise_if_disturbed(disturbed: int, total: int, max_share: float = MAX_DISTURBED) -> None:
    """Raise :class:`DisturbedError` when more than ``max_share`` of ``total`` measurements stayed disturbed.

    >>> raise_if_disturbed(1, 10)
    >>> raise_if_disturbed(3, 10)
    Traceback (most recent call last):
    ...
    edgeperf._errors.DisturbedError: 3 of 10 measurements disturbed by other load; rerun on an idle machine or raise --budget-minutes
    """
    if total and disturbed > max_share * total:
        raise DisturbedError(disturbed, total)


def matmul_reference(size: int = 64, seed: int = 0) -> Callable[[], None]:
    """A fixed amount of work (one float32 ``size x size`` matrix product) to track machine speed.

    The product runs in numpy's own loops (``einsum`` without BLAS), so in the calling thread alone,
    like a one-thread workload: OpenBLAS splits a 128x128 ``a @ b`` over every core (measured here:
    its calling thread's CPU time was half its wall time on the 2-core machine, the process's 1.9x),
    which other load would slow by more than the workload and the CPU clock would misread.
    """
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((size, size)).astype(np.float32)
    b = rng.standard_normal((size, size)).astype(np.float32)

    def run() -> None:
        np.einsum("ij,jk->ik", a, b, optimize=False)

    return run


@dataclass(frozen=True, slots=True, kw_only=True)
class Timing:
    """A robust latency measurement (milliseconds).

    Attributes
    ----------
    median_ms : float
        The reported latency: the median over kept rounds of each round's drift-corrected low
        quantile of per-call times.
    raw_median_ms : float
        The median of all per-call times, uncorrected (what a naive timer reports; under load it
        includes the time the process was pre-empted).
    spread : float
        (p90 - p10) / median of the kept rounds.
    rounds, kept_rounds, calls : int
        Rounds run, rounds kept (usable reference, within the correction bound, not outliers),
        workload calls timed (in the last attempt).
    drift : float
        Slowest / fastest reference round (1.0 = no drift seen).
    correction : float
        The largest drift correction applied to a kept round (at most the harness's ``max_correction``).
    cpu_share : float
        The median over rounds of the share of a core per thread the calls got (CPU time over wall
        time); 1.0 when the harness has no CPU clock.
    reference_ms : float
        The reference kernel's time in its fastest round. Recorded for diagnosis; it is not used
        to compare measurements taken minutes apart, because after a large model it reflects the
        cache state as much as the machine's speed (measured here: 1.7-2.5x spread across a
        calibration, far more than the machine's 1.3x speed states).
    flags : tuple of str
        ``drift`` (machine speed changed by more than the limit, corrected), ``unstable`` (spread
        above ``unstable_spread``, 20 %), ``contended`` (other load time-sliced the process: kept
        rounds were timed by CPU time), ``disturbed`` (fewer than half the rounds usable: the
        reference was unstable or slowed by more than ``max_correction``, or the process got less
        than ``min_cpu_share`` of a core), ``implausible`` (faster
        than the stated physical floor), ``hot`` (a temperature limit was still exceeded after the
        cool-down timeout), ``clock-changed`` (a clock domain read differently during the
        measurement), ``throttled`` (the device reported throttling).
    attempts : int
        How many times it was measured (re-measured while disturbed, within the retry budget).
    floor_ms : float
        The physical floor it was checked against (0: none stated).
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
    correction: float = 1.0
    cpu_share: float = 1.0
    attempts: int = 1
    floor_ms: float = 0.0
    energy_mj: float | None = None
    power_mw: float | None = None

    @property
    def disturbed(self) -> bool:
        """True when other load disturbed it (any of :data:`DISTURBED_FLAGS`)."""
        return any(flag in DISTURBED_FLAGS for flag in self.flags)

    def to_dict(self) -> dict:
        return {"median_ms": self.median_ms, "raw_median_ms": self.raw_median_ms, "spread": self.spread,
                "rounds": self.rounds, "kept_rounds": self.kept_rounds, "calls": self.calls, "drift": self.drift,
                "correction": self.correction, "cpu_share": self.cpu_share, "attempts": self.attempts, "floor_ms": self.floor_ms,
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
    quantile : float
        The quantile of a round's per-call times taken as its time (0.25: a quarter of the calls
        may run undisturbed and the round still shows the undisturbed time).
    drift_limit : float
        Relative reference change above which a measurement is flagged ``drift``.
    max_correction : float
        The largest drift correction applied (default :data:`MAX_CORRECTION`, 1.5); a round whose
        reference ran slower than that is left out, not corrected.
    reference_spread : float
        A round's reference is stable when its median call is within this fraction of its fastest.
    mad_k : float
        Rounds further than ``mad_k`` scaled MADs from the median are rejected.
    unstable_spread : float
        Spread (10th-90th percentile range over the median) above which a measurement is flagged
        ``unstable`` (calibration leaves such measurements out of its fit).
    retries : int
        Re-measurements of a disturbed measurement (0: none).
    backoff_s : float
        Wait before the first re-measurement, doubled before each further one (seconds).
    retry_budget_s : float or None
        Seconds this harness may spend on re-measurements and back-off in all (None: no limit).
    clock, sleep : callables
        Monotonic seconds and sleep, injectable for tests.
    cpu_clock : callable or None
        CPU seconds of what runs the workload (:func:`cpu_timing`; None: the wall clock alone).
    cpu_threads : int
        Threads the workload computes in: CPU time stands in for wall time only with one.
    min_share, min_cpu_share : float
        A round whose calls got less than ``min_share`` of a core per thread ran time-sliced: it is
        timed by CPU time down to ``min_cpu_share`` (one thread), else left out (defaults
        :data:`MIN_SHARE`, :data:`MIN_CPU_SHARE`).
    reference : callable
        The reference kernel (default: a 64x64 float32 matrix product in one thread, :func:`matmul_reference`).
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
    quantile: float = 0.25
    drift_limit: float = 0.15
    max_correction: float = MAX_CORRECTION
    reference_spread: float = 0.25
    mad_k: float = 3.5
    unstable_spread: float = 0.2
    retries: int = 3
    backoff_s: float = 0.5
    retry_budget_s: float | None = None
    clock: Callable[[], float] = time.perf_counter
    sleep: Callable[[float], None] = time.sleep
    cpu_clock: Callable[[], float] | None = None
    cpu_threads: int = 1
    min_share: float = MIN_SHARE
    min_cpu_share: float = MIN_CPU_SHARE
    reference: Callable[[], None] = field(default_factory=matmul_reference)
    temperature_c: Callable[[], float] | None = None
    max_temp_c: float | None = None
    cooldown_timeout_s: float = 60.0
    power: PowerSource | None = None
    retry_spent_s: float = field(default=0.0, init=False)

    def __post_init__(self) -> None:
        if self.rounds < 3:
            raise ValueError(f"rounds must be at least 3 for robust statistics, got {self.rounds}")
        if self.round_s <= 0 or self.warmup_s < 0 or self.reference_calls < 1:
            raise ValueError("round_s must be positive, warmup_s non-negative and reference_calls at least 1")
        if not 0.0 <= self.quantile <= 0.5:
            raise ValueError(f"quantile must be in [0, 0.5] (a low quantile), got {self.quantile}")
        if self.max_correction < 1.0:
            raise ValueError(f"max_correction must be >= 1, got {self.max_correction}")
        if self.retries < 0 or self.backoff_s < 0:
            raise ValueError("retries and backoff_s must be non-negative")
        if not 0.0 < self.min_cpu_share <= self.min_share <= 1.0 or self.cpu_threads < 1:
            raise ValueError(f"need 0 < min_cpu_share <= min_share <= 1 and cpu_threads >= 1, got "
                             f"{self.min_cpu_share}, {self.min_share}, {self.cpu_threads}")

    def _time_calls(self, fn: Callable[[], None], calls: int) -> list[float]:
        times = []
        for _ in range(calls):
            start = self.clock()
            fn()
            times.append(self.clock() - start)
        return times

    def _time_both(self, fn: Callable[[], None], calls: int) -> tuple[list[float], list[float]]:
        """Per call: wall seconds, and CPU seconds (the wall clock's readings inside the CPU clock's)."""
        if self.cpu_clock is None:
            walls = self._time_calls(fn, calls)
            return walls, walls
        walls, cpus = [], []
        for _ in range(calls):
            cpu_start = self.cpu_clock()
            start = self.clock()
            fn()
            walls.append(self.clock() - start)
            cpus.append(self.cpu_clock() - cpu_start)
        return walls, cpus

    def _basis(self, walls: list[float], cpus: list[float]) -> tuple[str, float]:
        """How a round is timed, from the share of a core per thread its calls got: wall, cpu or none."""
        if self.cpu_clock is None:
            return "wall", 1.0
        share = sum(cpus) / max(sum(walls) * self.cpu_threads, 1e-12)
        if share >= self.min_share:
            return "wall", share
        if self.cpu_threads == 1 and share >= self.min_cpu_share:
            return "cpu", share
        return "none", share

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

    def measure(self, fn: Callable[[], None], *, floor_ms: float = 0.0) -> Timing:
        """Time ``fn`` (one inference) and return a robust :class:`Timing`.

        Parameters
        ----------
        fn : callable
            One inference.
        floor_ms : float
            The physical floor of ``fn`` (ms): no correct measurement is faster. Below it the
            measurement is flagged ``implausible``.

        Returns
        -------
        Timing
            Re-measured (with back-off) while disturbed, up to ``retries`` times within the budget;
            still flagged if it stayed disturbed.
        """
        timing = self._measure_once(fn, floor_ms)
        attempts = 1
        while timing.disturbed and attempts <= self.retries and self._budget_left():
            wait = self.backoff_s * 2 ** (attempts - 1)
            started = self.clock()
            self.sleep(wait)
            timing = self._measure_once(fn, floor_ms)
            attempts += 1
            self.retry_spent_s += max(self.clock() - started, wait)   # an injected sleep may not move the clock
        return replace(timing, attempts=attempts)

    def _budget_left(self) -> bool:
        return self.retry_budget_s is None or self.retry_spent_s < self.retry_budget_s

    def _measure_once(self, fn: Callable[[], None], floor_ms: float) -> Timing:
        cool = self._cool_down()
        start = self.clock()
        first = self._time_calls(fn, 2)
        while self.clock() - start < self.warmup_s:
            fn()
        calls = max(1, int(self.round_s / max(min(first), 1e-9)))
        return self._summarise(self._run_rounds(fn, calls), floor_ms, cool)

    def _run_rounds(self, fn: Callable[[], None], calls: int) -> "_Rounds":
        """The interleaved rounds: the reference kernel, then ``calls`` workload calls (and power around them)."""
        rounds = _Rounds(calls=calls)
        for _ in range(self.rounds):
            reference_walls, reference_cpus = self._time_both(self.reference, self.reference_calls)
            before = self.power.read() if self.power is not None else None
            walls, cpus = self._time_both(fn, calls)
            basis, share = self._basis(reference_walls + walls, reference_cpus + cpus)
            reference, times = (reference_cpus, cpus) if basis == "cpu" else (reference_walls, walls)
            fastest = max(min(reference), 1e-12)
            rounds.references.append(fastest)
            rounds.stable.append(basis != "none"
                                 and float(np.median(reference)) <= (1.0 + self.reference_spread) * fastest)
            rounds.bases.append(basis)
            rounds.shares.append(share)
            rounds.workloads.append(float(np.quantile(times, self.quantile)))
            rounds.all_calls += walls
            if before is not None:
                after = self.power.read()
                rounds.readings += [before, after]
                batch_mj = _batch_energy_mj(before, after)
                rounds.energies.append(batch_mj / calls)
                seconds = after.time_s - before.time_s
                rounds.powers.append(batch_mj / seconds if seconds > 0 else float("nan"))      # mJ / s = mW
        return rounds

    def _summarise(self, rounds: "_Rounds", floor_ms: float, cool: bool) -> Timing:
        """Bounded drift correction on stable rounds, outlier rejection, the median and the flags."""
        references_arr, workloads_arr = np.array(rounds.references), np.array(rounds.workloads)
        stable = np.array(rounds.stable)
        fastest_reference = references_arr[stable].min() if stable.any() else references_arr.min()
        factor = references_arr / fastest_reference
        usable = stable & (factor <= self.max_correction)
        corrected = workloads_arr / np.where(usable, factor, 1.0)
        keep = usable.copy()
        if usable.any():
            center = np.median(corrected[usable])
            mad = 1.4826 * np.median(np.abs(corrected[usable] - center))
            if mad > 0:
                keep &= np.abs(corrected - center) <= self.mad_k * mad
        kept = corrected[keep] if keep.any() else workloads_arr
        median = float(np.median(kept))
        spread = float((np.percentile(kept, 90) - np.percentile(kept, 10)) / median) if median > 0 else 0.0
        flags = []
        if keep.any() and float(factor[keep].max()) - 1.0 > self.drift_limit:
            flags.append("drift")
        if spread > self.unstable_spread:
            flags.append("unstable")
        if keep.any() and "cpu" in np.array(rounds.bases)[keep]:
            flags.append("contended")
        if int(usable.sum()) < (self.rounds + 1) // 2:
            flags.append("disturbed")
        if floor_ms > 0 and 1e3 * median < floor_ms:
            flags.append("implausible")
        if not cool:
            flags.append("hot")
        energy, power = _energy(rounds, keep)
        if rounds.readings:
            flags += _reading_flags(rounds.readings)
        return Timing(median_ms=1e3 * median, raw_median_ms=1e3 * float(np.median(rounds.all_calls)), spread=spread,
                      rounds=self.rounds, kept_rounds=int(keep.sum()), calls=rounds.calls * self.rounds,
                      drift=float(references_arr.max() / references_arr.min()),
                      correction=float(factor[keep].max()) if keep.any() else 1.0,
                      cpu_share=float(np.median(rounds.shares)), flags=tuple(flags),
                      reference_ms=1e3 * float(fastest_reference), floor_ms=floor_ms, energy_mj=energy,
                      power_mw=power)


@dataclass(slots=True)
class _Rounds:
    """What one measurement's rounds recorded: per round the fastest and steadiness of the reference (s),
    the workload's low quantile (s), the clock it was timed by (``wall``, ``cpu``, ``none``: too little
    CPU to time) and the share of a core the calls got, energy per call (mJ) and power (mW); every
    workload call (s, wall clock)."""

    calls: int
    bases: list = field(default_factory=list)
    shares: list = field(default_factory=list)
    references: list = field(default_factory=list)
    stable: list = field(default_factory=list)
    workloads: list = field(default_factory=list)
    all_calls: list = field(default_factory=list)
    energies: list = field(default_factory=list)
    powers: list = field(default_factory=list)
    readings: list = field(default_factory=list)


def _energy(rounds: _Rounds, keep: np.ndarray) -> tuple[float | None, float | None]:
    """Median energy per call (mJ, as run: not drift-corrected) and power (mW) over the kept rounds."""
    if not rounds.readings:
        return None, None
    chosen = keep if keep.any() else np.ones(len(keep), bool)
    kept_energy = np.array(rounds.energies)[chosen]
    kept_energy = kept_energy[np.isfinite(kept_energy)]
    kept_power = np.array(rounds.powers)[chosen]
    kept_power = kept_power[np.isfinite(kept_power)]
    return (float(np.median(kept_energy)) if kept_energy.size else None,
            float(np.median(kept_power)) if kept_power.size else None)


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
