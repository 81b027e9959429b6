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

Every measurement goes through the drift-correcting :class:`Harness` and is
appended to a tidy CSV (one row per layer and pass, rewritten atomically);
a rerun skips what the file already holds, and a lock file keeps a second
process from writing the same sweep. ``SWEEP.meta.json`` beside it records
the runtime, the device and the roofline probe, so ``edgeperf fit SWEEP``
can fit on another machine. The time of an empty model (one element through
one operator) is the runtime's per-call overhead; it is subtracted from every
single-layer time before fitting, because whole networks pay it once.
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
import json
import math
import random
import statistics
from dataclasses import dataclass
from pathlib import Path

from .._atomic import write_text_atomic
from .._errors import DisturbedError, InputError
from .._lock import exclusive
from ._harness import EXCLUDING_FLAGS, Harness, is_disturbed, raise_if_disturbed
from ._meta import check_or_record, meta_path
from ._plausible import ceilings, graph_floor_ms
from ._trace import read_sweep_rows

__all__ = ["SweepPlan", "plan_sweep", "run_sweep", "read_layer_sweep", "fit_sweep", "LAYER_SWEEP_COLUMNS",
           "EMPTY_LAYER", "STEP_CANDIDATES", "MAX_OVERHEAD_CORRECTION"]

LAYER_SWEEP_COLUMNS = ("reference", "kind", "round", "pass", "latency_ms", "raw_latency_ms", "spread", "drift",
                       "flags", "reference_ms", "energy_mj", "power_mw", "measured_at")
#: The empty model whose time is the runtime's per-call overhead.
EMPTY_LAYER = "zoo:layer:relu,c=1,hw=1"
#: Step widths tried on channel dimensions.
STEP_CANDIDATES = (1, 2, 4, 8, 16, 32)
#: The most the per-call overhead may shrink a layer's time: a layer whose time is more than 80 %
#: overhead is left out (and counted) rather than fitted to a remainder scaled up to 5x its size.
MAX_OVERHEAD_CORRECTION = 5.0
_STEP_DIMS = {"conv": ("c_out", "c_in"), "dwconv": ("c_out",), "gemm": ("c_out", "c_in")}


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
    from ..zoo import layer_reference

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


def read_layer_sweep(path) -> list[dict]:
    """Rows of a layer sweep file (missing file: no rows).

    Raises
    ------
    InputError
        For a file without the sweep columns, or a non-positive latency.
    """
    path = Path(path)
    rows = read_sweep_rows(path, LAYER_SWEEP_COLUMNS, "an edgeperf layer sweep")
    for line, row in enumerate(rows, start=2):
        if not str(row.get("reference", "")).startswith("zoo:layer:"):
            raise InputError(f"{path}:{line}: reference {row.get('reference')!r} is not a zoo:layer: reference")
        try:
            value = float(row["latency_ms"])
        except (TypeError, ValueError):
            value = -1.0
        if not (value > 0 and math.isfinite(value)):
            raise InputError(f"{path}:{line}: latency_ms must be a positive number (ms), got {row['latency_ms']!r}")
    return rows


def _write(path: Path, rows: list[dict]) -> None:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=LAYER_SWEEP_COLUMNS, lineterminator="\n", restval="")
    writer.writeheader()
    writer.writerows(rows)
    write_text_atomic(path, out.getvalue())


def _neighbours(reference: str, rng: random.Random) -> list[str]:
    """Points near ``reference``: channels scaled by up to +-25 %, and channels + 1 (across a step boundary)."""
    from ..zoo import layer_reference, parse_layer

    kind, params = parse_layer(reference.removeprefix("zoo:layer:"))
    channel_keys = [k for k in ("cout", "cin", "c") if k in params]
    result = []
    for key in channel_keys[:1]:
        for value in (max(1, round(params[key] * rng.uniform(0.75, 1.25))), params[key] + 1):
            result.append(layer_reference(kind, **{**params, key: min(value, 8192)}))
    return [r for r in result if r != reference]


def _samples(rows: list[dict], overhead_ms: float):
    """One sample per layer (median over passes, the per-call overhead subtracted), and how many were left out."""
    from ..profiles import NetworkSample

    groups: dict[str, list[float]] = {}
    energy: dict[str, list[float]] = {}
    for row in rows:
        if row["reference"] == EMPTY_LAYER or any(f in row["flags"].split(";") for f in EXCLUDING_FLAGS):
            continue
        groups.setdefault(row["reference"], []).append(float(row["latency_ms"]))
        if row.get("energy_mj"):
            energy.setdefault(row["reference"], []).append(float(row["energy_mj"]))
    samples, overhead_dominated = [], 0
    for reference, values in sorted(groups.items()):
        measured = statistics.median(values)
        if measured - overhead_ms < measured / MAX_OVERHEAD_CORRECTION:
            overhead_dominated += 1
            continue
        samples.append(NetworkSample(model=reference, latency_ms=measured - overhead_ms, line=len(samples) + 2,
                                     energy_mj=statistics.median(energy[reference]) if reference in energy else None))
    return samples, overhead_dominated


def _overhead(rows: list[dict]) -> float:
    empty = [r for r in rows if r["reference"] == EMPTY_LAYER]
    steady = [r for r in empty if not is_disturbed(r["flags"])] or empty
    return statistics.median(float(r["latency_ms"]) for r in steady) if steady else 0.0


def run_sweep(runner, sweep_path, *, plan: SweepPlan | None = None, harness: Harness | None = None, power=None,
              progress=lambda message: None, retry_budget_s: float | None = None) -> list[dict]:
    """Measure a plan's single layers on this device, refining adaptively; resumable.

    Parameters
    ----------
    runner : OnnxRuntimeRunner (or any runner with ``load(bytes).run`` and ``settings()``)
    sweep_path : str or Path
        The sweep CSV: rows already there are skipped, new ones appended (atomic rewrite).
    plan : SweepPlan, optional
    harness : Harness, optional
    power : source, optional
        Records energy per call where it measures power.
    retry_budget_s : float, optional
        Seconds the default harness may spend re-measuring what other load disturbed.

    Returns
    -------
    list of dict
        Every row of the sweep file.

    Raises
    ------
    InputError
        When another process holds the sweep, or the file is not a layer sweep.
    DisturbedError
        When more than a quarter of the measurements stayed disturbed by other load (the sweep
        keeps them; a rerun measures them again), or a roofline probe exceeded the physical ceiling.
    """
    from ..estimator import graph_from_model
    from ..zoo import build_model

    from ._calibrate import measure_roofline
    from ._device import device_info

    plan = plan or plan_sweep()
    harness = harness or Harness(rounds=plan.rounds, round_s=plan.round_s, warmup_s=0.05, power=power,
                                 retry_budget_s=retry_budget_s)
    path = Path(sweep_path)
    with exclusive(path):
        rows = read_layer_sweep(path)
        info = device_info()
        ceiling = ceilings(runner.settings(), info)

        def first_record():
            roofline = measure_roofline(runner, harness, ceiling)
            progress(f"roofline: {roofline['peak_gflops']:.1f} GFLOP/s, {roofline['bandwidth_gbps']:.1f} GB/s")
            return {"roofline": roofline, "started": _dt.datetime.now().isoformat(timespec="seconds"),
                    "power_source": power.describe() if power is not None else {"source": "none"}}

        check_or_record(path, runner.settings(), info, first_record)
        # a measurement that other load disturbed is measured again by a rerun, in its place
        position = {(r["reference"], str(r["pass"])): i for i, r in enumerate(rows)}
        done = {(r["reference"], str(r["pass"])) for r in rows if not is_disturbed(r["flags"])}

        def measure(points, round_index):
            work = [(p, k) for k in range(plan.passes) for p in points]
            random.Random(plan.seed + round_index).shuffle(work)
            for reference, index in work:
                if (reference, str(index)) in done:
                    continue
                model = build_model(reference.removeprefix("zoo:"), weights=True)
                # the physical ceiling only: a probe slowed by other load would raise the floor
                floor = graph_floor_ms(graph_from_model(model, name=reference), ceiling=ceiling)
                timing = harness.measure(runner.load(model.SerializeToString()).run, floor_ms=floor)
                row = {
                    "reference": reference, "kind": reference.split(":")[2].split(",")[0], "round": round_index,
                    "pass": index, "latency_ms": f"{timing.median_ms:.6g}", "raw_latency_ms": f"{timing.raw_median_ms:.6g}",
                    "spread": f"{timing.spread:.4f}", "drift": f"{timing.drift:.4f}", "flags": ";".join(timing.flags),
                    "reference_ms": f"{timing.reference_ms:.6g}",
                    "energy_mj": f"{timing.energy_mj:.6g}" if timing.energy_mj is not None else "",
                    "power_mw": f"{timing.power_mw:.6g}" if timing.power_mw is not None else "",
                    "measured_at": _dt.datetime.now().isoformat(timespec="seconds"),
                }
                key = (reference, str(index))
                if key in position:
                    rows[position[key]] = row
                else:
                    position[key] = len(rows)
                    rows.append(row)
                done.add(key)
                _write(path, rows)
                progress(f"round {round_index} pass {index + 1}/{plan.passes} {reference}: {timing.median_ms:.4f} ms "
                         f"{' '.join(timing.flags)}".rstrip())

        measure((EMPTY_LAYER, *plan.points), 0)
        raise_if_disturbed(sum(is_disturbed(r["flags"]) for r in rows), len(rows))
        rng = random.Random(plan.seed)
        for round_index in range(1, plan.refine_rounds + 1):
            planned = [r for r in rows if int(r["round"]) == round_index]
            if planned:
                points = sorted({r["reference"] for r in planned})      # resume the round as it was planned
            else:
                errors = sorted(_residuals(*_fit_rows(path, rows, None)).items(), key=lambda item: -abs(item[1]))
                points = []
                for reference, _ in errors[:plan.refine_points]:
                    points += [p for p in _neighbours(reference, rng) if p not in points]
                progress(f"refinement {round_index}: worst fitted points off by "
                         f"{100 * abs(errors[0][1]):.0f}%..{100 * abs(errors[min(len(errors), plan.refine_points) - 1][1]):.0f}%"
                         f"; measuring {len(points)} neighbours")
            measure(points, round_index)
        raise_if_disturbed(sum(is_disturbed(r["flags"]) for r in rows), len(rows))
    return rows


def _base(path: Path, name: str):
    from ..profiles import parse_profile

    from ._calibrate import base_document

    meta_file = meta_path(path)
    if not meta_file.is_file():
        raise InputError(f"{meta_file}: missing; `edgeperf sweep` writes it beside the sweep (runtime, device, "
                         "roofline probe)")
    try:
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
        document = base_document(name, meta["runtime"], meta["roofline"], meta["device"])
    except (json.JSONDecodeError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise InputError(f"{meta_file}: not a sweep meta file ({type(exc).__name__}: {exc})") from None
    return parse_profile(document, where=str(meta_file)), meta


def _fit_rows(path: Path, rows: list[dict], steps: dict | None, name: str = "sweep"):
    """The fit of a sweep's layers (FitResult), and the samples it was fitted to."""
    from ..profiles import fit_from_networks

    base, _ = _base(path, name)
    samples, _ = _samples(rows, _overhead(rows))
    if len(samples) < 3:
        disturbed = sum(is_disturbed(r["flags"]) for r in rows)
        if disturbed:       # too few left to fit because of other load: the machine, not the input
            raise DisturbedError(disturbed, len(rows))
        raise InputError(f"{path}: fewer than 3 measured layers; run `edgeperf sweep` to complete it")
    return fit_from_networks(samples, base, name=name, precision="fp32", source=str(path), steps=steps), samples


def _residuals(fit, samples) -> dict:
    """Relative error of the fitted profile on each measured layer (the refinement's guide)."""
    from ..estimator import estimate_mapped, load_model, map_graph, resolve_operating_point

    point = resolve_operating_point(fit.profile)
    residuals = {}
    for sample in samples:
        mapped = map_graph(load_model(sample.model), fit.profile.mapping)
        predicted = estimate_mapped(mapped, fit.profile, precision="fp32", point=point).total_latency_ms
        residuals[sample.model] = (predicted - sample.latency_ms) / sample.latency_ms
    return residuals


def fit_sweep(sweep_path, *, name: str, progress=lambda message: None):
    """Fit a profile to a layer sweep, discovering step widths per class from the data.

    Returns
    -------
    FitResult
        Its document's provenance says how many measurements and layers the profile rests on,
        the per-call overhead subtracted and the step widths chosen.

    Raises
    ------
    InputError
        For a missing or incomplete sweep.
    """
    path = Path(sweep_path)
    rows = read_layer_sweep(path)
    if not rows:
        raise InputError(f"{path}: no such sweep (or empty); run `edgeperf sweep --out {path}` first")
    best, _ = _fit_rows(path, rows, None, name)
    chosen: dict = {}
    for op_class, dims in _STEP_DIMS.items():
        if op_class not in best.fitted_classes:
            continue
        for dim in dims:
            scores = {}
            for width in STEP_CANDIDATES:
                trial = {**chosen, op_class: {**chosen.get(op_class, {}), dim: {"par": width}}} if width > 1 else chosen
                scores[width] = _fit_rows(path, rows, trial or None, name)[0].cross_validation["mape"]
            width = min(scores, key=scores.get)
            if width > 1 and scores[width] < 0.98 * scores[1]:
                chosen = {**chosen, op_class: {**chosen.get(op_class, {}), dim: {"par": width}}}
                progress(f"{op_class} {dim}: step width {width} (cross-validated MAPE {100 * scores[width]:.1f}% "
                         f"against {100 * scores[1]:.1f}% without)")
    final, samples = _fit_rows(path, rows, chosen or None, name)
    document = final.document
    overhead = _overhead(rows)
    excluded = sum(1 for r in rows if any(f in r["flags"].split(";") for f in EXCLUDING_FLAGS))
    document["provenance"].update({
        "measurements": len(rows), "layers": len(samples), "refinement_rounds":
            max((int(r["round"]) for r in rows), default=0),
        "per_call_overhead_ms": overhead, "step_widths": chosen, "excluded_flagged": excluded,
        "excluded_overhead_dominated": _samples(rows, overhead)[1],
        "method": "single-layer sweep, adaptive refinement, step widths chosen by cross-validation",
    })
    document["quality"] += (f" Rests on {len(rows)} measurements of {len(samples)} single layers "
                            f"(per-call overhead {overhead:.4f} ms subtracted).")
    return final
