"""Sparse, adaptive single-layer sweeps on a real device, and the profile fitted to them.

The method of seed 003 (ANNETTE, Blackthorn): measure few, well-chosen single
layers per operator type, fit step-plus-linear models per class, and
estimate whole networks from them. The sweep runs in rounds:

1. a coarse plan: a seeded, log-spaced spread of shapes per layer kind
   (convolution, depthwise convolution, fully connected, pooling, element-wise);
2. refinement rounds (nn-Meter's adaptive sampling, ANNETTE's iterative
   refinement): fit the points measured so far, and measure neighbours of the
   points the fit explains worst, including the channel count plus one, which
   straddles a step boundary if there is one;
3. the fit (:func:`fit_sweep`) tries step widths 1, 2, 4, 8, 16, 32 on the
   channel dimensions of each class and keeps the width whose cross-validated
   error is lowest (a width other than 1 must win by 2 %), so step widths
   come from the data, not from an assumption.

Every measurement goes through the load-robust :class:`Harness`, is held to
its physical floor, and is appended to a tidy CSV (one row per layer and pass,
rewritten atomically); the layers a refinement round will measure are recorded
before the round starts, so a rerun skips what the file already holds
(measuring again what other load disturbed) and finishes the round it was
interrupted in; a lock file keeps a second process from writing the same
sweep. More than a quarter disturbed ends the sweep with
:class:`DisturbedError` (exit code 3). ``SWEEP.meta.json`` beside it records
the runtime, the device and the roofline probe, so ``edgeperf fit SWEEP``
can fit on another machine. The time of an empty model (one element through
one operator) is the runtime's per-call overhead; it is subtracted from every
single-layer time before fitting, because whole networks pay it once; a layer
whose time is mostly that overhead is left out (and counted) rather than
fitted to a remainder stretched more than :data:`MAX_OVERHEAD_CORRECTION` times.
"""

from __future__ import annotations

import datetime as _dt
import math
import random
import statistics
from dataclasses import dataclass, replace
from pathlib import Path

from .._errors import InputError
from .._lock import exclusive
from .._messages import show
from .._progress import draws_bars, step
from .._userfile import probe, user_path
from ..fitting import FitResult, NetworkSample, fit_layer_sweep, fit_from_networks, validate_table
from ..zoo import layer_reference, parse_layer_reference, runnable_model
from ._harness import Harness, cpu_timing
from ._meta import check_or_record, meta_path, planned_round, read_meta, record_round
from ._pipeline import LAYER_SWEEP, SweepRecord, measure_items, median_groups, read_records
from ._pipeline import raise_if_too_disturbed, too_few_to_fit
from ._plausible import ceilings
from ._protocols import PowerSource, Runner

__all__ = ["SweepPlan", "plan_sweep", "run_sweep", "read_layer_sweep", "fit_sweep", "EMPTY_LAYER",
           "MAX_OVERHEAD_CORRECTION"]

#: The empty model whose time is the runtime's per-call overhead.
EMPTY_LAYER = "zoo:layer:relu,c=1,hw=1"
#: The most the per-call overhead may shrink a layer's time: a layer whose time is more than 80 %
#: overhead is left out (and counted) rather than fitted to a remainder scaled up to 5x its size.
MAX_OVERHEAD_CORRECTION = 5.0


@dataclass(frozen=True, slots=True, kw_only=True)
class SweepPlan:
    """Coarse points, refinement rounds, and how long each measurement runs."""

    points: tuple[str, ...]
    refine_rounds: int = 2
    refine_points: int = 8
    passes: int = 2
    rounds: int = 5
    round_s: float = 0.03
    seed: int = 0


def _log_int(rng: random.Random, low: int, high: int) -> int:
    return int(round(math.exp(rng.uniform(math.log(low), math.log(high)))))


def _conv_macs(cin, cout, hw, k, s, groups=1):
    out = -(-hw // s)
    return cout * out * out * (cin // groups) * k * k


def plan_sweep(budget_minutes: float = 3.0, seed: int = 0) -> SweepPlan:
    """A coarse plan sized for ``budget_minutes`` on a small CPU (about 0.3 s per measurement).

    >>> plan = plan_sweep(3.0)
    >>> sum(p.startswith("zoo:layer:conv,") for p in plan.points) >= 10
    True
    """
    if not budget_minutes > 0:
        raise InputError(f"--budget-minutes must be > 0, got {budget_minutes}")
    scale = max(0.5, min(4.0, budget_minutes / 3.0))
    rng = random.Random(seed)
    points = []

    def take(count, make, limit_macs=4e8):
        made = 0
        tries = 0
        while made < int(round(count * scale)) and tries < 1000:
            tries += 1
            reference, macs = make()
            if macs <= limit_macs and reference not in points:
                points.append(reference)
                made += 1

    def conv():
        p = dict(cin=_log_int(rng, 3, 512), cout=_log_int(rng, 8, 512), hw=rng.choice((7, 14, 28, 56, 112)),
                 k=rng.choice((1, 3, 3)), s=rng.choice((1, 1, 2)))
        return layer_reference("conv", **p), _conv_macs(p["cin"], p["cout"], p["hw"], p["k"], p["s"])

    def dwconv():
        p = dict(c=_log_int(rng, 16, 960), hw=rng.choice((7, 14, 28, 56, 112)), k=rng.choice((3, 5)),
                 s=rng.choice((1, 2)))
        return layer_reference("dwconv", **p), _conv_macs(p["c"], p["c"], p["hw"], p["k"], p["s"], p["c"])

    def gemm():
        p = dict(cin=_log_int(rng, 64, 4096), cout=_log_int(rng, 10, 4096))
        return layer_reference("gemm", **p), p["cin"] * p["cout"]

    def pool(kind):
        def make():
            p = dict(c=_log_int(rng, 16, 512), hw=rng.choice((14, 28, 56, 112)), k=rng.choice((2, 3)), s=2)
            return layer_reference(kind, **p), p["c"] * p["hw"] ** 2
        return make

    def elementwise(kind):
        def make():
            p = dict(c=_log_int(rng, 16, 512), hw=rng.choice((7, 14, 28, 56, 112)))
            return layer_reference(kind, **p), p["c"] * p["hw"] ** 2
        return make

    take(16, conv)
    take(8, dwconv)
    take(6, gemm)
    take(3, pool("maxpool"))
    take(2, pool("avgpool"))
    take(3, elementwise("add"))
    take(3, elementwise("relu"))
    take(2, elementwise("sigmoid"))
    return SweepPlan(points=tuple(points), seed=seed)


def read_layer_sweep(path) -> list[SweepRecord]:
    """The records of a layer sweep file (missing file: none).

    Raises
    ------
    InputError
        For a file without the sweep columns, a reference that is not a layer, or a non-positive latency.
    """
    return read_records(path, LAYER_SWEEP)


def _neighbours(reference: str, rng: random.Random) -> list[str]:
    """Points near ``reference``: channels scaled by up to +-25 %, and channels + 1 (across a step boundary)."""
    kind, params = parse_layer_reference(reference)
    channel_keys = [k for k in ("cout", "cin", "c") if k in params]
    result = []
    for key in channel_keys[:1]:
        for value in (max(1, round(params[key] * rng.uniform(0.75, 1.25))), params[key] + 1):
            result.append(layer_reference(kind, **{**params, key: min(value, 8192)}))
    return [r for r in result if r != reference]


def _samples(records: list[SweepRecord]) -> tuple[list[NetworkSample], int]:
    """One sample per measured layer (sorted by reference), and how many layers were left out.

    A sample is the median over passes less the per-call overhead: whole networks pay the runtime's
    per-call overhead (the empty layer's time) once, so each layer's share of it is taken out. A
    layer whose remainder would be less than 1/:data:`MAX_OVERHEAD_CORRECTION` of its measured time
    is left out and counted: its own time cannot be told from the overhead's noise.
    """
    overhead_ms = _overhead(records)
    groups = median_groups([r for r in records if r.reference != EMPTY_LAYER], lambda record: record.reference)
    samples, overhead_dominated = [], 0
    for reference, (latency, energy) in sorted(groups.items()):
        if latency - overhead_ms < latency / MAX_OVERHEAD_CORRECTION:
            overhead_dominated += 1
            continue
        samples.append(NetworkSample(model=reference, line=len(samples) + 2, energy_mj=energy,
                                     latency_ms=latency - overhead_ms))
    return samples, overhead_dominated


def _overhead(records: list[SweepRecord]) -> float:
    """The empty layer's median time (ms), over its undisturbed measurements where there are any."""
    empty = [record for record in records if record.reference == EMPTY_LAYER]
    steady = [record for record in empty if not record.disturbed] or empty
    return statistics.median(record.latency_ms for record in steady) if steady else 0.0


def run_sweep(runner: Runner, sweep_path, *, plan: SweepPlan | None = None, harness: Harness | None = None,
              power: PowerSource | None = None, progress=lambda message: None,
              retry_budget_s: float | None = None) -> list[SweepRecord]:
    """Measure a plan's single layers on this device, refining adaptively; resumable.

    Parameters
    ----------
    runner : Runner
        Loads model bytes (``OnnxRuntimeRunner`` or any runner with ``load(bytes).run`` and ``settings()``).
    sweep_path : str or Path
        The sweep CSV: measurements already there are skipped, new ones appended (atomic rewrite).
    plan : SweepPlan, optional
    harness : Harness, optional
    power : PowerSource, optional
        Records energy per call where it measures power.
    retry_budget_s : float, optional
        Seconds the default harness may spend re-measuring what other load disturbed.

    Returns
    -------
    list of SweepRecord
        Every measurement of the sweep file.

    Raises
    ------
    InputError
        When another process holds the sweep, or the file is not a layer sweep.
    DisturbedError
        When more than a quarter of the measurements stayed disturbed by other load (the sweep
        keeps them; a rerun measures them again), or a roofline probe exceeded the physical ceiling.
    """
    plan = plan or plan_sweep()
    harness = harness or Harness(rounds=plan.rounds, round_s=plan.round_s, warmup_s=0.05, power=power,
                                 retry_budget_s=retry_budget_s, **cpu_timing(runner.settings()))
    path = user_path(sweep_path, what="sweep")
    with exclusive(path):
        records = read_layer_sweep(path)
        ceiling, meta = _start(path, runner, harness, power, progress)

        def measure(points, round_index):
            _measure_round(plan, points, round_index, path=path, records=records, runner=runner, harness=harness,
                           progress=progress, ceiling=ceiling)

        measure((EMPTY_LAYER, *plan.points), 0)
        raise_if_too_disturbed(records)
        for round_index in range(1, plan.refine_rounds + 1):
            points = planned_round(path, meta, round_index)             # resume the round as it was planned
            if points is None:
                planned = [r for r in records if r.round == round_index]     # a sweep from before plans were kept
                points = sorted({r.reference for r in planned}) if planned else None
            if points is None:
                rng = random.Random(f"{plan.seed}:{round_index}")         # the same neighbours however often resumed
                points = _refinement_points(path, records, plan, rng, round_index, progress)
                meta = record_round(path, meta, round_index, points)     # kept before measuring: a kill loses nothing
            measure(points, round_index)
        raise_if_too_disturbed(records)
    return records


def _start(path: Path, runner: Runner, harness: Harness, power, progress) -> tuple[dict | None, dict]:
    """The device's physical ceilings, and the sweep's record (on a new sweep: the runtime, device and
    roofline probe, recorded beside it)."""
    from ._calibrate import measure_roofline, probe_nchwc
    from ._device import device_info

    info = probe_nchwc(runner, device_info())     # the sweep's fit maps networks as this runtime does
    ceiling = ceilings(runner.settings(), info)

    def first_record():
        roofline = measure_roofline(runner, harness, ceiling)
        progress(f"roofline: {roofline['peak_gflops']:.1f} GFLOP/s, {roofline['bandwidth_gbps']:.1f} GB/s")
        return {"roofline": roofline, "started": _dt.datetime.now().isoformat(timespec="seconds"),
                "power_source": power.describe() if power is not None else {"source": "none"}}

    return ceiling, check_or_record(path, runner.settings(), info, first_record)


def _measure_round(plan: SweepPlan, points, round_index: int, *, path, records, runner, harness, progress,
                   ceiling) -> None:
    """Measure one round's points (appended to ``records`` and the file); a bar gets n/N, else a line each."""
    def measured(r: SweepRecord) -> None:
        if not draws_bars(progress):
            progress(f"round {r.round} pass {r.pass_ + 1}/{plan.passes} {r.reference}: "
                     f"{r.latency_ms:.4f} ms {' '.join(r.flags)}".rstrip())

    label = "coarse plan" if round_index == 0 else f"refinement round {round_index}"
    measure_items(_round_items(plan, points, round_index), path=path, fmt=LAYER_SWEEP, records=records,
                  runner=runner, harness=harness, model_of=lambda item: runnable_model(item["reference"]),
                  ceiling=ceiling, progress=measured, steps=lambda done, total: step(progress, done, total, label))


def _round_items(plan: SweepPlan, points, round_index: int) -> list[dict]:
    """Every (point, pass) of a round, in the round's own seeded random order."""
    work = [(p, k) for k in range(plan.passes) for p in points]
    random.Random(plan.seed + round_index).shuffle(work)
    return [{"reference": reference, "kind": parse_layer_reference(reference)[0], "round": round_index,
             "pass_": index} for reference, index in work]


def _refinement_points(path: Path, records, plan: SweepPlan, rng: random.Random, round_index: int, progress) -> list:
    """Neighbours of the points the fit so far explains worst (nn-Meter's adaptive sampling)."""
    base, _ = _base(path, "sweep")
    samples, _ = _samples(records)
    if len(samples) < 3:
        raise too_few_to_fit(records, path, "measured layers; run `edgeperf sweep` to complete it")
    fit = fit_from_networks(samples, base, name="sweep", precision="fp32", source=str(path))
    report = validate_table(samples, fit.profile, precision="fp32")
    errors = sorted(((row.model, row.error) for row in report.rows), key=lambda item: -abs(item[1]))
    points = []
    for reference, _ in errors[:plan.refine_points]:
        points += [p for p in _neighbours(reference, rng) if p not in points]
    progress(f"refinement {round_index}: worst fitted points off by "
             f"{100 * abs(errors[0][1]):.0f}%..{100 * abs(errors[min(len(errors), plan.refine_points) - 1][1]):.0f}%"
             f"; measuring {len(points)} neighbours")
    return points


def _base(path: Path, name: str):
    from ._calibrate import base_profile

    meta_file = meta_path(path)
    if probe(meta_file) is None:
        raise InputError(f"{meta_file}: missing; `edgeperf sweep` writes it beside the sweep (runtime, device, "
                         "roofline probe)")
    meta = read_meta(path)
    try:
        profile = base_profile(name, meta["runtime"], meta["roofline"], meta["device"])
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InputError(f"{meta_file}: not a sweep meta file ({type(exc).__name__}: {show(str(exc), 100)})") from None
    return profile, meta


def fit_sweep(sweep_path, *, name: str, progress=lambda message: None) -> FitResult:
    """Fit a profile to a layer sweep, discovering step widths per class from the data.

    Returns
    -------
    FitResult
        Its profile's provenance says how many measurements and layers the profile rests on,
        the per-call overhead subtracted and the step widths chosen.

    Raises
    ------
    InputError
        For a missing or incomplete sweep.
    DisturbedError
        When other load left too few undisturbed layers to fit.
    """
    path = user_path(sweep_path, what="sweep")
    records = read_layer_sweep(path)
    if not records:
        raise InputError(f"{path}: no such sweep (or empty); run `edgeperf sweep --out {path}` first")
    base, _ = _base(path, name)
    samples, overhead_dominated = _samples(records)
    if len(samples) < 3:
        raise too_few_to_fit(records, path, "measured layers; run `edgeperf sweep` to complete it")
    fit = fit_layer_sweep(samples, base, name=name, source=str(path), progress=progress)
    overhead = _overhead(records)
    provenance = fit.profile.provenance.with_details(
        measurements=len(records), layers=len(samples), refinement_rounds=max((r.round for r in records), default=0),
        per_call_overhead_ms=overhead, excluded_flagged=sum(bool(r.excluded_by) for r in records),
        excluded_overhead_dominated=overhead_dominated,
        method="single-layer sweep, adaptive refinement, step widths chosen by cross-validation")
    quality = fit.profile.quality + (f" Rests on {len(records)} measurements of {len(samples)} single layers "
                                     f"(per-call overhead {overhead:.4f} ms subtracted).")
    return replace(fit, profile=replace(fit.profile, provenance=provenance, quality=quality))
