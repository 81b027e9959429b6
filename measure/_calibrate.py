"""Calibrate a profile on the device this runs on: measure networks, fit, validate.

The loop (``edgeperf calibrate``):

1. measure the device's own roofline through the runtime: peak arithmetic throughput (a large
   MatMul) and memory bandwidth (a large element-wise Add); these become the profile's peaks,
   with "measured here" as their source;
2. measure a planned set of training networks (zoo networks at several resolutions and widths,
   and NAS-Bench-201 members) with the drift-correcting harness, each result appended to a sweep
   file that is rewritten atomically, so an interrupted calibration resumes where it stopped;
3. fit per-class step-linear layer models to the measured totals (``fit_from_networks``);
4. validate on held-out ImageNet networks at their full resolution and report measured,
   predicted and error per network.

The budget decides how many networks are measured and in how many interleaved passes.
Single-layer adaptive sweeps (ANNETTE-style) are not part of this loop yet.
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
import random
import statistics
from dataclasses import dataclass
from pathlib import Path

from .._atomic import write_text_atomic
from .._errors import InputError
from .._lock import exclusive
from .._errors import DisturbedError
from ._device import device_info
from ._harness import EXCLUDING_FLAGS, Harness, is_disturbed, raise_if_disturbed
from ._meta import check_or_record
from ._plausible import CEILING_SOURCE, ceilings, floor_ms, graph_floor_ms
from ._trace import read_sweep_rows

__all__ = ["CalibrationPlan", "plan_calibration", "calibrate", "CalibrationResult", "read_sweep", "SWEEP_COLUMNS",
           "OPTIONAL_COLUMNS", "EXCLUDING_FLAGS", "base_document", "measure_roofline",
           "VALIDATION_NETWORKS"]

SWEEP_COLUMNS = ("reference", "input_size", "role", "pass", "latency_ms", "raw_latency_ms", "spread", "drift",
                 "flags", "reference_ms", "measured_at")
#: Optional sweep columns (written when a power source is used; older sweep files lack them).
OPTIONAL_COLUMNS = ("energy_mj", "power_mw")
#: Share of the budget a calibration may spend re-measuring what other load disturbed.
RETRY_SHARE = 0.25
#: Held-out ImageNet CNNs, measured at their paper resolution.
VALIDATION_NETWORKS = ("resnet18", "resnet50", "mobilenet_v1", "mobilenet_v2", "mobilenet_v3_large",
                       "mobilenet_v3_small", "squeezenet1_1", "shufflenet_v2_x1_0", "efficientnet_b0", "googlenet",
                       "densenet121", "vgg11")
#: Training networks at reduced sizes and widths: the same layer types in other shapes.
_TRAINING = (("mobilenet_v2@0.5", 160), ("mobilenet_v3_small", 192), ("resnet18", 128), ("squeezenet1_0", 160),
             ("shufflenet_v2_x1_5", 160), ("efficientnet_b0", 128), ("googlenet", 128), ("mobilenet_v1@0.75", 160),
             ("densenet121", 96), ("vgg11", 64), ("alexnet", 160), ("mobilenet_v3_large@0.75", 128),
             ("mobilenet_v1@0.5", 128), ("mobilenet_v2@0.75", 128), ("resnet34", 96), ("inception_v3", 160),
             ("shufflenet_v2_x0_5", 224), ("squeezenet1_1", 128),
             # hard-swish, squeeze-excite and their small-tensor overheads appear in few networks: three
             # more MobileNet v3 shapes keep those classes determined (two calibrations disagreed by up to
             # 8.9 % on MobileNet v3 small without them)
             ("mobilenet_v3_small@0.75", 160), ("mobilenet_v3_small", 128), ("mobilenet_v3_large@0.5", 160))


@dataclass(frozen=True, slots=True, kw_only=True)
class CalibrationPlan:
    """What a calibration measures, and how long each measurement runs."""

    training: tuple[tuple[str, int | None], ...]
    validation: tuple[str, ...]
    rounds: int
    round_s: float
    passes: int = 3


def plan_calibration(budget_minutes: float = 10.0, seed: int = 0) -> CalibrationPlan:
    """A plan that fits in ``budget_minutes`` on a small CPU.

    Training measures the layer types of the validation networks in other shapes: the zoo's
    ImageNet networks at reduced resolutions and widths (never at 224x224 and full width, which
    validation holds out), plus a few NAS-Bench-201 members. A budget of 4 minutes or more adds
    resolutions and a third interleaved pass, 8 minutes five passes, 10 minutes (the default) seven
    (about 7 minutes here).

    Raises
    ------
    InputError
        For a budget below one minute.
    """
    from ..zoo import random_nb201

    if budget_minutes < 1:
        raise InputError(f"--budget-minutes must be at least 1, got {budget_minutes}")
    rng = random.Random(seed)
    nb201 = tuple((f"nb201:{random_nb201(rng)}", None) for _ in range(4))
    extra = ()
    if budget_minutes >= 4:
        extra = tuple((name, size) for name in ("resnet18", "mobilenet_v2", "mobilenet_v3_large", "efficientnet_b0",
                                                 "squeezenet1_1", "shufflenet_v2_x1_0", "mobilenet_v1", "googlenet")
                      for size in (96, 192))
    # every network is measured in several passes, each in a fresh random order, and its result is
    # the median over passes: a slow phase of the machine then hits all networks alike
    passes = 2 if budget_minutes < 4 else (3 if budget_minutes < 8 else (5 if budget_minutes < 10 else 7))
    return CalibrationPlan(training=_TRAINING + extra + nb201, validation=VALIDATION_NETWORKS, rounds=5,
                           round_s=0.06, passes=passes)


def read_sweep(path) -> list[dict]:
    """Rows of a sweep file (missing file: no rows).

    Raises
    ------
    InputError
        If the file lacks the sweep columns or holds a non-positive latency.
    """
    path = Path(path)
    rows = read_sweep_rows(path, SWEEP_COLUMNS, "an edgeperf sweep file")
    for line, row in enumerate(rows, start=2):
        for column in ("latency_ms", "reference_ms"):
            try:
                value = float(row[column])
            except ValueError:
                value = -1.0
            if not value > 0:
                raise InputError(f"{path}:{line}: {column} must be a positive number, got {row[column]!r}")
    return rows


def _write_sweep(path: Path, rows: list[dict]) -> None:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=SWEEP_COLUMNS + OPTIONAL_COLUMNS, lineterminator="\n", restval="")
    writer.writeheader()
    writer.writerows(rows)
    write_text_atomic(path, out.getvalue())


def measure_roofline(runner, harness: Harness, ceiling: dict | None = None) -> dict:
    """Peak fp32 GFLOP/s (1024^3 MatMul) and memory GB/s (Add of two 16 Mi-element tensors), via the runtime.

    Each probe is checked against the device's physical ``ceiling`` (:func:`ceilings`): a probe that
    still reports more than the hardware can do after re-measuring ends the command.

    Raises
    ------
    DisturbedError
        When a probe stays above the physical ceiling.
    """
    from onnx import TensorProto, helper

    def model(node, shapes, out_shape):
        inputs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in shapes]
        graph = helper.make_graph([node], "probe", inputs, [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)])
        proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        proto.ir_version = 8
        return proto.SerializeToString()

    n = 1024
    matmul = runner.load(model(helper.make_node("MatMul", ["a", "b"], ["y"]), [("a", [n, n]), ("b", [n, n])], [n, n]))
    elements = 16 * 2**20     # as 4096 x 4096: onnx's data propagation takes seconds on a 1-D tensor this long
    side = [4096, 4096]
    add = runner.load(model(helper.make_node("Add", ["a", "b"], ["y"]), [("a", side), ("b", side)], side))
    flops, moved = 2 * n**3, 3 * 4 * elements
    probes = (harness.measure(matmul.run, floor_ms=floor_ms(flops=flops, ceiling=ceiling)),
              harness.measure(add.run, floor_ms=floor_ms(flops=0, bytes_=moved, ceiling=ceiling)))
    impossible = sum("implausible" in timing.flags for timing in probes)
    if impossible:
        raise DisturbedError(impossible, len(probes))
    roofline = {"peak_gflops": flops / (probes[0].median_ms / 1e3) / 1e9,
                "bandwidth_gbps": moved / (probes[1].median_ms / 1e3) / 1e9,
                "probes_disturbed": sum(timing.disturbed for timing in probes)}
    if ceiling is not None:
        roofline.update(ceiling_gflops=ceiling["peak_gflops"], ceiling_gbps=ceiling["bandwidth_gbps"])
    return roofline


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class CalibrationResult:
    """The calibrated profile, its validation and what it rests on."""

    document: dict
    validation: dict
    measurements: int
    reused: int


def _measure_network(runner, harness, reference: str, size: int | None, ceiling: dict | None):
    from ..estimator import graph_from_model
    from ..zoo import build_model, build_space_model

    if reference.startswith("nb201:"):
        model = build_space_model("nb201", reference.split(":", 1)[1], weights=True)
    else:
        model = build_model(reference, weights=True, input_size=(size, size) if size else None)
    # the floor rests on the physical ceiling only: a roofline probe slowed by other load would raise it
    floor = graph_floor_ms(graph_from_model(model, name=reference), ceiling=ceiling)
    return harness.measure(runner.load(model.SerializeToString()).run, floor_ms=floor)


def _key(row: dict) -> tuple:
    return (row["reference"], str(row["input_size"]), row["role"], str(row["pass"]))


def base_document(name: str, settings: dict, roofline: dict, info: dict) -> dict:
    """The profile a calibration starts from: measured roofline peaks, onnxruntime's fusion rules, no power."""
    measured = "measured"
    today = _dt.date.today().isoformat()
    value = lambda v, note: {"value": round(v, 3), "source": measured, "note": note}  # noqa: E731
    return {
        "schema_version": 1, "name": name, "version": today, "kind": "calibrated",
        "title": f"{info.get('cpu') or 'this machine'}: {settings['name']} {settings['version']}, "
                 f"{settings['threads']} thread(s)",
        "quality": "calibrated (replaced after fitting)",
        "sources": {
            measured: f"measured by edgeperf on {today} on this device through {settings['name']} "
                      f"{settings['version']} ({settings['threads']} thread(s)): 1024^3 fp32 MatMul and "
                      f"16 Mi-element Add probes",
            "ort-fusion": "onnxruntime graph optimizations documentation: Conv+BatchNormalization folding, "
                          "Conv/Gemm + activation fusion, Conv + Add (+ Relu) fusion in the NCHWc layout, "
                          "MatMul + Add to Gemm; Q/DQ pairs folded into quantized kernels",
        },
        "runtime": dict(settings), "device": info,
        "precisions": {"fp32": {"peak_gflops": value(roofline["peak_gflops"], "1024^3 MatMul")}},
        "default_precision": "fp32",
        "memory_bandwidth_gbps": value(roofline["bandwidth_gbps"], "Add of two 64 MiB tensors, 3 x 64 MiB moved"),
        "clocks": {"compute_domain": "cpu", "memory_domain": "cpu",
                   "domains": {"cpu": {"reference_mhz": value(info.get("cpu_max_mhz", 1000.0),
                                                              "cpufreq scaling_max_freq where readable, else nominal 1000")}}},
        "power": {"idle_mw": {"value": 0.0, "source": measured, "note": "no power source on this device"},
                  "active_mw": {"default": {"value": 0.0, "source": measured, "note": "no power source"}},
                  "calibrated": False},
        "mapping": {"runtime": "onnxruntime CPU (graph optimization level all)", "elide": ["shape"], "rules": [
            {"name": "conv-bn-act-add", "primary": ["Conv", "ConvTranspose", "Gemm", "MatMul"],
             "followers": ["BatchNormalization", "Relu", "Clip", "LeakyRelu", "Sigmoid", "Tanh", "HardSigmoid",
                           "Add", "QuantizeLinear"],
             "max_followers": 4, "absorb_inputs": ["DequantizeLinear"], "source": "ort-fusion"}]},
        "layer_models": {"default": {"form": "roofline", "source": measured,
                                     "params": {"compute_efficiency": 1.0, "memory_efficiency": 1.0, "overhead_ms": 0.0}}},
    }


def calibrate(name: str, *, runner, sweep_path, budget_minutes: float = 10.0, harness: Harness | None = None,
              plan: CalibrationPlan | None = None, progress=lambda message: None, power=None,
              max_temp_c: float | None = None, temperature_c=None) -> CalibrationResult:
    """Run the whole calibration loop on this device.

    Parameters
    ----------
    name : str
        Name of the new profile.
    runner : OnnxRuntimeRunner
    sweep_path : str or Path
        The sweep file: finished measurements are read from it and skipped; new ones are added,
        each followed by an atomic rewrite.
    budget_minutes : float
        Sizes the plan (default about 10 minutes on a 2-core machine); a quarter of it more may go
        to re-measuring what other load disturbed.
    progress : callable(str)
        Receives one line per measured network (the CLI prints them).
    power : source, optional
        A power source (``edgeperf.measure`` sources); the sweep then records energy per
        inference and the profile's power model is fitted (``power.calibrated: true``).
    max_temp_c, temperature_c : optional
        Thermal guard: before each measurement wait until ``temperature_c()`` is below the limit.

    Returns
    -------
    CalibrationResult

    Raises
    ------
    DisturbedError
        When more than a quarter of the sweep's measurements stayed disturbed by other load after
        re-measuring, or a roofline probe reported more than the hardware can do. The sweep keeps
        everything measured; a rerun measures the disturbed ones again.
    """

    plan = plan or plan_calibration(budget_minutes)
    harness = harness or Harness(rounds=plan.rounds, round_s=plan.round_s, warmup_s=0.1, power=power,
                                 temperature_c=temperature_c, max_temp_c=max_temp_c,
                                 retry_budget_s=RETRY_SHARE * 60.0 * budget_minutes)
    sweep_path = Path(sweep_path)
    with exclusive(sweep_path):
        return _calibrate_locked(name, runner, sweep_path, plan, harness, progress, power)


def _calibrate_locked(name, runner, sweep_path: Path, plan, harness, progress, power) -> CalibrationResult:
    from ..profiles import NetworkSample, fit_from_networks, parse_profile, validate_table

    rows = read_sweep(sweep_path)
    # a measurement that other load disturbed is measured again by a rerun, in its place
    position = {_key(row): i for i, row in enumerate(rows)}
    done = {_key(row) for row in rows if not is_disturbed(row["flags"])}
    reused = len(done)
    info = device_info()
    check_or_record(sweep_path, runner.settings(), info)
    ceiling = ceilings(runner.settings(), info)
    roofline = measure_roofline(runner, harness, ceiling)
    progress(f"roofline: {roofline['peak_gflops']:.1f} GFLOP/s, {roofline['bandwidth_gbps']:.1f} GB/s"
             + (f" (ceilings {roofline['ceiling_gflops']:.0f} GFLOP/s, {roofline['ceiling_gbps']:.0f} GB/s)"
                if ceiling else ""))
    items = [(ref, size, "train") for ref, size in plan.training] + [(ref, None, "validate") for ref in plan.validation]
    work = []
    for index in range(plan.passes):
        order = list(items)
        random.Random(index).shuffle(order)
        work += [(ref, size, role, index) for ref, size, role in order]
    for reference, size, role, index in work:
        key = (reference, str(size or ""), role, str(index))
        if key in done:
            continue
        timing = _measure_network(runner, harness, reference, size, ceiling)
        row = {"reference": reference, "input_size": size or "", "role": role, "pass": index,
               "latency_ms": f"{timing.median_ms:.6g}", "raw_latency_ms": f"{timing.raw_median_ms:.6g}",
               "spread": f"{timing.spread:.4f}", "drift": f"{timing.drift:.4f}", "flags": ";".join(timing.flags),
               "reference_ms": f"{timing.reference_ms:.6g}", "measured_at": _dt.datetime.now().isoformat(timespec="seconds"),
               "energy_mj": f"{timing.energy_mj:.6g}" if timing.energy_mj is not None else "",
               "power_mw": f"{timing.power_mw:.6g}" if timing.power_mw is not None else ""}
        if key in position:
            rows[position[key]] = row
        else:
            position[key] = len(rows)
            rows.append(row)
        _write_sweep(sweep_path, rows)
        progress(f"pass {index + 1}/{plan.passes} {role} {reference} {size or ''}: {timing.median_ms:.3f} ms "
                 f"{' '.join(timing.flags)}".rstrip())
    raise_if_disturbed(sum(is_disturbed(row["flags"]) for row in rows), len(rows))

    # one sample per network: the median over its passes, leaving out measurements that are not steady-state
    groups: dict[tuple, list[float]] = {}
    energy_groups: dict[tuple, list[float]] = {}
    excluded = {flag: 0 for flag in EXCLUDING_FLAGS}
    for row in rows:
        flags = row["flags"].split(";")
        bad = [f for f in EXCLUDING_FLAGS if f in flags]
        for flag in bad:
            excluded[flag] += 1
        if bad:
            continue
        key = (row["reference"], row["input_size"], row["role"])
        groups.setdefault(key, []).append(float(row["latency_ms"]))
        if row.get("energy_mj"):
            energy_groups.setdefault(key, []).append(float(row["energy_mj"]))
    unstable = [row for row in rows if any(f in row["flags"].split(";") for f in EXCLUDING_FLAGS)]

    def sample(key, line):
        reference, size, _ = key
        energy = statistics.median(energy_groups[key]) if key in energy_groups else None
        return NetworkSample(model=f"zoo:{reference}", latency_ms=statistics.median(groups[key]), line=line,
                             input_shape=f"input=1x3x{size}x{size}" if size else None, energy_mj=energy)

    base = parse_profile(base_document(name, runner.settings(), roofline, info), where=name)
    samples = [sample(key, i) for i, key in enumerate(groups) if key[2] == "train"]
    if len(samples) < 3:
        disturbed = sum(is_disturbed(row["flags"]) for row in rows)
        if disturbed:       # too few left to fit because of other load: the machine, not the input
            raise DisturbedError(disturbed, len(rows))
        raise InputError(f"{sweep_path}: fewer than 3 training measurements; run calibrate again to complete it")
    fit = fit_from_networks(samples, base, name=name, precision="fp32", source=str(sweep_path))
    validation_rows = [sample(key, i) for i, key in enumerate(groups) if key[2] == "validate"]
    report = validate_table(validation_rows, fit.profile, precision="fp32") if validation_rows else None
    document = fit.document
    document["provenance"]["measurements"] = len(rows)
    document["provenance"]["excluded_unstable"] = len(unstable)
    document["provenance"]["excluded_by_flag"] = excluded
    document["provenance"]["power_source"] = power.describe() if power is not None else {"source": "none"}
    document["provenance"]["flagged_drift"] = sum("drift" in row["flags"].split(";") for row in rows)
    document["provenance"]["roofline_probe"] = roofline
    document["provenance"]["harness"] = {
        "statistic": f"median over rounds of each round's {harness.quantile:g} quantile of per-call times",
        "max_correction": harness.max_correction, "retries": harness.retries,
        "disturbed_after_retries": sum(is_disturbed(row["flags"]) for row in rows),
        "ceilings": CEILING_SOURCE if roofline.get("ceiling_gflops") else "none (not a CPU execution provider)"}
    if report is not None:
        errors = sorted(abs(r.error) for r in report.rows)
        document["provenance"]["validation"] = dict(report.summary, median_abs_error=errors[len(errors) // 2],
                                                    max_abs_error=errors[-1])
        document["quality"] += (f" Validated on {len(errors)} held-out ImageNet networks at full resolution: median "
                                f"|error| {100 * errors[len(errors) // 2]:.1f} %, worst {100 * errors[-1]:.1f} %.")
    return CalibrationResult(document=document, validation=report.to_dict() if report else {}, measurements=len(rows),
                             reused=reused)
