"""Per-layer and total latency and energy of a mapped graph on a platform profile, as an :class:`Estimate`.

Operating points (:func:`resolve_operating_point`), the deployment precision
(:func:`choose_precision`) and the report of one estimate. The numbers come from the
engine (``_engine``): layers add up, so the network latency is the sum of its executed
layers plus the per-inference overhead (ANNETTE, nn-Meter and Blackthorn all make this
assumption; the mapping model is what makes it hold), and the energy likewise.

The profile is what :class:`PlatformProfile` describes (``edgeperf.profiles.Profile``
is one); this module does not import the profiles package.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from types import MappingProxyType

from .._args import typed
from .._errors import InputError
from .._frames import frame, short_repr
from .._messages import show
from ._batch import Throughput, batch_fits, throughput_curve
from ._engine import evaluate_parts, graph_batch, interval_at, network_factor, network_totals, reference_costs
from ._ir import FALLBACK_CLASS, Graph
from ._protocols import PlatformProfile
from ._mapping import MappedGraph, map_graph

__all__ = ["estimate_graph", "check_batch", "check_host_time", "MAX_BATCH", "OperatingPoint", "LayerEstimate", "Estimate", "resolve_operating_point",
           "estimate_mapped", "choose_precision"]

SCHEMA = "edgeperf.estimate/1"

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class OperatingPoint:
    """Clock of every domain, and the power mode they came from."""

    power_mode: str | None
    freq_mhz: MappingProxyType
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {"power_mode": self.power_mode, "freq_mhz": dict(self.freq_mhz)}


@typed
def resolve_operating_point(profile: PlatformProfile, power_mode: str | None = None,
                            freq_mhz: dict[str, float] | None = None) -> OperatingPoint:
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
        raise InputError(f"platform {show(profile.name)} has no power mode {show(mode)}; "
                         f"available: {show(sorted(profile.power_modes)) if profile.power_modes else 'none'}")
    caps = dict(profile.power_modes[mode]) if mode is not None else {}
    freqs = {}
    for name, domain in profile.clocks.items():
        ceiling = min(caps.get(name, domain.reference_mhz), domain.reference_mhz)
        allowed = [f for f in domain.available_mhz if f <= ceiling + 1e-6] or [domain.available_mhz[0]]
        freqs[name] = max(allowed)
    notes: list[str] = []
    for name, value in (freq_mhz or {}).items():
        if name not in profile.clocks:
            raise InputError(f"platform {show(profile.name)} has no clock domain {show(name)}; domains: {show(sorted(profile.clocks))}")
        domain = profile.clocks[name]
        steps = ", ".join(f"{f:g}" for f in domain.available_mhz)
        match = [f for f in domain.available_mhz if abs(f - value) <= 0.5]
        below = [f for f in domain.available_mhz if f <= value + 0.5]
        if not match and (not below or value > domain.available_mhz[-1] + 0.5):
            raise InputError(f"{name}={value:g} MHz is outside the range of platform {show(profile.name)}; "
                             f"available {name} MHz: {steps}")
        chosen = match[0] if match else max(below)
        if not match:
            notes.append(f"{name}={value:g} MHz is not a step: runs at {chosen:g} MHz, the highest step below "
                         f"(as devfreq/cpufreq do); steps: {steps}")
        cap = caps.get(name)
        if cap is not None and chosen > cap + 1e-6:
            raise InputError(f"{name}={value:g} MHz exceeds the {cap:g} MHz cap of power mode {show(mode)}")
        freqs[name] = chosen
    return OperatingPoint(power_mode=mode, freq_mhz=MappingProxyType(freqs), notes=tuple(notes))


@typed
def choose_precision(profile: PlatformProfile, requested: str | None, native: str = "fp32") -> tuple[str, str | None]:
    """The deployment precision and, when it was not asked for, a note saying why.

    Raises
    ------
    InputError
        When ``requested`` is not a precision the platform supports.
    """
    supported = sorted(profile.precisions)
    if requested is not None:
        if requested not in profile.precisions:
            raise InputError(f"platform {show(profile.name)} does not run precision {show(requested)}; "
                             f"supported: {', '.join(supported)}")
        return requested, None
    if native in profile.precisions and native != "fp32":
        return native, f"precision {native}: the model is quantized"
    chosen = profile.default_precision
    return chosen, f"precision {chosen}: the platform's default deployment precision (choose with --precision)"


@dataclass(frozen=True, slots=True, kw_only=True)
class LayerEstimate:
    """Predicted cost of one executed layer (units in the field names).

    ``power_mw`` and ``energy_mj`` are None when the profile has no power model (energy unknown).
    """

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
    power_mw: float | None
    energy_mj: float | None
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


@dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class Estimate:
    """Predicted latency and energy of one model on one platform configuration.

    Attributes
    ----------
    total_energy_mj : float or None
        None when the profile has no power model (energy unknown); per-layer energy likewise.
    batch : int
        Inferences one run of the model makes (the leading dimension its inputs share).
    latency_is_bound : bool
        True when the profile is a datasheet roofline: ``total_latency_ms`` is an optimistic
        lower bound on the latency, not a prediction (the notes say so too).
    """

    model: str
    platform: str
    profile_version: str
    precision: str
    operating_point: OperatingPoint
    layers: tuple[LayerEstimate, ...]
    total_latency_ms: float
    total_energy_mj: float | None
    total_macs: int
    total_params: int
    energy_calibrated: bool
    elided_nodes: int
    notes: tuple[str, ...]
    inference_overhead_ms: float = 0.0   # in the totals, outside every layer (with an operating model: CPU pre/post too)
    total_latency_ms_low: float | None = None    # interval from the profile's held-out residuals (None: no model)
    total_latency_ms_high: float | None = None
    interval_coverage: float | None = None       # the coverage the interval was built for
    batch: int = 1
    latency_is_bound: bool = False
    throughput: Throughput | None = None   # at batch 1 and at the batch that saturates the board (``_batch``)

    @property
    def energy_per_inference_mj(self) -> float | None:
        """``total_energy_mj`` (one run of ``batch`` inferences) divided by the batch; None when energy is unknown."""
        return None if self.total_energy_mj is None else self.total_energy_mj / self.batch

    @property
    def throughput_per_s(self) -> float | None:
        """Inferences per second at this estimate's batch: ``batch * 1000 / total_latency_ms`` (None at 0 ms).

        One batch after another, nothing overlapped; the batch that saturates a board is the batch
        model's question, not this one's.
        """
        return self.batch * 1000.0 / self.total_latency_ms if self.total_latency_ms > 0 else None

    def __repr__(self) -> str:
        return short_repr(self, "model", "platform", "precision", "total_latency_ms", "total_energy_mj",
                          "latency_is_bound", layers=len(self.layers), notes=len(self.notes))

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
            "total_latency_ms_low": self.total_latency_ms_low,
            "total_latency_ms_high": self.total_latency_ms_high,
            "interval_coverage": self.interval_coverage,
            "latency_is_bound": self.latency_is_bound,
            "batch": self.batch,
            "throughput_per_s": self.throughput_per_s,
            "throughput": self.throughput.to_dict() if self.throughput is not None else None,
            "total_energy_mj": self.total_energy_mj,
            "energy_per_inference_mj": self.energy_per_inference_mj,
            "total_macs": self.total_macs,
            "total_params": self.total_params,
            "energy_calibrated": self.energy_calibrated,
            "elided_nodes": self.elided_nodes,
            "inference_overhead_ms": self.inference_overhead_ms,
            "notes": list(self.notes),
            "layers": [layer.to_dict() for layer in self.layers],
        }

    def to_frame(self):
        """One row per layer (the columns of :meth:`LayerEstimate.to_dict`, plus ``model`` and ``platform``).

        The per-inference overhead, outside every layer, is a row of its own (``op_type``
        ``overhead``), so the ``latency_ms`` column sums to ``total_latency_ms``. Needs pandas.
        """
        rows = [{"model": self.model, "platform": self.platform, **layer.to_dict()} for layer in self.layers]
        if self.inference_overhead_ms:
            rows.append({"model": self.model, "platform": self.platform, "name": "per-inference overhead",
                         "op_type": "overhead", "latency_ms": self.inference_overhead_ms,
                         "energy_mj": self.overhead_energy_mj})
        return frame(rows)

    @property
    def overhead_energy_mj(self) -> float | None:
        """Energy of the per-inference overhead (the total less every layer's), None when energy is unknown."""
        if self.total_energy_mj is None:
            return None
        return self.total_energy_mj - sum(layer.energy_mj for layer in self.layers)


def estimate_mapped(mapped: MappedGraph, profile: PlatformProfile, *, precision: str, point: OperatingPoint,
                    notes: tuple[str, ...] = (), batch: int | None = None, host_ms_per_item: float | None = None,
                    throughput: bool = False) -> Estimate:
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
    batch : int, optional
        Inferences per run (default: the graph's own batch); latency is per run, energy per run
        and per inference.
    host_ms_per_item : float, optional
        CPU pre/post-processing per inference at the CPU's reference clock (operating models only).
    throughput : bool
        Also compute the throughput at batch 1 and at the batch that saturates the board.

    Returns
    -------
    Estimate
    """
    costs = reference_costs(mapped, profile, precision, batch=batch, host_ms_per_item=host_ms_per_item)
    at_point = evaluate_parts(costs, profile, point.freq_mhz)
    total_latency, total_energy = network_totals(costs, float(at_point.parts.latency_ms.sum()) + at_point.run_ms,
                                                 float(at_point.energy_mj.sum()) + at_point.run_mj)
    total_energy = total_energy if profile.power.has_model else None   # energy unknown: None, never a made-up 0
    stretch = _stretch(costs, at_point)
    layers = _layer_estimates(mapped, profile, precision, costs, at_point, total_latency, stretch)
    interval = interval_at(costs, profile, point.freq_mhz, total_latency)
    bound = getattr(profile, "kind", "") == "datasheet"
    all_notes = (_bound_note(profile, total_latency) if bound else []) + list(notes) + list(point.notes) + _all_notes(
        mapped, profile, precision, costs, layers, interval) + _term_notes(profile, costs, stretch)
    return Estimate(
        model=mapped.graph.name,
        platform=profile.name,
        profile_version=profile.version,
        precision=precision,
        operating_point=point,
        layers=tuple(layers),
        total_latency_ms=total_latency,
        total_energy_mj=total_energy,
        inference_overhead_ms=(costs.fixed_ms + at_point.run_ms) * stretch,
        total_macs=sum(layer.macs for layer in mapped.layers),
        total_params=mapped.graph.params,
        energy_calibrated=profile.power.calibrated,
        elided_nodes=len(mapped.elided),
        notes=tuple(all_notes),
        total_latency_ms_low=interval and interval.low_ms, total_latency_ms_high=interval and interval.high_ms,
        interval_coverage=interval and interval.coverage,
        batch=int(costs.batch),
        latency_is_bound=bound,
        throughput=throughput_curve(mapped, profile, precision, point.freq_mhz) if throughput else None,
    )


def _layer_estimates(mapped: MappedGraph, profile: PlatformProfile, precision: str, costs, at_point,
                     total_latency: float, stretch: float) -> list[LayerEstimate]:
    """One :class:`LayerEstimate` per executed layer: its parts, what bounds it, where and at what precision it runs.

    ``stretch`` is the network term's factor (:func:`_stretch`), applied to each layer's latency and energy.
    """
    parts, placement = at_point.parts, costs.placement
    # plain floats for the per-layer records (indexing numpy arrays element by element is slow)
    compute_l, memory_l, overhead_l = parts.compute_ms.tolist(), parts.memory_ms.tolist(), parts.overhead_ms.tolist()
    latency_l, power_l, energy_l, bytes_l = ((parts.latency_ms * stretch).tolist(), at_point.power_mw.tolist(),
                                             (at_point.energy_mj * stretch).tolist(), costs.bytes_.tolist())
    streamed_l = costs.streamed_ms.tolist()
    if not profile.power.has_model:          # energy unknown: None, never a made-up 0
        power_l = energy_l = [None] * len(latency_l)
    layers = []
    for i, layer in enumerate(mapped.layers):
        compute, memory, overhead = compute_l[i], memory_l[i], overhead_l[i]
        bound = "overhead" if overhead > max(compute, memory) else ("compute" if compute >= memory else "memory")
        layer_precision = _run_precision(layer, profile, precision)
        flags = layer.flags + (("streams-weights",) if streamed_l[i] > 0 else ())
        if placement is not None:
            layer_precision = placement.precision[i]
            if placement.host[i]:
                bound, flags = "host", flags + ("host-fallback",)
                layer_precision = profile.fallback_host().default_precision
            elif placement.reason[i] is not None:
                flags = flags + ("precision-fallback",)
        layers.append(LayerEstimate(
            name=layer.name, op_type=layer.op_type, op_class=layer.op_class, nodes=layer.nodes,
            output_shape=layer.output_shape, macs=layer.macs, flops=layer.flops, params=layer.params,
            bytes_=int(round(bytes_l[i])), precision=layer_precision,
            cost_model=profile.layer_model(layer.op_class).form,
            bound=bound, compute_ms=compute, memory_ms=memory, overhead_ms=overhead,
            latency_ms=latency_l[i], power_mw=power_l[i], energy_mj=energy_l[i],
            share=latency_l[i] / total_latency if total_latency > 0 else 0.0, flags=flags,
        ))
    return layers


def _run_precision(layer, profile: PlatformProfile, precision: str) -> str:
    """The precision a layer runs at: int8 where the model fixes it so and the device has int8, else ``precision``."""
    return "int8" if layer.precision == "int8" and "int8" in profile.precisions else precision


def _precision_notes(mapped: MappedGraph, profile: PlatformProfile, precision: str) -> list[str]:
    """What a quantized model becomes on a device without an int8 path."""
    quantized = sum(1 for layer in mapped.layers if layer.precision == "int8")
    if not quantized or "int8" in profile.precisions:
        return []
    runtime = profile.runtime.get("name", "its runtime") if hasattr(profile, "runtime") else "its runtime"
    return [f"{profile.name} has no int8 path ({runtime} runs {', '.join(profile.precisions)} only): the model's "
            f"{quantized} quantized layer(s) run at {precision}, moving {precision} data"]


def _placement_notes(placement, layers: list, profile: PlatformProfile) -> list[str]:
    """Which layers fall back, where to, and what it costs (the layers carry the flags)."""
    if placement is None or not placement.moved:
        return []
    notes = []
    host = [layer for layer, on_host in zip(layers, placement.host) if on_host]
    if host:
        share = sum(layer.latency_ms for layer in host)
        first = next(reason for reason, on_host in zip(placement.reason, placement.host) if on_host)
        notes.append(f"{len(host)} layer(s) fall back to the host CPU ({profile.fallback_host().name}'s profile), "
                     f"{share:.3g} ms with the transfers; first: {host[0].name} ({first}); flag host-fallback")
    moved = [(layer, reason) for layer, reason, on_host in zip(layers, placement.reason, placement.host)
             if reason is not None and not on_host]
    if moved:
        shown = "; ".join(f"{layer.name}: {reason}" for layer, reason in moved[:3])
        more = f" and {len(moved) - 3} more" if len(moved) > 3 else ""
        notes.append(f"{len(moved)} layer(s) run at another precision than asked ({shown}{more}); "
                     "flag precision-fallback")
    return notes


def _all_notes(mapped: MappedGraph, profile: PlatformProfile, precision: str, costs, layers, interval) -> list[str]:
    """What the estimate says about itself: precisions, placement, trust, the operating model, the batch, the fit."""
    return (_precision_notes(mapped, profile, precision) + _placement_notes(costs.placement, layers, profile)
            + _notes(mapped, profile, costs.streamed_ms, interval) + _operating_notes(profile, costs)
            + _batch_notes(mapped, profile, precision, costs.batch) + _outside_fit(mapped, profile, precision))


def _batch_notes(mapped: MappedGraph, profile: PlatformProfile, precision: str, batch: float) -> list[str]:
    """Whether a run of ``batch`` inferences fits the board's memory (weights and the largest layer's activations)."""
    if batch <= 1 or batch_fits(mapped, profile, precision, int(batch)):
        return []
    return [f"batch {batch:g} does not fit {profile.name}'s memory ({getattr(profile, 'memory_bytes', 0) / 2**30:.3g} "
            "GiB: weights plus the largest layer's activations): the board cannot run it in one go"]


def _stretch(costs, at_point) -> float:
    """The network term's factor at this point (1 without one): the layers and the overhead reported scale alike."""
    return float(network_factor(costs, float(at_point.parts.latency_ms.sum()) + at_point.run_ms))


def _term_notes(profile: PlatformProfile, costs, stretch: float) -> list[str]:
    if stretch == 1.0:
        return []
    return [f"{profile.name}'s network term ({costs.network_term.describe()}) scales this network's layers by "
            f"{stretch:.3f}"]


def _bound_note(profile: PlatformProfile, total_latency: float) -> list[str]:
    return [f"{profile.name} is a datasheet roofline: {total_latency:.3g} ms is an optimistic lower bound on the "
            "latency, not a prediction (a fitted profile predicts; see edgeperf profiles list)"]


def _operating_notes(profile: PlatformProfile, costs) -> list[str]:
    """What an operating model adds: where voltages and CPU-side times come from."""
    model = getattr(profile, "operating", None)
    if model is None:
        return []
    return [f"operating model {model.name} ({model.soc}): energy from rail powers and voltage tables, CPU pre/post-"
            f"processing {costs.pre_post_ms / max(costs.batch, 1):.3g} ms per inference and {costs.dispatch_ms * 1000:.3g} us "
            f"per kernel launch at the CPU's reference clock, in each layer's overhead (see profiles show {profile.name} "
            "and docs/accuracy.md for which numbers are assumptions)"]


def _outside_fit(mapped: MappedGraph, profile: PlatformProfile, precision: str) -> list[str]:
    """Notes for an estimate outside what the profile's fit saw: input sizes and precision (a profile's
    ``uncertainty`` says the same in its interval's notes, so only a profile without one is checked here)."""
    provenance, notes = profile.provenance, []
    if profile.uncertainty is not None:
        return notes
    low, high, size = provenance.fitted_input_hw_min, provenance.fitted_input_hw_max, mapped.graph.input_hw
    if size is not None and high is not None and not (low or 0) <= size <= high:
        seen = f"{high:g}x{high:g}" if low in (None, high) else f"{low:g}x{low:g} to {high:g}x{high:g}"
        notes.append(f"{profile.name} was fitted on inputs of {seen}; this model's input is {size}x{size}: "
                     "an extrapolation the fit never checked")
    if provenance.precision is not None and provenance.n_networks and precision != provenance.precision:
        notes.append(f"{profile.name} was fitted at {provenance.precision}; {precision} layers use its base "
                     "profile's precision ratios, untested by the fit")
    return notes


def _notes(mapped: MappedGraph, profile: PlatformProfile, streamed_ms, interval) -> list[str]:
    """What an estimate of ``mapped`` on ``profile`` should say about its own trustworthiness."""
    notes = []
    fitted = profile.provenance.fitted_classes
    if fitted is not None and mapped.layers:
        missing = sorted({layer.op_class for layer in mapped.layers} - set(fitted) - {"shape"})
        borrowed = [c for c in missing if FALLBACK_CLASS.get(c) in fitted
                    and profile.layer_model(c) is profile.layer_model(FALLBACK_CLASS[c])]
        missing = [c for c in missing if c not in borrowed]
        if missing:
            notes.append(f"{profile.name} was fitted without {', '.join(missing)} layers: those use its base "
                             "model, untested by the fit")
        for op_class in borrowed:
            notes.append(f"{profile.name} has no model of its own for {op_class} layers (none in its training "
                         f"networks): they use its {FALLBACK_CLASS[op_class]} model" + (
                             ", fitted on kernels in the runtime's blocked layout, so they are likely underestimated"
                             if op_class.endswith("_generic") else ""))
    if streamed_ms.any():
        notes.append(f"{int((streamed_ms > 0).sum())} layer(s) stream their weights from the host every inference: "
                     f"the parameters exceed the {profile.parameter_memory.on_chip_bytes / 1e6:.1f} MB on-chip "
                     f"parameter memory ({streamed_ms.sum():.1f} ms; flag streams-weights)")
    unknown = sum(1 for layer in mapped.layers if "unknown-op" in layer.flags)
    if unknown:
        notes.append(f"{unknown} layer(s) with unknown operators estimated by roofline from bytes and MACs "
                     "(flag unknown-op)")
    if interval is not None and interval.notes:
        notes.append("interval widened: " + "; ".join(interval.notes))
    if not profile.power.has_model:
        notes.append(f"{profile.name} has no power model: energy is unknown (reported as null); fit one with "
                         "edgeperf fit-power or calibrate with a power source")
    elif not profile.power.calibrated:
        notes.append(f"energy not calibrated on {profile.name}: published board power figures, not per-layer "
                         "measurements")
    return notes


def estimate_graph(graph: Graph, profile: PlatformProfile, *, precision: str | None = None,
                   power_mode: str | None = None, freq_mhz: dict | None = None, batch: int | None = None,
                   host_ms_per_item: float | None = None, throughput: bool = True) -> Estimate:
    """Estimate a loaded graph on a profile: choose the precision and clocks, map, estimate.

    What :func:`edgeperf.estimate` does once model and profile are loaded; packages that hold a
    :class:`Graph` and a profile call this instead of going back up to the top-level API.

    Raises
    ------
    InputError
        For a precision, power mode or frequency the profile does not offer.
    """
    chosen, note = choose_precision(profile, precision, graph.native_precision)
    point = resolve_operating_point(profile, power_mode, freq_mhz)
    mapped = map_graph(graph, profile.mapping)
    logger.info("%s on %s: %d layers mapped to %d kernels (%d shape-only elided), %s", graph.name, profile.name,
                len(graph.layers), len(mapped.layers), len(mapped.elided), chosen)
    check_batch(graph, batch, host_ms_per_item)
    check_host_time(profile, host_ms_per_item)
    return estimate_mapped(mapped, profile, precision=chosen, point=point, notes=(note,) if note else (), batch=batch,
                           host_ms_per_item=host_ms_per_item, throughput=throughput)


def check_host_time(profile: PlatformProfile, host_ms_per_item: float | None) -> None:
    """Refuse a CPU pre/post-processing time for a profile that has no operating model to use it.

    Raises
    ------
    InputError
    """
    if host_ms_per_item is not None and getattr(profile, "operating", None) is None:
        raise InputError(f"--host-ms-per-item applies to profiles with an operating model (CPU-side work); "
                         f"{profile.name} has none: leave it out")


#: Largest batch accepted.
MAX_BATCH = 1_000_000


def check_batch(graph: Graph, batch: int | None, host_ms_per_item: float | None = None) -> None:
    """Refuse a batch that is not a positive integer, or that contradicts the batch the model's inputs fix.

    Raises
    ------
    InputError
        Saying what is wrong and how to fix it.
    """
    if host_ms_per_item is not None and not 0 <= host_ms_per_item <= 1e6:
        raise InputError(f"--host-ms-per-item must be in [0, 1e6] ms, got {show(host_ms_per_item)}")
    if batch is None:
        return
    if isinstance(batch, bool) or not isinstance(batch, int) or not 1 <= batch <= MAX_BATCH:
        raise InputError(f"--batch must be an integer in [1, {MAX_BATCH}], got {show(batch)}")
    own = graph_batch(graph)
    if own != 1 and own != batch:
        raise InputError(f"the model's inputs fix batch {own}; --batch {batch} contradicts it (export the model with "
                         "batch 1, or leave --batch out)")
