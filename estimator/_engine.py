"""The one evaluation engine: per-layer latency parts, clock scaling, power and network totals.

Every figure edgeperf reports is computed here: a single estimate (``estimate_mapped``), a DVFS
grid, a sustained thermal run and a search block all evaluate a mapped graph the same way.

Latency: each executed layer is costed by the cost model its operator class has in the profile
(``_cost_models``): a compute part from the profile's peak at the layer's precision, a memory part
from the bandwidth, a fixed overhead, combined by the model's registry entry (``max`` or ``sum``).
The parts are computed once at reference clocks (:func:`reference_costs`); at any operating point
the compute part scales with ``f_ref / f_compute``, the memory part with ``f_ref / f_memory``, the
overhead not at all, which is exact for every registered form (their contract).

Power: a layer draws the board's idle power, plus the dynamic power of its operator class scaled to
the operating point by ``f V^2`` of the compute domain (``f`` where voltages are unknown), plus each
other domain's dynamic power (``power.domain_mw``) scaled the same way; energy is power times
latency. Totals (:func:`network_totals`) are the sum over layers plus the profile's per-inference
overhead (runtime call, copies, sync), paid once at idle power by a device that runs any layer,
all times the profile's network term's factor (``_network_term``: 1 without one), taken at the
whole network's additive total on that device and operating point.

Two parts of a profile change the layer costs themselves, and live here for that reason: the
mapping's Winograd work scale (a layer's compute part uses the share of its multiply-adds the
runtime executes), the on-chip parameter memory (weights that do not fit stream over the host
link every inference: that time joins the layer's overhead, which no clock changes) and a fitted
profile's per-signature residuals (``_signatures``: an additive correction for every layer of one
exact signature, which joins the overhead the same way). The interval
an estimate carries (``_intervals``) is kept with the reference costs and evaluated from the same
totals (:func:`interval_points`), so every figure at the same clocks has the same interval.

The profile is what :class:`PlatformProfile` describes (``edgeperf.profiles.Profile`` is one); the
estimator does not import the profiles package.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from types import MappingProxyType

import numpy as np

from .._units import BITS_PER_ELEMENT, mw_ms_to_mj
from ._cost_models import COMBINE_RULES, COST_MODELS, CostParts, Features
from ._intervals import Interval, IntervalBasis, interval_basis, interval_of
from ._mapping import MappedGraph, layer_bytes
from ._param_memory import stream_ms
from ._protocols import PlatformProfile
from ._critical_path import critical_share, layer_paths
from ._network_term import NetworkTerm, network_scale
from ._signatures import signature_residual_ms
from ._support import Placement, place_layers

__all__ = ["power_scale", "clock_scales", "inference_overhead", "latency_parts", "ReferenceCosts", "reference_costs",
           "LayerCosts", "evaluate_parts", "evaluate_layers", "evaluate_points", "network_totals", "interval_points",
           "interval_at", "graph_batch", "occupancy", "network_factor"]


def power_scale(domain, freq_mhz) -> np.ndarray:
    """Dynamic power of ``domain`` at ``freq_mhz`` relative to its reference clock: ``f V^2 / (f_ref V_ref^2)``.

    >>> from edgeperf.profiles import ClockDomain
    >>> d = ClockDomain(name="gpu", reference_mhz=1000.0, available_mhz=(500.0, 1000.0), voltage_v=(0.8, 1.0))
    >>> round(float(power_scale(d, 500.0)), 12)    # 0.5 * (0.8 / 1.0) ** 2
    0.32
    """
    freq = np.asarray(freq_mhz, dtype=float)
    scale = freq / domain.reference_mhz
    if domain.voltage_v is not None:
        volt = np.interp(freq, domain.available_mhz, domain.voltage_v)
        scale = scale * (volt / domain.voltage_at(domain.reference_mhz)) ** 2
    return scale


def clock_scales(profile: PlatformProfile, clock):
    """Scales of an operating point given ``clock(domain) -> MHz`` (floats, or arrays of points).

    Returns
    -------
    compute_scale, memory_scale : float or numpy.ndarray
        Clock of the compute and memory domains relative to their reference clocks.
    compute_power : float or numpy.ndarray
        :func:`power_scale` of the compute domain (multiplies the classes' active power).
    extra_mw : float or numpy.ndarray
        Dynamic power of the other domains with their own power figure (``power.domain_mw``).
    """
    compute = profile.clocks[profile.compute_domain]
    f_c = clock(profile.compute_domain)
    extra_mw = sum((mw * power_scale(profile.clocks[name], clock(name))
                    for name, mw in profile.power.domain_mw.items()), 0.0)
    return (f_c / compute.reference_mhz, clock(profile.memory_domain) / profile.clocks[profile.memory_domain].reference_mhz,
            power_scale(compute, f_c), extra_mw)


def graph_batch(graph) -> int:
    """Inferences one run of ``graph`` makes: the leading dimension its inputs share (1 when they disagree).

    Recurrent layers in ONNX's default layout read ``[sequence, batch, features]``: their batch is
    the second dimension, and the sequence length is not a batch.
    """
    for layer in graph.layers:
        if layer.op_type in ("LSTM", "GRU", "RNN") and not layer.attr("layout", 0) and layer.input_shapes:
            shape = layer.input_shapes[0]
            return int(shape[1]) if len(shape) == 3 else 1
    leading = {shape[0] for _, shape in graph.inputs if len(shape) >= 2}
    return int(leading.pop()) if len(leading) == 1 and min(leading, default=1) >= 1 else 1


def occupancy(profile: PlatformProfile, outputs) -> np.ndarray:
    """Fraction of the compute roof a layer reaches with ``outputs`` output elements in flight (over the batch).

    ``u = w / (w + occupancy_per_lane * gpu_lanes)`` with the profile's operating model (a GPU hides
    latency with many threads per lane: small layers and small batches leave lanes idle); 1 without one.

    >>> from types import SimpleNamespace
    >>> p = SimpleNamespace(operating=SimpleNamespace(occupancy_per_lane=4.0, gpu_lanes=128.0))
    >>> occupancy(p, np.array([512.0, 1e9])).round(3).tolist()
    [0.5, 1.0]
    """
    model = getattr(profile, "operating", None)
    outputs = np.asarray(outputs, dtype=float)
    if model is None or not model.occupancy_per_lane:
        return np.ones_like(outputs)
    half = model.occupancy_per_lane * model.gpu_lanes
    return np.maximum(outputs, 1e-9) / (np.maximum(outputs, 1e-9) + half)


def _occupancy_gain(profile: PlatformProfile, mapped: MappedGraph, scale: float) -> np.ndarray:
    """Share of the compute roof each layer reaches at ``scale`` times the graph's batch (:func:`occupancy`).

    Under an operating model anchored to the board model (``anchored``: its efficiencies were fitted
    at batch 1, under-filling included) it is the occupancy's gain over batch 1's: 1 at batch 1.
    """
    outputs = mapped.out_elems * scale
    model = getattr(profile, "operating", None)
    if model is None or not getattr(model, "anchored", False):
        return occupancy(profile, outputs)
    return occupancy(profile, outputs) / occupancy(profile, mapped.out_elems / graph_batch(mapped.graph))


def inference_overhead(profile: PlatformProfile) -> tuple[float, float]:
    """The profile's per-inference overhead outside every layer: ms, and mJ at idle power."""
    ms = float(profile.inference_overhead_ms)
    return ms, float(mw_ms_to_mj(profile.power.idle_mw, ms))


def _reference_point(profile: PlatformProfile) -> MappingProxyType:
    return MappingProxyType({name: domain.reference_mhz for name, domain in profile.clocks.items()})


def latency_parts(mapped: MappedGraph, profile: PlatformProfile, precision: str,
                  freq_mhz) -> tuple[CostParts, np.ndarray]:
    """Latency parts of every executed layer at the clocks ``freq_mhz`` (domain -> MHz), vectorised per class.

    Returns
    -------
    parts : CostParts
        Arrays aligned with ``mapped.layers`` (ms).
    bytes_ : numpy.ndarray
        Bytes each layer moves at its precision.
    """
    parts, bytes_, _, _ = _class_parts(mapped, profile, precision, freq_mhz)
    return parts, bytes_


def _class_parts(mapped: MappedGraph, profile: PlatformProfile, precision: str, freq_mhz,
                 layer_precision: tuple[str, ...] | None = None, on_device: np.ndarray | None = None,
                 scale: float = 1.0):
    """:func:`latency_parts`, and each layer's combine rule (the name its cost model's entry gives).

    Each layer runs at ``precision``, or at int8 where the model fixes it so and the device has
    int8 (a quantized layer on a device without int8 runs, and moves its data, at ``precision``);
    ``layer_precision`` (a placement's) overrides both, layer by layer. The compute part is priced on
    the multiply-adds the runtime executes (``mapped.work_scale``: Winograd); the weights of the layers
    ``on_device`` (all by default) that do not fit an on-chip parameter memory stream from the host, and
    that time (also returned, per layer) joins the overhead part. ``scale`` multiplies the graph's
    batch (activations and arithmetic; weights are read, and streamed, once per run); with an
    operating model the compute roof is lowered by the GPU's occupancy at that batch (:func:`occupancy`).
    """
    n = len(mapped.layers)
    compute_scale, memory_scale, _, _ = (float(v) for v in clock_scales(profile, freq_mhz.__getitem__))
    if layer_precision is None:
        layer_int8 = mapped.int8_layer & ("int8" in profile.precisions)
        bits = np.where(layer_int8, 8.0, float(BITS_PER_ELEMENT[precision]))
        peak = np.where(layer_int8, profile.precisions.get("int8", 0.0), profile.precisions[precision])
    else:
        bits = np.array([float(BITS_PER_ELEMENT[p]) for p in layer_precision]).reshape(n)
        peak = np.array([float(profile.precisions.get(p, 0.0)) for p in layer_precision]).reshape(n)
    bytes_, weight_bytes = layer_bytes(mapped, bits)
    bytes_ = (bytes_ - weight_bytes) * scale + weight_bytes
    out_bytes = mapped.out_elems * scale * bits / 8.0
    flops_per_ms = peak * 1e6 * compute_scale * _occupancy_gain(profile, mapped, scale)
    bytes_per_ms = np.full(n, profile.memory_bandwidth_gbps * 1e6 * memory_scale)
    compute, memory, overhead, latency = np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n)
    flops = (mapped.flops if mapped.work_scale is None else mapped.flops * mapped.work_scale) * scale
    rules: dict[str, list] = {}           # combine rule -> index arrays of the layers it applies to
    for op_class in np.unique(mapped.op_class) if n else ():
        index = np.flatnonzero(mapped.op_class == op_class)
        model = profile.layer_model(op_class)
        entry = COST_MODELS[model.form]
        features = Features(
            flops=flops[index], bytes_=bytes_[index], c_in=mapped.c_in[index], c_out=mapped.c_out[index],
            h_out=mapped.h_out[index], w_out=mapped.w_out[index], flops_per_ms=flops_per_ms[index],
            bytes_per_ms=bytes_per_ms[index], weight_bytes=weight_bytes[index], out_bytes=out_bytes[index],
        )
        part = entry(features, dict(model.params))
        compute[index], memory[index] = part.compute_ms, part.memory_ms
        overhead[index], latency[index] = part.overhead_ms, part.latency_ms
        rules.setdefault(entry.combine, []).append(index)
    memory_of = getattr(profile, "parameter_memory", None)   # a host CPU profile may have none
    streamed = stream_ms(weight_bytes if on_device is None else np.where(on_device, weight_bytes, 0.0), memory_of)
    # a fitted per-signature residual joins the overhead part too (no clock scales it), clipped so that no
    # layer's latency at these clocks goes below zero (_signatures)
    residual = signature_residual_ms(mapped, getattr(profile, "signature_residuals", None))
    residual = np.maximum(residual, -(latency + streamed))
    return (CostParts(compute, memory, overhead + streamed + residual, latency + streamed + residual), bytes_, rules,
            streamed)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class ReferenceCosts:
    """A mapped graph's layers on one profile at one precision, with every clock at its reference.

    Latency parts (ms) and dynamic power (mW) are aligned arrays; ``rules`` pairs each combine rule
    used with the mask of its layers; ``bytes_`` is what each layer moves; ``fixed_ms`` and
    ``fixed_mj`` are the per-inference overhead outside every layer, at idle power, not clock-scaled.
    """

    compute_ms: np.ndarray
    memory_ms: np.ndarray
    overhead_ms: np.ndarray
    rules: tuple[tuple[str, np.ndarray], ...]
    active_mw: np.ndarray
    bytes_: np.ndarray
    fixed_ms: float = 0.0
    fixed_mj: float = 0.0
    streamed_ms: np.ndarray | None = None   # the part of each layer's overhead spent streaming its weights
    interval: IntervalBasis | None = None   # what the network's interval needs (None: the profile has none)
    host_mw: np.ndarray | None = None     # dynamic power of layers on the host CPU: not scaled by the device's clocks
    placement: Placement | None = None     # where each layer runs, when the profile says what its runtime maps
    batch: float = 1.0                     # inferences per run
    exposed: np.ndarray | None = None      # operating model: exposed share of each layer's shorter part
    dispatch_ms: float = 0.0               # operating model: CPU time per kernel launch at the CPU's reference clock
    pre_post_ms: float = 0.0               # operating model: serial CPU work per run at the CPU's reference clock
    held_wait_ms: np.ndarray | None = None  # anchored operating model: each layer's CPU wait the board model holds
    held_pre_post_ms: float = 0.0          # anchored operating model: the pre/post-processing the board model holds
    work_mj: np.ndarray | None = None      # energy per layer from the power model's pJ per FLOP and per byte
    network_term: NetworkTerm | None = None   # the profile's (None: the layers add up)
    critical_share: float = 1.0            # critical_path term: longest path / layer sum at reference clocks

    @property
    def size(self) -> int:
        return int(self.compute_ms.size)

    def combine(self, compute: np.ndarray, memory: np.ndarray) -> np.ndarray:
        """Compute and memory parts (rows of points x layers, or one row) combined by each layer's rule."""
        if not self.rules:
            return compute + memory          # no layers: empty either way
        name, _ = self.rules[0]
        combined = COMBINE_RULES[name](compute, memory)
        for name, mask in self.rules[1:]:
            combined = np.where(mask, COMBINE_RULES[name](compute, memory), combined)
        return combined


def reference_costs(mapped: MappedGraph, profile: PlatformProfile, precision: str, *, batch: int | None = None,
                    host_ms_per_item: float | None = None) -> ReferenceCosts:
    """Latency parts, combine rules and dynamic power of every executed layer at reference clocks.

    ``batch`` (default: the graph's own, :func:`graph_batch`) is the number of inferences per run:
    activations and arithmetic scale with it, weights are read once. With an operating model
    (``profile.operating``) the CPU-side work is kept too: ``host_ms_per_item`` (default the model's
    ``pre_post_ms``) of serial pre/post-processing per inference, and a kernel launch per layer.
    An operating model ``anchored`` to the board model keeps, as ``held_wait_ms`` and
    ``held_pre_post_ms``, the CPU-side time it has at reference clocks and batch 1 with its own
    pre/post time: the fitted overheads already hold it, so the operated latency subtracts it again.

    Where the profile says what its runtime maps (``runtime_support``), each layer runs where and at
    the precision the placement (``_support``) gives; layers on the host CPU are costed by the host's
    profile at its reference clocks, plus the link transfers, as a fixed part the device's clocks
    do not scale.
    """
    support = getattr(profile, "runtime_support", None)
    placement = place_layers(mapped, support, profile.precisions, precision) if support is not None else None
    own = graph_batch(mapped.graph)
    items = float(own if batch is None else batch)
    on_device = ~placement.host if placement is not None else None
    parts, bytes_, rules, streamed = _class_parts(mapped, profile, precision, _reference_point(profile),
                                                  placement.precision if placement is not None else None, on_device,
                                                  scale=items / own)
    masks = []
    for name in sorted(rules):
        mask = np.zeros(parts.latency_ms.size, dtype=bool)
        mask[np.concatenate(rules[name])] = True
        masks.append((name, mask))
    active = np.array([profile.power.active_for(layer.op_class) for layer in mapped.layers], dtype=float)
    host_mw = None
    if placement is not None and placement.host.any():
        parts, bytes_, active, host_mw = _on_host(mapped, profile, placement, parts, bytes_, active)
    fixed_ms, fixed_mj = inference_overhead(profile)
    term = getattr(profile, "network_term", None)
    extra = {}
    flop_pj, byte_pj = getattr(profile.power, "pj_per_flop", 0.0), getattr(profile.power, "pj_per_byte", 0.0)
    if flop_pj or byte_pj:
        device = np.ones(parts.latency_ms.size, dtype=bool) if host_mw is None else host_mw == 0
        extra["work_mj"] = np.where(device, (flop_pj * mapped.flops * (items / own) + byte_pj * bytes_) * 1e-9, 0.0)
    model = getattr(profile, "operating", None)
    if model is not None:
        per_item = model.pre_post_ms if host_ms_per_item is None else float(host_ms_per_item)
        maxed = np.zeros(parts.latency_ms.size, dtype=bool)
        for name, mask in masks:
            maxed |= mask & (name == "max")
        extra.update(exposed=np.where(maxed & (not model.anchored), model.overlap_exposed, 0.0),
                     dispatch_ms=model.dispatch_us / 1000.0 / model.cpu_speed,
                     pre_post_ms=items * per_item / model.cpu_speed)
    basis = interval_basis(profile.uncertainty, precision=precision, input_hw=mapped.graph.input_hw,
                           op_class=mapped.op_class)
    costs = ReferenceCosts(compute_ms=parts.compute_ms, memory_ms=parts.memory_ms, overhead_ms=parts.overhead_ms,
                           rules=tuple(masks), active_mw=active, bytes_=bytes_, fixed_ms=fixed_ms, fixed_mj=fixed_mj,
                           streamed_ms=streamed, interval=basis, host_mw=host_mw, placement=placement, batch=items,
                           network_term=term, critical_share=_critical_share(mapped, term, parts.latency_ms), **extra)
    if model is None or not model.anchored:
        return costs
    one = costs if items == 1.0 and host_ms_per_item is None else reference_costs(mapped, profile, precision, batch=1)
    return replace(costs, held_wait_ms=_reference_waits(one), held_pre_post_ms=one.pre_post_ms)


def _critical_share(mapped: MappedGraph, term: NetworkTerm | None, latency_ms: np.ndarray) -> float:
    """The longest path's share of the layer sum at reference clocks, for a ``critical_path`` term (else 1)."""
    if term is None or term.form != "critical_path":
        return 1.0
    return critical_share(layer_paths(mapped), latency_ms)


def _reference_waits(costs: ReferenceCosts) -> np.ndarray:
    """Each layer's wait for its CPU launch at reference clocks (the first's holds the pre/post-processing).

    For an anchored operating model these are taken at batch 1 with the model's own pre/post time:
    the CPU-side time the fitted overheads already hold, which the operated latency subtracts again.
    """
    _, _, busy = _gpu_times(costs, np.ones(1), np.ones(1))
    return _queue_waits(_launch_ready(costs, busy.shape[1])[None, :], busy)[0]


def _queue_waits(ready: np.ndarray, busy: np.ndarray) -> np.ndarray:
    """Each layer's wait for its launch (rows of points x layers): a layer starts when it is launched
    (``ready``) and the previous one is done; the waits are the increments of how far launches run behind."""
    before = np.cumsum(busy, axis=1) - busy                     # GPU time of the layers before each one
    lead = np.maximum.accumulate(ready - before, axis=1)
    return np.diff(lead, axis=1, prepend=0.0)


def _on_host(mapped: MappedGraph, profile: PlatformProfile, placement: Placement, parts: CostParts, bytes_, active):
    """Parts, bytes and power with the host layers costed on the host: its profile's latency at its default
    precision and reference clocks, plus the activations crossing the link, all in the fixed (overhead) part."""
    host = profile.fallback_host()
    support = profile.runtime_support
    host_precision = host.default_precision
    host_parts, host_bytes, _, _ = _class_parts(mapped, host, host_precision, _reference_point(host))
    link_bytes_per_ms = support.link_gbps * 1e6
    transfer_ms = placement.transfer_elems * BITS_PER_ELEMENT[host_precision] / 8.0 / link_bytes_per_ms
    on_host = placement.host
    compute, memory = np.where(on_host, 0.0, parts.compute_ms), np.where(on_host, 0.0, parts.memory_ms)
    overhead = np.where(on_host, host_parts.latency_ms + transfer_ms, parts.overhead_ms)
    latency = np.where(on_host, overhead, parts.latency_ms)
    host_mw = np.where(on_host, [host.power.active_for(layer.op_class) for layer in mapped.layers], 0.0)
    return (CostParts(compute, memory, overhead, latency), np.where(on_host, host_bytes, bytes_),
            np.where(on_host, 0.0, active), host_mw)


def network_factor(costs: ReferenceCosts, whole_ms):
    """The network term's factor for a network whose layers sum to ``whole_ms`` (float or array of points).

    Every additive part of the inference (each layer's latency and energy, the per-inference overhead)
    is multiplied by it; 1 without a network term.
    """
    return network_scale(np.asarray(whole_ms, dtype=float) + costs.fixed_ms, costs.network_term,
                         critical_share=costs.critical_share, serial_ms=costs.fixed_ms)


def network_totals(costs: ReferenceCosts, latency_ms, energy_mj, *, runs=True, whole_ms=None):
    """A network's latency (ms) and energy (mJ) from the sums over its layers: the one place totals are made.

    Adds the per-inference overhead (``costs.fixed_ms`` at idle power) once, where the device
    ``runs`` any layer of the network (a bool, or an array alongside array sums, for the part of a
    split network each device runs), and multiplies by the network term's factor
    (:func:`network_factor`) of the whole network on the device: ``whole_ms`` is its layer sum when
    ``latency_ms`` covers only part of it (default: ``latency_ms`` is the whole network).

    >>> import numpy as np
    >>> costs = ReferenceCosts(compute_ms=np.zeros(0), memory_ms=np.zeros(0), overhead_ms=np.zeros(0), rules=(),
    ...                        active_mw=np.zeros(0), bytes_=np.zeros(0), fixed_ms=0.5, fixed_mj=0.6)
    >>> network_totals(costs, np.array([2.0, 0.0]), np.array([3.0, 0.0]), runs=np.array([True, False]))
    (array([2.5, 0. ]), array([3.6, 0. ]))
    """
    factor = network_factor(costs, latency_ms if whole_ms is None else whole_ms)
    return (latency_ms + costs.fixed_ms * runs) * factor, (energy_mj + costs.fixed_mj * runs) * factor


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class LayerCosts:
    """Every executed layer at one operating point: latency parts (ms), power (mW) and energy (mJ).

    ``run_ms`` and ``run_mj``: the run's serial CPU pre/post-processing (operating models), outside
    every layer; the network's totals are the layers' sums plus these (plus the fixed overhead).
    """

    parts: CostParts
    power_mw: np.ndarray
    energy_mj: np.ndarray
    run_ms: float = 0.0
    run_mj: float = 0.0


def _rail(model, domain, freq: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Dynamic-power scale ``f V^2 / (f_ref V_ref^2)`` and leakage scale ``(V/V_ref) exp((V - V_ref)/V0)`` of a rail."""
    scale = freq / domain.reference_mhz
    volt = model.voltage(domain.name, freq)
    if volt is None:
        return scale, np.ones_like(scale)
    ref = float(model.voltage(domain.name, domain.reference_mhz))
    ratio = volt / ref
    return scale * ratio ** 2, ratio * np.exp((volt - ref) / model.leak_v0_mv)


def _static_powers(profile: PlatformProfile, clock) -> tuple:
    """The operating model's clocks at ``k`` points and the powers it draws whatever the GPU does (mW, ``(k,)`` each).

    Returns the domains (GPU, CPU, EMC), their clocks, a dict of the static parts (``floor``, ``emc``,
    ``gpu_leak``, ``cpu_leak``, ``cpu_core``: the busy CPU core's ``f V^2``) and the GPU's dynamic power
    while computing.
    """
    model = profile.operating
    gpu, cpu, emc = (profile.clocks[n] for n in (profile.compute_domain, model.cpu_domain, profile.memory_domain))
    f_gpu, f_cpu, f_emc = (np.atleast_1d(np.asarray(clock(d.name), dtype=float)) for d in (gpu, cpu, emc))
    dyn_gpu, leak_gpu = _rail(model, gpu, f_gpu)
    dyn_cpu, leak_cpu = _rail(model, cpu, f_cpu)
    parts = {"floor": np.full(f_gpu.shape, model.floor_mw), "emc": model.emc_mw * f_emc / emc.reference_mhz,
             "gpu_leak": model.gpu_leak_mw * leak_gpu, "cpu_leak": model.cpu_leak_mw * leak_cpu,
             "cpu_core": model.cpu_core_mw * dyn_cpu}
    return (gpu, cpu, emc), (f_gpu, f_cpu, f_emc), parts, model.gpu_dyn_mw * dyn_gpu


def _operating_power(costs: ReferenceCosts, profile: PlatformProfile, clock) -> tuple:
    """The operating model's clocks and powers at ``k`` points: domains, static mW and GPU dynamic mW, ``(k,)`` each."""
    domains, freqs, parts, gpu_mw = _static_powers(profile, clock)
    return domains, freqs, sum(parts.values()), gpu_mw


def _gpu_times(costs: ReferenceCosts, gpu_scale: np.ndarray, emc_scale: np.ndarray) -> tuple:
    """Compute and memory parts and each layer's GPU time ``combine(c, m) + exposed min(c, m) + overhead``."""
    compute = costs.compute_ms[None, :] / gpu_scale[:, None]
    memory = costs.memory_ms[None, :] / emc_scale[:, None]
    busy = costs.combine(compute, memory) + costs.exposed[None, :] * np.minimum(compute, memory) + costs.overhead_ms
    return compute, memory, busy


def _launch_ready(costs: ReferenceCosts, n: int) -> np.ndarray:
    """When each layer's launch is done, at the CPU's reference clock: pre/post-processing, then a launch per layer."""
    return costs.pre_post_ms + costs.dispatch_ms * np.arange(1, n + 1)


def _operated(costs: ReferenceCosts, profile: PlatformProfile, clock) -> tuple:
    """Per-layer latency and energy at ``k`` points under the profile's operating model (arrays ``(k, layers)``).

    GPU time of a layer: its parts at the clocks, ``combine(c, m) + exposed * min(c, m) + overhead``.
    The CPU launches one kernel per layer (``dispatch_ms`` at the CPU's reference clock, scaled by
    ``f_ref / f_cpu``) after the run's serial pre/post-processing; the GPU starts a layer when it is
    launched and the previous one is done (a max-plus queue), so a layer's latency is its GPU time
    plus the wait for its launch (less the wait the board model holds, ``held_wait_ms``). Power: the floor, the EMC, the rails' leakage, one busy CPU core
    (``f V^2``), and the GPU's dynamic power (``f V^2``) times its activity (memory-bound kernels
    less, waiting for the CPU least), plus the DRAM energy of the bytes moved.

    Returns
    -------
    latency_ms, energy_mj, compute_ms, memory_ms, wait_ms : numpy.ndarray
    """
    model = profile.operating
    (gpu, cpu, emc), (f_gpu, f_cpu, f_emc), static, gpu_mw = _operating_power(costs, profile, clock)
    compute, memory, busy = _gpu_times(costs, f_gpu / gpu.reference_mhz, f_emc / emc.reference_mhz)
    ready = (cpu.reference_mhz / f_cpu)[:, None] * _launch_ready(costs, busy.shape[1])[None, :]
    wait = _queue_waits(ready, busy)
    if costs.held_wait_ms is not None:                           # the board model holds the reference waits
        wait = wait - costs.held_wait_ms[None, :]
    activity = model.activity_memory_bound + (1.0 - model.activity_memory_bound) * np.divide(
        compute, busy, out=np.zeros_like(busy), where=busy > 0)
    static, gpu_mw = static[:, None], gpu_mw[:, None]
    energy = ((static + gpu_mw * activity) * busy + (static + gpu_mw * model.activity_idle) * wait) / 1000.0
    energy = energy + model.dram_pj_per_byte * costs.bytes_[None, :] * 1e-9
    if costs.host_mw is not None:
        energy = energy + mw_ms_to_mj(costs.host_mw * costs.overhead_ms, 1.0)[None, :]
    return busy + wait, energy, compute, memory, wait


def _pre_post(costs: ReferenceCosts, profile: PlatformProfile, clock) -> tuple[float, float]:
    """The run's serial CPU pre/post-processing at one point: ms, and mJ (static power, the GPU idling)."""
    model = profile.operating
    (_, cpu, _), (_, f_cpu, _), static, gpu_mw = _operating_power(costs, profile, clock)
    run_ms = float(costs.pre_post_ms * cpu.reference_mhz / f_cpu[0]) - costs.held_pre_post_ms
    return run_ms, float((static[0] + gpu_mw[0] * model.activity_idle) * run_ms / 1000.0)


def _operated_totals(costs: ReferenceCosts, profile: PlatformProfile, clock) -> tuple[np.ndarray, np.ndarray]:
    """Sums over the layers of :func:`_operated` at ``k`` points, without its per-layer matrices.

    The GPU times depend on the GPU and memory clocks only: they are computed once per distinct
    pair. The waits sum to the largest lead of the launches over the GPU, ``max_l(ready_l - before_l)``;
    the energy is linear in the GPU times and the waits.
    """
    model = profile.operating
    (gpu, cpu, emc), (f_gpu, f_cpu, f_emc), static, gpu_mw = _operating_power(costs, profile, clock)
    pairs, which = np.unique(np.stack([f_gpu, f_emc], axis=1), axis=0, return_inverse=True)
    which = which.reshape(-1)
    compute, _, busy = _gpu_times(costs, pairs[:, 0] / gpu.reference_mhz, pairs[:, 1] / emc.reference_mhz)
    busy_sum = busy.sum(axis=1)
    active_sum = model.activity_memory_bound * busy_sum + (1.0 - model.activity_memory_bound) * compute.sum(axis=1)
    before = np.cumsum(busy, axis=1) - busy
    ready = _launch_ready(costs, busy.shape[1])
    slow = cpu.reference_mhz / f_cpu
    waits = np.empty(f_cpu.size)
    for index in range(pairs.shape[0]):                          # a few dozen pairs: each a (points, layers) max
        mine = np.flatnonzero(which == index)
        waits[mine] = np.max(slow[mine, None] * ready[None, :] - before[index][None, :], axis=1) if ready.size else 0.0
    if costs.held_wait_ms is not None:                           # the board model holds the reference waits
        waits = waits - float(costs.held_wait_ms.sum())
    latency = busy_sum[which] + waits
    energy = (static * latency + gpu_mw * (active_sum[which] + model.activity_idle * waits)) / 1000.0
    energy = energy + model.dram_pj_per_byte * float(costs.bytes_.sum()) * 1e-9
    if costs.host_mw is not None:
        energy = energy + float(mw_ms_to_mj(costs.host_mw @ costs.overhead_ms, 1.0))
    return latency, energy


def evaluate_parts(costs: ReferenceCosts, profile: PlatformProfile, freq_mhz) -> LayerCosts:
    """Per-layer parts, power and energy at one operating point (``freq_mhz``: domain -> MHz).

    Domains left out of ``freq_mhz`` run at their reference clock. Under an operating model a
    layer's overhead part includes its wait for the CPU's launch; the run's pre/post-processing is
    ``run_ms`` / ``run_mj``, outside every layer.
    """
    def clock(name):
        return float(freq_mhz.get(name, profile.clocks[name].reference_mhz))

    if costs.exposed is not None:
        latency, energy, compute, memory, wait = (a[0] for a in _operated(costs, profile, clock))
        run_ms, run_mj = _pre_post(costs, profile, clock) if latency.size else (0.0, 0.0)
        latency, wait, energy = latency.copy(), wait.copy(), energy.copy()
        if latency.size:                      # the first layer's wait holds the run's pre/post-processing
            latency[0] -= run_ms
            wait[0] -= run_ms
            energy[0] -= run_mj
        power = np.divide(energy * 1000.0, latency, out=np.zeros_like(energy), where=latency > 0)
        return LayerCosts(parts=CostParts(compute, memory, costs.overhead_ms + wait, latency), power_mw=power,
                          energy_mj=energy, run_ms=run_ms, run_mj=run_mj)

    compute_scale, memory_scale, compute_power, extra_mw = clock_scales(profile, clock)
    compute, memory = costs.compute_ms / compute_scale, costs.memory_ms / memory_scale
    latency = costs.combine(compute, memory) + costs.overhead_ms
    power = profile.power.idle_mw + extra_mw + costs.active_mw * compute_power
    if costs.host_mw is not None:
        power = power + costs.host_mw
    energy = mw_ms_to_mj(power, latency)
    if costs.work_mj is not None:
        energy = energy + costs.work_mj * (compute_power / compute_scale)       # per-op energy ~ V^2
        power = np.divide(energy * 1000.0, latency, out=np.zeros_like(energy), where=latency > 0)
    return LayerCosts(parts=CostParts(compute, memory, costs.overhead_ms, latency), power_mw=power, energy_mj=energy)


def evaluate_layers(costs: ReferenceCosts, profile: PlatformProfile, freq_mhz) -> tuple[np.ndarray, np.ndarray]:
    """Per-layer latency (ms) and energy (mJ) at one operating point (``freq_mhz``: domain -> MHz).

    Their sums, through :func:`network_totals`, are the totals :func:`evaluate_points` gives there
    (the layers as the additive model has them: the network term's factor applies to the sums).
    """
    layers = evaluate_parts(costs, profile, freq_mhz)
    if not layers.run_ms:
        return layers.parts.latency_ms, layers.energy_mj
    latency, energy = layers.parts.latency_ms.copy(), layers.energy_mj.copy()
    latency[0] += layers.run_ms                # the device that runs the first layer pre-processes the run
    energy[0] += layers.run_mj
    return latency, energy


def evaluate_points(costs: ReferenceCosts, profile: PlatformProfile,
                    freq_mhz: dict) -> tuple[np.ndarray, np.ndarray]:
    """Total latency (ms) and energy (mJ) per inference at each of ``k`` operating points.

    Parameters
    ----------
    costs : ReferenceCosts
    profile : Profile
    freq_mhz : dict of str to numpy.ndarray
        Clock of each domain at each point, arrays of shape ``(k,)``; domains
        left out run at their reference clock.

    Returns
    -------
    latency_ms, energy_mj : numpy.ndarray
        Shape ``(k,)``.
    """
    if costs.exposed is not None:
        return _operated_points(costs, profile, freq_mhz)
    sums, compute_scale, compute_power, extra_mw = _point_sums(costs, profile, freq_mhz, costs.active_mw)
    latency, active_energy = sums[:, 0], sums[:, 1]    # active_energy: sum over layers of active_mw * latency_ms
    host_energy = float(costs.overhead_ms @ costs.host_mw) if costs.host_mw is not None else 0.0   # unscaled
    energy = mw_ms_to_mj((profile.power.idle_mw + extra_mw) * latency + compute_power * active_energy + host_energy,
                         1.0)
    if costs.work_mj is not None:
        energy = energy + float(costs.work_mj.sum()) * (compute_power / compute_scale)   # per-op energy ~ V^2
    return network_totals(costs, latency, energy)


def interval_points(costs: ReferenceCosts, profile: PlatformProfile, freq_mhz: dict, latency_ms=None):
    """Low and high ends (ms) of the network's interval at each of ``k`` operating points; None without one.

    The totals are :func:`evaluate_points`' latencies (pass them as ``latency_ms`` when already
    computed); the interval widens by the share of them in layers of classes the fit never saw
    (``_intervals.IntervalBasis``, :func:`_unseen_ms`).
    """
    if costs.interval is None:
        return None
    total = evaluate_points(costs, profile, freq_mhz)[0] if latency_ms is None else np.asarray(latency_ms, dtype=float)
    return costs.interval.bounds(total, _unseen_ms(costs, profile, freq_mhz, total))


def interval_at(costs: ReferenceCosts, profile: PlatformProfile, freq_mhz: dict, total_ms: float) -> Interval | None:
    """One estimate's :class:`Interval` (with its notes) at one point whose total latency is ``total_ms``."""
    if costs.interval is None:
        return None
    point = {name: np.array([float(value)]) for name, value in freq_mhz.items()}
    unseen = float(_unseen_ms(costs, profile, point, np.array([float(total_ms)]))[0])
    return interval_of(costs.interval, float(total_ms), unseen)


def _unseen_ms(costs: ReferenceCosts, profile: PlatformProfile, freq_mhz: dict, total: np.ndarray) -> np.ndarray:
    """The part of each point's ``total`` in layers of classes the fit never saw.

    Without an operating model: those layers' latencies. Under one (its CPU waits are not any one
    layer's), their share of the layers' GPU-side costs, applied to the operated totals.
    """
    sums, _, _, _ = _point_sums(costs, profile, freq_mhz, costs.interval.unseen.astype(float))
    if costs.exposed is None:
        return sums[:, 1] * network_factor(costs, sums[:, 0])     # both after the network term
    plain, _ = network_totals(costs, sums[:, 0], np.zeros(len(sums)))
    return sums[:, 1] * np.divide(total, plain, out=np.ones_like(total), where=plain > 0)


def _point_clocks(profile: PlatformProfile, freq_mhz: dict):
    """The number of points ``k`` in ``freq_mhz`` and a function giving each domain's clocks there, ``(k,)``."""
    k = len(next(iter(freq_mhz.values()))) if freq_mhz else 1

    def clock(name):
        value = freq_mhz.get(name)
        return np.full(k, profile.clocks[name].reference_mhz) if value is None else np.asarray(value, dtype=float)

    return k, clock


def _operated_points(costs: ReferenceCosts, profile: PlatformProfile, freq_mhz: dict):
    """:func:`evaluate_points` under the profile's operating model (:func:`_operated_totals`, in chunks)."""
    k, clock = _point_clocks(profile, freq_mhz)
    step = max(1, 4_000_000 // max(costs.size, 1))
    latency, energy = np.zeros(k), np.zeros(k)
    for start in range(0, k, step):
        part = slice(start, start + step)
        latency[part], energy[part] = _operated_totals(costs, profile, lambda name: clock(name)[part])
    return network_totals(costs, latency, energy)


def _point_sums(costs: ReferenceCosts, profile: PlatformProfile, freq_mhz: dict, weights: np.ndarray):
    """Per point, the sum of the layers' latencies and of their latencies times ``weights`` (shape ``(k, 2)``).

    Also returns the compute domain's clock scale and power scale and the other domains' dynamic
    power at each point.
    """
    k, clock = _point_clocks(profile, freq_mhz)
    compute_scale, memory_scale, compute_power, extra_mw = clock_scales(profile, clock)
    sums = np.zeros((k, 2))
    columns = np.stack([np.ones(costs.size), np.asarray(weights, dtype=float)], axis=1)
    step = max(1, 4_000_000 // max(costs.size, 1))
    for start in range(0, k, step):
        part = slice(start, start + step)
        compute = costs.compute_ms[None, :] / compute_scale[part, None]
        memory = costs.memory_ms[None, :] / memory_scale[part, None]
        layer = costs.combine(compute, memory) + costs.overhead_ms[None, :]
        sums[part] = layer @ columns
    return sums, compute_scale, compute_power, extra_mw
