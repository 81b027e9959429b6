"""Per-layer and total latency and energy of a mapped graph on a platform profile.

Latency: each executed layer is costed by the cost model its operator class has
in the profile (``_cost_models``), on a machine whose peak throughput is the
profile's figure for the layer's precision scaled by the compute clock, and
whose bandwidth is scaled by the memory clock. Layers add up: the network
latency is the sum of its executed layers (ANNETTE, nn-Meter and Blackthorn all
make this assumption; the mapping model is what makes it hold).

Energy: a layer draws the board's idle power plus the dynamic power of its
operator class, scaled to the operating point by ``f * V^2`` (or ``f`` where
voltages are unknown); its energy is that power times its latency. The total is
the sum, so idle power over the whole inference is included exactly once.

The profile is duck-typed (see ``edgeperf.profiles.Profile``); this module
does not import the profiles package.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from .._errors import InputError
from .._units import BITS_PER_ELEMENT, mw_ms_to_mj
from ._cost_models import COST_MODELS, CostParts, Features
from ._mapping import MappedGraph
from ._network_term import network_scale

__all__ = ["inference_overhead", "OperatingPoint", "LayerEstimate", "Estimate", "resolve_operating_point", "latency_parts",
           "estimate_mapped", "choose_precision", "power_scale", "clock_scales"]

SCHEMA = "edgeperf.estimate/1"


@dataclass(frozen=True, slots=True, kw_only=True)
class OperatingPoint:
    """Clock of every domain, and the power mode they came from."""

    power_mode: str | None
    freq_mhz: MappingProxyType
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {"power_mode": self.power_mode, "freq_mhz": dict(self.freq_mhz)}


def resolve_operating_point(profile, power_mode: str | None = None, freq_mhz: dict | None = None) -> OperatingPoint:
    """Clocks for a power mode and explicit frequency choices.

    Each domain runs at its reference clock, capped by the power mode (snapped
    down to the nearest available step), unless ``freq_mhz`` names a frequency.
    A frequency between steps runs at the highest step below it, as devfreq and
    cpufreq do with a ``max_freq`` between steps (the point's ``notes`` say so);
    it must lie within the domain's range and the mode's cap.

    Raises
    ------
    InputError
        For an unknown power mode or domain, or a frequency the domain lacks.
    """
    mode = power_mode if power_mode is not None else profile.default_power_mode
    if mode is not None and mode not in profile.power_modes:
        raise InputError(f"platform {profile.name!r} has no power mode {mode!r}; "
                         f"available: {sorted(profile.power_modes) or 'none'}")
    caps = dict(profile.power_modes[mode]) if mode is not None else {}
    freqs = {}
    for name, domain in profile.clocks.items():
        ceiling = min(caps.get(name, domain.reference_mhz), domain.reference_mhz)
        allowed = [f for f in domain.available_mhz if f <= ceiling + 1e-6] or [domain.available_mhz[0]]
        freqs[name] = max(allowed)
    notes: list[str] = []
    for name, value in (freq_mhz or {}).items():
        if name not in profile.clocks:
            raise InputError(f"platform {profile.name!r} has no clock domain {name!r}; domains: {sorted(profile.clocks)}")
        domain = profile.clocks[name]
        steps = ", ".join(f"{f:g}" for f in domain.available_mhz)
        match = [f for f in domain.available_mhz if abs(f - value) <= 0.5]
        below = [f for f in domain.available_mhz if f <= value + 0.5]
        if not match and (not below or value > domain.available_mhz[-1] + 0.5):
            raise InputError(f"{name}={value:g} MHz is outside the range of platform {profile.name!r}; "
                             f"available {name} MHz: {steps}")
        chosen = match[0] if match else max(below)
        if not match:
            notes.append(f"{name}={value:g} MHz is not a step: runs at {chosen:g} MHz, the highest step below "
                         f"(as devfreq/cpufreq do); steps: {steps}")
        cap = caps.get(name)
        if cap is not None and chosen > cap + 1e-6:
            raise InputError(f"{name}={value:g} MHz exceeds the {cap:g} MHz cap of power mode {mode!r}")
        freqs[name] = chosen
    return OperatingPoint(power_mode=mode, freq_mhz=MappingProxyType(freqs), notes=tuple(notes))


def choose_precision(profile, requested: str | None, native: str = "fp32") -> tuple[str, str | None]:
    """The deployment precision and, when it was not asked for, a note saying why.

    Raises
    ------
    InputError
        When ``requested`` is not a precision the platform supports.
    """
    supported = sorted(profile.precisions)
    if requested is not None:
        if requested not in profile.precisions:
            raise InputError(f"platform {profile.name!r} does not run precision {requested!r}; "
                             f"supported: {', '.join(supported)}")
        return requested, None
    if native in profile.precisions and native != "fp32":
        return native, f"precision {native}: the model is quantized"
    chosen = profile.default_precision
    return chosen, f"precision {chosen}: the platform's default deployment precision (choose with --precision)"


def power_scale(domain, freq_mhz) -> np.ndarray:
    """Dynamic power of ``domain`` at ``freq_mhz`` relative to its reference clock: ``f V^2 / (f_ref V_ref^2)``.

    >>> from edgeperf.profiles import ClockDomain
    >>> d = ClockDomain(name="gpu", reference_mhz=1000.0, available_mhz=(500.0, 1000.0), voltage_v=(0.8, 1.0))
    >>> float(power_scale(d, 500.0))    # 0.5 * (0.8 / 1.0) ** 2
    0.32
    """
    freq = np.asarray(freq_mhz, dtype=float)
    scale = freq / domain.reference_mhz
    if domain.voltage_v is not None:
        volt = np.interp(freq, domain.available_mhz, domain.voltage_v)
        scale = scale * (volt / domain.voltage_at(domain.reference_mhz)) ** 2
    return scale



def clock_scales(profile, clock):
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


def _scales(profile, point: OperatingPoint) -> tuple[float, float, float, float]:
    """:func:`clock_scales` at one operating point, as floats."""
    return tuple(float(v) for v in clock_scales(profile, point.freq_mhz.__getitem__))


def inference_overhead(profile) -> tuple[float, float]:
    """The profile's per-inference overhead outside every layer: ms, and mJ at idle power."""
    ms = float(profile.inference_overhead_ms)
    return ms, float(mw_ms_to_mj(profile.power.idle_mw, ms))


def latency_parts(mapped: MappedGraph, profile, precision: str, point: OperatingPoint) -> tuple[CostParts, np.ndarray]:
    """Latency parts of every executed layer, vectorised per operator class.

    Returns
    -------
    parts : CostParts
        Arrays aligned with ``mapped.layers`` (ms).
    bytes_ : numpy.ndarray
        Bytes each layer moves at its precision.
    """
    n = len(mapped.layers)
    compute_scale, memory_scale, _, _ = _scales(profile, point)
    layer_int8 = mapped.int8_layer & ("int8" in profile.precisions)
    bits = np.where(mapped.int8_layer, 8.0, float(BITS_PER_ELEMENT[precision]))
    bytes_ = mapped.elements * bits / 8.0
    weight_bytes, out_bytes = mapped.weight_elems * bits / 8.0, mapped.out_elems * bits / 8.0
    peak = np.where(layer_int8, profile.precisions.get("int8", 0.0), profile.precisions[precision])
    flops_per_ms = peak * 1e6 * compute_scale
    bytes_per_ms = np.full(n, profile.memory_bandwidth_gbps * 1e6 * memory_scale)
    compute = np.zeros(n)
    memory = np.zeros(n)
    overhead = np.zeros(n)
    latency = np.zeros(n)
    for op_class in np.unique(mapped.op_class) if n else ():
        index = np.flatnonzero(mapped.op_class == op_class)
        model = profile.layer_model(op_class)
        function = COST_MODELS[model.form][0]
        features = Features(
            flops=mapped.flops[index], bytes_=bytes_[index], c_in=mapped.c_in[index], c_out=mapped.c_out[index],
            h_out=mapped.h_out[index], w_out=mapped.w_out[index], flops_per_ms=flops_per_ms[index],
            bytes_per_ms=bytes_per_ms[index], weight_bytes=weight_bytes[index], out_bytes=out_bytes[index],
        )
        part = function(features, dict(model.params))
        compute[index], memory[index] = part.compute_ms, part.memory_ms
        overhead[index], latency[index] = part.overhead_ms, part.latency_ms
    return CostParts(compute, memory, overhead, latency), bytes_


@dataclass(frozen=True, slots=True, kw_only=True)
class LayerEstimate:
    """Predicted cost of one executed layer (units in the field names)."""

    name: str
    op_type: str
    op_class: str
    nodes: tuple[str, ...]
    output_shape: tuple[int, ...]
    macs: int
    flops: int
    params: int
    bytes_: int
    precision: str
    cost_model: str
    bound: str
    compute_ms: float
    memory_ms: float
    overhead_ms: float
    latency_ms: float
    power_mw: float
    energy_mj: float
    share: float
    flags: tuple[str, ...]

    def to_dict(self) -> dict:
        return {
            "name": self.name, "op_type": self.op_type, "op_class": self.op_class, "nodes": list(self.nodes),
            "output_shape": list(self.output_shape), "macs": self.macs, "flops": self.flops, "params": self.params,
            "bytes": self.bytes_, "precision": self.precision, "cost_model": self.cost_model, "bound": self.bound,
            "compute_ms": self.compute_ms, "memory_ms": self.memory_ms, "overhead_ms": self.overhead_ms,
            "latency_ms": self.latency_ms, "power_mw": self.power_mw, "energy_mj": self.energy_mj,
            "share": self.share, "flags": list(self.flags),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Estimate:
    """Predicted latency and energy of one model on one platform configuration."""

    model: str
    platform: str
    profile_version: str
    precision: str
    operating_point: OperatingPoint
    layers: tuple[LayerEstimate, ...]
    total_latency_ms: float
    total_energy_mj: float
    total_macs: int
    total_params: int
    energy_calibrated: bool
    elided_nodes: int
    notes: tuple[str, ...]
    inference_overhead_ms: float = 0.0   # in the totals, outside every layer

    def to_dict(self) -> dict:
        """The stable JSON contract (schema ``edgeperf.estimate/1``)."""
        return {
            "schema": SCHEMA,
            "model": self.model,
            "platform": self.platform,
            "profile_version": self.profile_version,
            "precision": self.precision,
            "operating_point": self.operating_point.to_dict(),
            "total_latency_ms": self.total_latency_ms,
            "total_energy_mj": self.total_energy_mj,
            "total_macs": self.total_macs,
            "total_params": self.total_params,
            "energy_calibrated": self.energy_calibrated,
            "elided_nodes": self.elided_nodes,
            "inference_overhead_ms": self.inference_overhead_ms,
            "notes": list(self.notes),
            "layers": [layer.to_dict() for layer in self.layers],
        }


def estimate_mapped(mapped: MappedGraph, profile, *, precision: str, point: OperatingPoint,
                    notes: tuple[str, ...] = ()) -> Estimate:
    """Estimate a mapped graph at one precision and operating point.

    Parameters
    ----------
    mapped : MappedGraph
        From :func:`map_graph` with ``profile.mapping``.
    profile : Profile
    precision : str
        Deployment precision (one of ``profile.precisions``).
    point : OperatingPoint
        From :func:`resolve_operating_point`.
    notes : tuple of str
        Notes to carry into the result.

    Returns
    -------
    Estimate
    """
    parts, bytes_ = latency_parts(mapped, profile, precision, point)
    _, _, compute_power, extra_mw = _scales(profile, point)
    active = np.array([profile.power.active_for(layer.op_class) for layer in mapped.layers], dtype=float)
    power = profile.power.idle_mw + extra_mw + active * compute_power
    fixed_ms, fixed_mj = inference_overhead(profile)
    # the network term stretches every additive part alike (layers and the per-inference overhead)
    stretch = network_scale(float(parts.latency_ms.sum()) + fixed_ms, getattr(profile, "network_term", None))
    layer_ms = parts.latency_ms * stretch
    fixed_ms, fixed_mj = fixed_ms * stretch, fixed_mj * stretch
    energy = mw_ms_to_mj(power, layer_ms)
    total_latency = float(layer_ms.sum()) + fixed_ms
    layers = []
    for i, layer in enumerate(mapped.layers):
        compute, memory, overhead = float(parts.compute_ms[i]), float(parts.memory_ms[i]), float(parts.overhead_ms[i])
        bound = "overhead" if overhead > max(compute, memory) else ("compute" if compute >= memory else "memory")
        layer_precision = "int8" if layer.precision == "int8" else precision
        layers.append(LayerEstimate(
            name=layer.name, op_type=layer.op_type, op_class=layer.op_class, nodes=layer.nodes,
            output_shape=layer.output_shape, macs=layer.macs, flops=layer.flops, params=layer.params,
            bytes_=int(round(bytes_[i])), precision=layer_precision, cost_model=profile.layer_model(layer.op_class).form,
            bound=bound, compute_ms=compute, memory_ms=memory, overhead_ms=overhead,
            latency_ms=float(layer_ms[i]), power_mw=float(power[i]), energy_mj=float(energy[i]),
            share=float(layer_ms[i] / total_latency) if total_latency > 0 else 0.0, flags=layer.flags,
        ))
    all_notes = list(notes) + list(point.notes)
    if stretch != 1.0:
        all_notes.append(f"{profile.name}'s network term ({profile.network_term.form}, gamma "
                         f"{profile.network_term.gamma:g}) scales this network's layers by {stretch:.3f}")
    provenance = profile.document.get("provenance") or {}
    fitted = provenance.get("fitted_classes")
    if isinstance(fitted, list) and mapped.layers:
        missing = sorted({layer.op_class for layer in mapped.layers} - set(fitted) - {"shape"})
        if missing:
            all_notes.append(f"{profile.name} was fitted without {', '.join(missing)} layers: those use its base "
                             "model, untested by the fit")
    trained = provenance.get("fitted_input_hw_max")
    spatial = [d for _, shape in mapped.graph.inputs if len(shape) == 4 for d in shape[2:]]
    if isinstance(trained, (int, float)) and spatial and max(spatial) > 2 * trained:
        all_notes.append(f"{profile.name} was fitted on inputs up to {trained:g}x{trained:g}; this model's input is "
                         f"{'x'.join(map(str, spatial))}: an extrapolation its quality field warns about")
    unknown = sum(1 for layer in mapped.layers if "unknown-op" in layer.flags)
    if unknown:
        all_notes.append(f"{unknown} layer(s) with unknown operators estimated by roofline from bytes and MACs "
                         "(flag unknown-op)")
    if not profile.power.has_model:
        all_notes.append(f"{profile.name} has no power model: energy is unknown (reported as 0); fit one with "
                         "edgeperf fit-power or calibrate with a power source")
    elif not profile.power.calibrated:
        all_notes.append(f"energy not calibrated on {profile.name}: published board power figures, not per-layer "
                         "measurements")
    return Estimate(
        model=mapped.graph.name,
        platform=profile.name,
        profile_version=profile.version,
        precision=precision,
        operating_point=point,
        layers=tuple(layers),
        total_latency_ms=total_latency,
        total_energy_mj=float(energy.sum()) + fixed_mj,
        inference_overhead_ms=fixed_ms,
        total_macs=sum(layer.macs for layer in mapped.layers),
        total_params=mapped.graph.params,
        energy_calibrated=profile.power.calibrated,
        elided_nodes=len(mapped.elided),
        notes=tuple(all_notes),
    )
