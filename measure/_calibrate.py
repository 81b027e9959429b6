"""Calibrate a profile on the device this runs on: measure networks, fit, validate.

The loop (``edgeperf calibrate``):

1. measure the device's own roofline through the runtime: peak arithmetic throughput (a large
   MatMul) and memory bandwidth (a large element-wise Add); these become the profile's peaks,
   with "measured here" as their source;
2. measure a planned set of training networks (zoo networks at several resolutions and widths,
   and NAS-Bench-201 members) with the load-robust harness, each held to its physical floor and
   appended to a sweep file that is rewritten atomically, so an interrupted calibration resumes
   where it stopped (and measures again what other load disturbed); when more than a quarter stay
   disturbed the calibration ends with :class:`DisturbedError` (exit code 3);
3. fit per-class step-linear layer models to the measured totals (``fit_from_networks``);
4. validate on held-out ImageNet networks at their full resolution and report measured,
   predicted and error per network.

The budget decides how many networks are measured and in how many interleaved passes.
Single-layer adaptive sweeps (ANNETTE-style) are not part of this loop yet.
"""

from __future__ import annotations

import datetime as _dt
import random
from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType

from .._errors import DisturbedError, InputError
from .._lock import exclusive
from .._progress import draws_bars, step
from .._userfile import user_path
from ..estimator import FusionRule, Mapping, Nchwc
from ..fitting import NetworkSample, ValidationReport, fit_from_networks, validate_table
from ..profiles import Citation, ClockDomain, HeldOutErrors, LayerModel, PowerModel, Profile
from ..zoo import as_reference, random_nb201, runnable_model
from ._device import device_info, nchwc_block
from ._harness import Harness, cpu_timing
from ._meta import check_or_record
from ._pipeline import EXCLUDING_FLAGS, NETWORK_SWEEP, SweepRecord, measure_items, median_groups, read_records
from ._pipeline import raise_if_too_disturbed, too_few_to_fit
from ._plausible import CEILING_SOURCE, ceilings, floor_ms
from ._protocols import PowerSource, Runner

__all__ = ["CalibrationPlan", "plan_calibration", "calibrate", "CalibrationResult", "read_sweep", "base_profile",
           "ORT_MAPPING", "ort_mapping", "measure_roofline", "VALIDATION_NETWORKS", "RETRY_SHARE"]

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
             ("mobilenet_v3_small@0.75", 160), ("mobilenet_v3_small", 128), ("mobilenet_v3_large@0.5", 160),
             # grouped convolutions at 4 to 32 channels per group, and channel counts on and off onnxruntime's NCHWc
             # block (8 or 16 floats, or a multiple of 4 where it pads), so that the generic classes of a blocked
             # layout (estimator._nchwc) are measured: ResNeXt (4/8/16/32 per group), RegNet X (8, 24 per group;
             # 24/56/152/368 and 72/168/408/912 channels), RegNet Y (16 per group, squeeze-excite), ShuffleNet v2
             # x1.0 and x2.0 (58- and 122-channel branches: no multiple of 4)
             ("resnext26_32x4d", 96), ("regnet_x_200mf", 160), ("regnet_x_1_6gf", 96), ("regnet_y_600mf", 128),
             ("shufflenet_v2_x2_0", 128), ("shufflenet_v2_x1_0", 128))
#: Networks a plan of 4 minutes or more adds at a second size.
_TRAINING_MORE = ("resnet18", "mobilenet_v2", "mobilenet_v3_large", "efficientnet_b0", "squeezenet1_1",
                  "shufflenet_v2_x1_0", "mobilenet_v1", "googlenet")
_GROUPED_MORE = (("resnext26_32x4d", 128), ("regnet_x_200mf", 224), ("regnet_y_600mf", 192), ("shufflenet_v2_x2_0", 192))


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
    validation holds out), networks of grouped convolutions (ResNeXt, RegNet, ShuffleNet v2 x2.0, none of
    them validated) and a few NAS-Bench-201 members. A budget of 4 minutes or more adds
    resolutions and a third interleaved pass, 8 minutes five passes, 10 minutes (the default) seven
    (about 7 minutes here before the 10 grouped-convolution measurements per pass joined the 53).

    Raises
    ------
    InputError
        For a budget below one minute.
    """
    if budget_minutes < 1:
        raise InputError(f"--budget-minutes must be at least 1, got {budget_minutes}")
    rng = random.Random(seed)
    nb201 = tuple((f"nb201:{random_nb201(rng)}", None) for _ in range(4))
    extra = ()
    if budget_minutes >= 4:
        extra = tuple((name, size) for name in _TRAINING_MORE for size in (96, 192)) + _GROUPED_MORE
    # every network is measured in several passes, each in a fresh random order, and its result is
    # the median over passes: a slow phase of the machine then hits all networks alike
    passes = 2 if budget_minutes < 4 else (3 if budget_minutes < 8 else (5 if budget_minutes < 10 else 7))
    return CalibrationPlan(training=_TRAINING + extra + nb201, validation=VALIDATION_NETWORKS, rounds=5,
                           round_s=0.06, passes=passes)


def read_sweep(path) -> list[SweepRecord]:
    """The records of a calibration's sweep file (missing file: none).

    Raises
    ------
    InputError
        If the file lacks the sweep columns or holds a non-positive latency.
    """
    return read_records(path, NETWORK_SWEEP)


def measure_roofline(runner: Runner, harness: Harness, ceiling: dict | None = None) -> dict:
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

    profile: Profile
    validation: ValidationReport | None   # on the held-out networks
    measurements: int
    reused: int


#: onnxruntime's CPU fusions (graph optimization level "all"), the mapping of a calibrated profile.
ORT_MAPPING = Mapping(
    runtime="onnxruntime CPU (graph optimization level all)", elide=("shape",),
    rules=(FusionRule(name="conv-bn-act-add", primary=("Conv", "ConvTranspose", "Gemm", "MatMul"),
                      followers=("BatchNormalization", "Relu", "Clip", "LeakyRelu", "Sigmoid", "Tanh", "HardSigmoid",
                                 "Add", "QuantizeLinear"),
                      max_followers=4, absorb_inputs=("DequantizeLinear",), source="ort-fusion"),))
_ORT_FUSION = ("onnxruntime graph optimizations documentation: Conv+BatchNormalization folding, Conv/Gemm + activation "
               "fusion, Conv + Add (+ Relu) fusion in the NCHWc layout, MatMul + Add to Gemm; Q/DQ pairs folded into "
               "quantized kernels")


_NCHWC_RULE = ("onnxruntime's NchwcTransformer (onnxruntime/core/optimizer/nchwc_transformer.cc) runs float 2-D "
               "convolutions whose channels fit the block in its blocked NCHWc layout, the rest in the generic "
               "im2col + GEMM path with ReorderInput/ReorderOutput kernels around them; the block is MLAS's "
               "(MlasNchwcGetBlockSize): 16 floats with AVX-512F, 8 with AVX2")


def ort_mapping(settings: dict, info: dict) -> tuple[Mapping, dict]:
    """onnxruntime's mapping on this device, and the sources it adds: ``ORT_MAPPING`` plus the NCHWc layout
    where the CPU provider has one (its block read from the CPU's flags, :func:`nchwc_block`; the channel
    multiple it pads up to the block from ``info["nchwc_pad_multiple"]``, probed by :func:`probe_nchwc`)."""
    block = nchwc_block(info)
    if block is None or list(settings.get("providers", ["CPUExecutionProvider"])) != ["CPUExecutionProvider"]:
        return ORT_MAPPING, {}
    pad = info.get("nchwc_pad_multiple")
    if pad == 0:                # probed: this onnxruntime build has no blocked layout here
        return ORT_MAPPING, {}
    text = (f"{_NCHWC_RULE}. This device's CPU ({info.get('cpu') or 'unnamed'}) reports {info['vector_isa']} in "
            f"/proc/cpuinfo at calibration on {_dt.date.today().isoformat()}: block {block}")
    if pad is not None:
        text += (f"; probed through {settings.get('name', 'the runtime')} {settings.get('version', '')}: a 3x3 "
                 f"depthwise convolution on {block + pad} channels ran blocked, {'none' if pad == block else 'one'} "
                 f"on fewer extra channels: channels padded to the block when a multiple of {pad}")
    nchwc = Nchwc(block=block, pad_multiple=pad if pad != block else None, source="ort-nchwc")
    return replace(ORT_MAPPING, nchwc=nchwc), {"ort-nchwc": text}


def probe_nchwc(runner: Runner, info: dict) -> dict:
    """``info`` with ``nchwc_pad_multiple`` probed through ``runner`` where it can (0: no blocked layout)."""
    block, probe = nchwc_block(info), getattr(runner, "nchwc_pad_multiple", None)
    if block is None or probe is None:
        return info
    return {**info, "nchwc_pad_multiple": probe(block) or 0}


def base_profile(name: str, settings: dict, roofline: dict, info: dict) -> Profile:
    """The profile a calibration starts from: measured roofline peaks, onnxruntime's fusion rules (and blocked layout
    where this CPU has one), no power."""
    today = _dt.date.today().isoformat()
    measured = "measured"
    mapping, mapping_sources = ort_mapping(settings, info)

    def cite(note: str) -> Citation:
        return Citation(source=measured, note=note)

    cpu_mhz = round(info.get("cpu_max_mhz", 1000.0), 3)
    return Profile(
        name=name, version=today, kind="calibrated", quality="calibrated (replaced after fitting)",
        title=f"{info.get('cpu') or 'this machine'}: {settings['name']} {settings['version']}, "
              f"{settings['threads']} thread(s)",
        sources=MappingProxyType({
            measured: f"measured by edgeperf on {today} on this device through {settings['name']} "
                      f"{settings['version']} ({settings['threads']} thread(s)): 1024^3 fp32 MatMul and "
                      f"16 Mi-element Add probes",
            "ort-fusion": _ORT_FUSION, **mapping_sources}),
        runtime=settings, device=info,
        precisions=MappingProxyType({"fp32": round(roofline["peak_gflops"], 3)}), default_precision="fp32",
        memory_bandwidth_gbps=round(roofline["bandwidth_gbps"], 3),
        compute_domain="cpu", memory_domain="cpu",
        clocks=MappingProxyType({"cpu": ClockDomain(name="cpu", reference_mhz=cpu_mhz, available_mhz=(cpu_mhz,))}),
        power_modes=MappingProxyType({}), default_power_mode=None,
        power=PowerModel(idle_mw=0.0, active_mw=MappingProxyType({"default": 0.0}), calibrated=False),
        mapping=mapping,
        layer_models=MappingProxyType({"default": LayerModel(form="roofline", source=measured, stated=MappingProxyType(
            {"compute_efficiency": 1.0, "memory_efficiency": 1.0, "overhead_ms": 0.0}))}),
        unit_cost_eur=None, memory_bytes=None,
        citations=MappingProxyType({
            ("precisions", "fp32"): cite("1024^3 MatMul"),
            ("memory_bandwidth_gbps",): cite("Add of two 64 MiB tensors, 3 x 64 MiB moved"),
            ("clocks", "cpu", "reference_mhz"): cite("cpufreq scaling_max_freq where readable, else nominal 1000"),
            ("power", "idle_mw"): cite("no power source on this device"),
            ("power", "active_mw", "default"): cite("no power source")}),
    )


def calibrate(name: str, *, runner: Runner, sweep_path, budget_minutes: float = 10.0, harness: Harness | None = None,
              plan: CalibrationPlan | None = None, progress=lambda message: None, power: PowerSource | None = None,
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
        Receives the roofline line and one line per measured network; a progress bar
        (``edgeperf._progress.Progress``) gets the measurements as steps instead.
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
                                 retry_budget_s=RETRY_SHARE * 60.0 * budget_minutes, **cpu_timing(runner.settings()))
    sweep_path = user_path(sweep_path, what="sweep")
    with exclusive(sweep_path):
        return _calibrate_locked(name, runner, sweep_path, plan, harness, progress, power)


def _calibrate_locked(name, runner, sweep_path: Path, plan, harness, progress, power) -> CalibrationResult:
    records = read_sweep(sweep_path)
    reused = sum(not record.disturbed for record in records)    # a disturbed one is measured again
    info = probe_nchwc(runner, device_info())
    check_or_record(sweep_path, runner.settings(), info)
    ceiling = ceilings(runner.settings(), info)
    roofline = measure_roofline(runner, harness, ceiling)
    progress(f"roofline: {roofline['peak_gflops']:.1f} GFLOP/s, {roofline['bandwidth_gbps']:.1f} GB/s"
             + (f" (ceilings {roofline['ceiling_gflops']:.0f} GFLOP/s, {roofline['ceiling_gbps']:.0f} GB/s)"
                if ceiling else ""))

    def measured(record: SweepRecord) -> None:
        if not draws_bars(progress):        # a bar shows n/N instead of a line per measurement
            progress(f"pass {record.pass_ + 1}/{plan.passes} {record.role} {record.reference} "
                     f"{record.input_size or ''}: {record.latency_ms:.3f} ms {' '.join(record.flags)}".rstrip())

    measure_items(_planned_items(plan), path=sweep_path, fmt=NETWORK_SWEEP, records=records, runner=runner,
                  harness=harness, progress=measured, ceiling=ceiling, steps=lambda done, total: step(progress, done, total,
                                                                                     "measuring networks"),
                  model_of=lambda item: runnable_model(as_reference(item["reference"]), input_size=(
                      (item["input_size"], item["input_size"]) if item["input_size"] else None)))
    raise_if_too_disturbed(records)
    # one sample per network: the median over its passes, leaving out measurements that are not steady-state
    groups = median_groups(records, lambda record: (record.reference, record.input_size, record.role))

    def samples(role: str) -> list[NetworkSample]:
        return [NetworkSample(model=as_reference(reference), latency_ms=latency, line=line, energy_mj=energy,
                              input_shape=f"input=1x3x{size}x{size}" if size else None)
                for line, ((reference, size, kind), (latency, energy)) in enumerate(groups.items()) if kind == role]

    training = samples("train")
    if len(training) < 3:
        raise too_few_to_fit(records, sweep_path, "training measurements; run calibrate again to complete it")
    base = base_profile(name, runner.settings(), roofline, info)
    fit = fit_from_networks(training, base, name=name, precision="fp32", source=str(sweep_path))
    held_out = samples("validate")
    report = validate_table(held_out, fit.profile, precision="fp32") if held_out else None
    profile = _with_calibration_record(fit.profile, records, report, roofline, power, harness)
    return CalibrationResult(profile=profile, validation=report, measurements=len(records), reused=reused)


def _planned_items(plan: CalibrationPlan) -> list[dict]:
    """Every (network, size, role, pass) of the plan; each pass in a fresh random order.

    Every network is measured in several passes and its result is the median over passes: a slow
    phase of the machine then hits all networks alike.
    """
    items = [(ref, size, "train") for ref, size in plan.training] + [(ref, None, "validate") for ref in plan.validation]
    work = []
    for index in range(plan.passes):
        order = list(items)
        random.Random(index).shuffle(order)
        work += [{"reference": ref, "input_size": size, "role": role, "pass_": index} for ref, size, role in order]
    return work


def _with_calibration_record(profile: Profile, records: list[SweepRecord], report: ValidationReport | None,
                             roofline: dict, power, harness: Harness) -> Profile:
    """The fitted profile with what its calibration rests on: measurements, exclusions, probes, held-out errors."""
    excluded = {flag: sum(flag in record.excluded_by for record in records) for flag in EXCLUDING_FLAGS}
    provenance = profile.provenance.with_details(
        measurements=len(records), excluded_unstable=sum(bool(record.excluded_by) for record in records),
        excluded_by_flag=excluded, power_source=power.describe() if power is not None else {"source": "none"},
        flagged_drift=sum("drift" in record.flags for record in records), roofline_probe=roofline,
        harness={"statistic": f"median over rounds of each round's {harness.quantile:g} quantile of per-call times",
                 "max_correction": harness.max_correction, "retries": harness.retries,
                 "disturbed_after_retries": sum(record.disturbed for record in records),
                 "ceilings": CEILING_SOURCE if roofline.get("ceiling_gflops") else "none (not a CPU execution provider)"})
    contended = sum("contended" in record.flags for record in records)
    provenance = provenance.with_details(contended=contended)
    quality = profile.quality
    if contended > len(records) / 2:
        quality += (f" {contended} of {len(records)} measurements ran beside other load (flag contended, timed by "
                    "CPU time): the layers' costs relative to each other hold, but absolute latencies carry that "
                    "load's memory and cache contention; calibrate on an idle machine for absolute figures.")
    if report is not None:
        errors = sorted(abs(r.error) for r in report.rows)
        provenance = replace(provenance, validation=HeldOutErrors(
            metrics=report.summary, median_abs_error=errors[len(errors) // 2], max_abs_error=errors[-1]))
        quality += (f" Validated on {len(errors)} held-out ImageNet networks at full resolution: median "
                    f"|error| {100 * errors[len(errors) // 2]:.1f} %, worst {100 * errors[-1]:.1f} %.")
    return replace(profile, provenance=provenance, quality=quality)
