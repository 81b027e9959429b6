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
runtime executes) and the on-chip parameter memory (weights that do not fit stream over the host
link every inference: that time joins the layer's overhead, which no clock changes). The interval
an estimate carries (``_intervals``) is kept with the reference costs and evaluated from the same
totals (:func:`interval_points`), so every figure at the same clocks has the same interval.

The profile is what :class:`PlatformProfile` describes (``edgeperf.profiles.Profile`` is one); the
estimator does not import the profiles package.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from .._units import BITS_PER_ELEMENT, mw_ms_to_mj
from ._cost_models import COMBINE_RULES, COST_MODELS, CostParts, Features
from ._intervals import IntervalBasis, interval_basis
from ._mapping import MappedGraph, layer_bytes
from ._param_memory import stream_ms
from ._protocols import PlatformProfile
from ._network_term import NetworkTerm, network_scale
from ._support import Placement, place_layers

__all__ = ["power_scale", "clock_scales", "inference_overhead", "latency_parts", "ReferenceCosts", "reference_costs",
           "LayerCosts", "evaluate_parts", "evaluate_layers", "evaluate_points", "network_totals", "interval_points",
           "network_factor"]


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
                 layer_precision: tuple[str, ...] | None = None, on_device: np.ndarray | None = None):
    """:func:`latency_parts`, and each layer's combine rule (the name its cost model's entry gives).

    Each layer runs at ``precision``, or at int8 where the model fixes it so and the device has
    int8 (a quantized layer on a device without int8 runs, and moves its data, at ``precision``);
    ``layer_precision`` (a placement's) overrides both, layer by layer. The compute part is priced on
    the multiply-adds the runtime executes (``mapped.work_scale``: Winograd); the weights of the layers
    ``on_device`` (all by default) that do not fit an on-chip parameter memory stream from the host, and
    that time (also returned, per layer) joins the overhead part.
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
    out_bytes = mapped.out_elems * bits / 8.0
    flops_per_ms = peak * 1e6 * compute_scale
    bytes_per_ms = np.full(n, profile.memory_bandwidth_gbps * 1e6 * memory_scale)
    compute, memory, overhead, latency = np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n)
    flops = mapped.flops if mapped.work_scale is None else mapped.flops * mapped.work_scale
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
    return CostParts(compute, memory, overhead + streamed, latency + streamed), bytes_, rules, streamed


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
    network_term: NetworkTerm | None = None   # the profile's (None: the layers add up)

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


def reference_costs(mapped: MappedGraph, profile: PlatformProfile, precision: str) -> ReferenceCosts:
    """Latency parts, combine rules and dynamic power of every executed layer at reference clocks.

    Where the profile says what its runtime maps (``runtime_support``), each layer runs where and at
    the precision the placement (``_support``) gives; layers on the host CPU are costed by the host's
    profile at its reference clocks, plus the link transfers, as a fixed part the device's clocks
    do not scale.
    """
    support = getattr(profile, "runtime_support", None)
    placement = place_layers(mapped, support, profile.precisions, precision) if support is not None else None
    on_device = ~placement.host if placement is not None else None
    parts, bytes_, rules, streamed = _class_parts(mapped, profile, precision, _reference_point(profile),
                                                  placement.precision if placement is not None else None, on_device)
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
    basis = interval_basis(profile.uncertainty, precision=precision, input_hw=mapped.graph.input_hw,
                           op_class=mapped.op_class)
    return ReferenceCosts(compute_ms=parts.compute_ms, memory_ms=parts.memory_ms, overhead_ms=parts.overhead_ms,
                          rules=tuple(masks), active_mw=active, bytes_=bytes_, fixed_ms=fixed_ms, fixed_mj=fixed_mj,
                          streamed_ms=streamed, interval=basis, host_mw=host_mw, placement=placement,
                          network_term=getattr(profile, "network_term", None))


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
    return network_scale(np.asarray(whole_ms, dtype=float) + costs.fixed_ms, costs.network_term)


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
    """Every executed layer at one operating point: latency parts (ms), power (mW) and energy (mJ)."""

    parts: CostParts
    power_mw: np.ndarray
    energy_mj: np.ndarray


def evaluate_parts(costs: ReferenceCosts, profile: PlatformProfile, freq_mhz) -> LayerCosts:
    """Per-layer parts, power and energy at one operating point (``freq_mhz``: domain -> MHz).

    Domains left out of ``freq_mhz`` run at their reference clock.
    """
    def clock(name):
        return float(freq_mhz.get(name, profile.clocks[name].reference_mhz))

    compute_scale, memory_scale, compute_power, extra_mw = clock_scales(profile, clock)
    compute, memory = costs.compute_ms / compute_scale, costs.memory_ms / memory_scale
    latency = costs.combine(compute, memory) + costs.overhead_ms
    power = profile.power.idle_mw + extra_mw + costs.active_mw * compute_power
    if costs.host_mw is not None:
        power = power + costs.host_mw
    return LayerCosts(parts=CostParts(compute, memory, costs.overhead_ms, latency), power_mw=power,
                      energy_mj=mw_ms_to_mj(power, latency))


def evaluate_layers(costs: ReferenceCosts, profile: PlatformProfile, freq_mhz) -> tuple[np.ndarray, np.ndarray]:
    """Per-layer latency (ms) and energy (mJ) at one operating point (``freq_mhz``: domain -> MHz).

    Their sums, through :func:`network_totals`, are the totals :func:`evaluate_points` gives there
    (the layers as the additive model has them: the network term's factor applies to the sums).
    """
    layers = evaluate_parts(costs, profile, freq_mhz)
    return layers.parts.latency_ms, layers.energy_mj


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
    sums, compute_power, extra_mw = _point_sums(costs, profile, freq_mhz, costs.active_mw)
    latency, active_energy = sums[:, 0], sums[:, 1]    # active_energy: sum over layers of active_mw * latency_ms
    host_energy = float(costs.overhead_ms @ costs.host_mw) if costs.host_mw is not None else 0.0   # unscaled
    energy = mw_ms_to_mj((profile.power.idle_mw + extra_mw) * latency + compute_power * active_energy + host_energy,
                         1.0)
    return network_totals(costs, latency, energy)


def interval_points(costs: ReferenceCosts, profile: PlatformProfile, freq_mhz: dict):
    """Low and high ends (ms) of the network's interval at each of ``k`` operating points; None without one.

    The totals are :func:`evaluate_points`' latencies; the interval widens by the share of them in
    layers of classes the fit never saw (``_intervals.IntervalBasis``).
    """
    if costs.interval is None:
        return None
    sums, _, _ = _point_sums(costs, profile, freq_mhz, costs.interval.unseen.astype(float))
    total, _ = network_totals(costs, sums[:, 0], np.zeros(len(sums)))
    return costs.interval.bounds(total, sums[:, 1] * network_factor(costs, sums[:, 0]))   # both after the term


def _point_sums(costs: ReferenceCosts, profile: PlatformProfile, freq_mhz: dict, weights: np.ndarray):
    """Per point, the sum of the layers' latencies and of their latencies times ``weights`` (shape ``(k, 2)``).

    Also returns the compute domain's power scale and the other domains' dynamic power at each point.
    """
    k = len(next(iter(freq_mhz.values()))) if freq_mhz else 1

    def clock(name):
        value = freq_mhz.get(name)
        return np.full(k, profile.clocks[name].reference_mhz) if value is None else np.asarray(value, dtype=float)

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
    return sums, compute_power, extra_mw
