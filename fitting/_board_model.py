"""The board model: a handful of coefficients per board and runtime that hold across network sizes.

Every executed layer (after the runtime's mapping: fusion, folding, copy elision, Winograd) costs

    t = flops * s / (peak * e_c) + bytes / (bandwidth * m) + o

with ``e_c = compute_efficiency`` (times ``depthwise_ratio`` for depthwise convolutions), ``s`` the
runtime's Winograd work scale for the convolutions it runs that way (else 1), ``m =
memory_efficiency`` and ``o = layer_overhead_ms`` (kernel launch, dispatch, thread synchronisation).
int8 layers run at the datasheet int8 peak times ``int8_ratio``. A network costs the sum over its
layers, plus ``inference_overhead_ms`` once (the runtime call, input and output copies, the
harness), plus, on accelerators that keep parameters on chip, the weights beyond the on-chip memory
streamed over the host link at ``stream_efficiency`` times the link's datasheet rate.

Block tables measured on the same chip under another runtime setup (HW-NAS-Bench's FBNet blocks:
the Pi 4 with TFLite, the TX2 with TensorRT fp32 through torch2trt) are fitted jointly: their layer
sum is multiplied by a ``runtime_factor`` of their own (their clocks, threads and harness differ
from the published runs), and their harness pays its own ``inference_overhead_ms``. They inform the
chip's shared coefficients (the split between dense and depthwise convolutions, small layers) that
a handful of published networks cannot tell apart.

This is exactly what :func:`edgeperf.estimate` computes with the profile that ``_board_profiles``
makes (``step_linear`` layer models, ``inference_overhead_ms``, ``parameter_memory``, the mapping's
``winograd.work_scale``); a test holds the two equal. A profile with an operating model
(``operating_model``: the Jetson Nano and Xavier NX) is anchored to this model: at the reference clocks
and batch 1 its estimate is this model's latency (the fitted overheads hold the CPU-side work there),
and it adds only how the CPU, GPU and memory clocks and the batch change it.

Parameters are fitted in log space (all are positive); ``PARAMETERS`` lists them with the weakly
informative starting prior every fit shrinks towards before a prior is learned across boards.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .._units import BITS_PER_ELEMENT
from ..estimator import MappedGraph, layer_bytes, resolve_operating_point, streamed_weight_bytes

__all__ = ["Parameter", "PARAMETERS", "BoardFeatures", "StackedFeatures", "board_features", "predict_ms",
           "layer_times", "SHARED", "PER_BOARD", "COMBINE"]

#: How a layer's compute and memory times combine: added (no overlap), the form of ANNETTE's and Blackthorn's
#: step-linear layer models; chosen over the roofline's ``max`` by leave-one-network-out error on the
#: published table (benchmarks/board_profiles.py --ablations, docs/accuracy.md). Shipped as ``step_linear``
#: layer models without steps (compute_scale = 1 / efficiency, memory_scale = 1 / memory efficiency).
COMBINE = "sum"


@dataclass(frozen=True, slots=True, kw_only=True)
class Parameter:
    """One coefficient of the board model, its starting prior (log-normal: median, log-sd) and upper bound."""

    name: str
    median: float
    log_sd: float
    meaning: str
    upper: float = math.inf   # efficiencies and shares cannot exceed 1


PARAMETERS: dict[str, Parameter] = {p.name: p for p in (
    Parameter(name="compute_efficiency", upper=1.0, median=0.5, log_sd=1.5,
              meaning="share of the datasheet peak dense convolutions reach"),
    Parameter(name="depthwise_ratio", upper=1.0, median=0.3, log_sd=1.5,
              meaning="depthwise convolutions' efficiency relative to dense ones"),
    Parameter(name="memory_efficiency", upper=1.0, median=0.5, log_sd=1.5,
              meaning="share of the datasheet memory bandwidth memory-bound layers reach"),
    Parameter(name="layer_overhead_ms", median=0.02, log_sd=2.5,
              meaning="fixed cost of every executed layer (launch, dispatch, synchronisation)"),
    Parameter(name="winograd_scale", upper=1.0, median=0.5, log_sd=0.5,
              meaning="share of a 3x3 convolution's multiply-adds its Winograd kernel executes, transforms included"),
    Parameter(name="int8_ratio", median=1.0, log_sd=1.0,
              meaning="int8 layers' efficiency relative to the datasheet int8 peak, over the float one"),
    Parameter(name="inference_overhead_ms", median=0.5, log_sd=2.5,
              meaning="time per inference outside every layer (runtime call, copies, harness)"),
    Parameter(name="stream_efficiency", upper=1.0, median=0.8, log_sd=1.0,
              meaning="share of the host link's datasheet rate at which parameters beyond on-chip memory stream"),
    Parameter(name="runtime_factor", median=1.0, log_sd=1.5,
              meaning="a block table's runtime relative to the published one on the same chip (clocks, threads, "
                      "harness): multiplies every layer's time; 1 for the published boards"),
)}

#: Parameters shared by the boards of one chip; the others are per board (host, harness, link).
SHARED = ("compute_efficiency", "depthwise_ratio", "memory_efficiency", "layer_overhead_ms", "winograd_scale",
          "int8_ratio")
PER_BOARD = ("inference_overhead_ms", "stream_efficiency", "runtime_factor")


@dataclass(frozen=True, slots=True, eq=False)
class BoardFeatures:
    """What the board model needs of one network on one board, per executed layer (aligned arrays)."""

    flops: np.ndarray           # arithmetic of the model's layers
    winograd: np.ndarray        # Winograd tile padding (>= 1) where the runtime may use Winograd transforms, else 0
    depthwise: np.ndarray
    int8: np.ndarray            # the layer runs at the int8 peak
    peak_per_ms: np.ndarray     # datasheet peak at the layer's precision, flops per ms
    bytes_: np.ndarray          # bytes moved at the layer's precision
    weight_bytes: np.ndarray    # the weights among them, in execution order
    bytes_per_ms: float         # datasheet memory bandwidth
    op_classes: tuple[str, ...]
    winograd_always: bool = False   # the runtime keeps Winograd where its padded tiles cost more (ncnn's rule)

    @property
    def layers(self) -> int:
        return int(self.flops.size)


def board_features(mapped: MappedGraph, profile, precision: str) -> BoardFeatures:
    """Features of a mapped network at ``precision`` on the datasheet facts of ``profile`` (at its reference clocks).

    ``profile`` supplies peaks and bandwidth; its mapping must be the one ``mapped`` was made with.
    """
    point = resolve_operating_point(profile)
    compute = profile.clocks[profile.compute_domain]
    memory = profile.clocks[profile.memory_domain]
    clock = point.freq_mhz[profile.compute_domain] / compute.reference_mhz
    memory_clock = point.freq_mhz[profile.memory_domain] / memory.reference_mhz
    layer_int8 = (mapped.int8_layer & ("int8" in profile.precisions)) | (precision == "int8")
    peak = np.where(layer_int8, profile.precisions.get("int8", 0.0), profile.precisions[precision]) * 1e6 * clock
    bits = np.where(mapped.int8_layer, 8.0, float(BITS_PER_ELEMENT[precision]))
    return BoardFeatures(
        flops=mapped.flops.copy(),
        winograd=(mapped.winograd_padding.copy() if mapped.winograd_padding is not None
                  else np.zeros(len(mapped.layers))),
        depthwise=mapped.op_class == "dwconv",
        int8=layer_int8,
        peak_per_ms=peak,
        bytes_=layer_bytes(mapped, bits)[0],
        weight_bytes=layer_bytes(mapped, bits)[1],
        bytes_per_ms=profile.memory_bandwidth_gbps * 1e6 * memory_clock,
        op_classes=tuple(sorted({str(c) for c in mapped.op_class})),
        winograd_always=mapped.mapping.winograd is not None and mapped.mapping.winograd.choice == "always",
    )


def predict_ms(params: dict, features: BoardFeatures, *, on_chip_bytes: float | None = None,
               link_gbps: float | None = None, combine: str = COMBINE) -> float:
    """Latency (ms) of one network under the board model with coefficients ``params`` (linear scale).

    ``on_chip_bytes`` and ``link_gbps`` (datasheet) apply to accelerators that stream parameters that do
    not fit on chip; then ``params`` has ``stream_efficiency``. ``combine`` is :data:`COMBINE` (compute
    and memory time added) or ``"max"`` (the roofline's larger of the two, the alternative the
    cross-validation rejected).

    >>> f = BoardFeatures(flops=np.array([2e9]), winograd=np.array([0.0]), depthwise=np.array([False]),
    ...                   int8=np.array([False]), peak_per_ms=np.array([1e9]), bytes_=np.array([1e6]),
    ...                   weight_bytes=np.array([0.0]), bytes_per_ms=1e7, op_classes=("conv",))
    >>> p = dict(compute_efficiency=0.5, depthwise_ratio=1, memory_efficiency=1, layer_overhead_ms=0.1,
    ...          inference_overhead_ms=1.0)
    >>> round(predict_ms(p, f), 6)   # 2e9 / (1e9 * 0.5) = 4 ms compute + 1e6 / 1e7 = 0.1 ms memory + 0.1 + 1.0
    5.2
    >>> predict_ms(p, f, combine="max")   # the roofline: the larger of compute and memory
    5.1
    """
    total = (params.get("runtime_factor", 1.0) * float(layer_times(params, features, combine).sum())
             + params["inference_overhead_ms"])
    if on_chip_bytes is not None and link_gbps is not None:
        streamed = streamed_weight_bytes(features.weight_bytes, on_chip_bytes).sum()
        total += float(streamed) / (link_gbps * params["stream_efficiency"] * 1e6)
    return total


def layer_times(params: dict, features, combine: str = COMBINE) -> np.ndarray:
    """Each executed layer's time (ms) under the shared coefficients: compute and memory combined, plus the per-layer overhead.

    ``features`` is a :class:`BoardFeatures` or a :class:`StackedFeatures` (its arrays and
    ``winograd_always`` and ``bytes_per_ms`` per layer).
    """
    # Winograd layers execute winograd_scale of the direct method's work on whole output tiles, or (a runtime
    # that picks by cost) the direct method where that is less: estimator._runtime_rewrites.winograd_scale
    pad = features.winograd
    scale = params.get("winograd_scale", 1.0) * pad
    scale = np.where(pad > 0, np.where(features.winograd_always, scale, np.minimum(1.0, scale)), 1.0)
    efficiency = params["compute_efficiency"] * np.where(features.depthwise, params["depthwise_ratio"], 1.0)
    peak = features.peak_per_ms * np.where(features.int8, params.get("int8_ratio", 1.0), 1.0)
    compute = features.flops * scale / (peak * efficiency)
    memory = features.bytes_ / (features.bytes_per_ms * params["memory_efficiency"])
    layer = np.maximum(compute, memory) if combine == "max" else compute + memory
    return layer + params["layer_overhead_ms"]


@dataclass(frozen=True, slots=True, eq=False)
class StackedFeatures:
    """Many networks' :class:`BoardFeatures` in one set of layer arrays, for predicting them all at once.

    ``starts`` are the first layer of each network; ``streamed_bytes`` each network's weights beyond
    ``on_chip_bytes`` (0 where nothing streams).
    """

    flops: np.ndarray
    winograd: np.ndarray
    depthwise: np.ndarray
    int8: np.ndarray
    peak_per_ms: np.ndarray
    bytes_: np.ndarray
    bytes_per_ms: np.ndarray
    winograd_always: np.ndarray
    starts: np.ndarray
    streamed_bytes: np.ndarray

    @classmethod
    def of(cls, features: list, on_chip_bytes: list) -> "StackedFeatures":
        """Stack ``features`` (one per network; each ``on_chip_bytes`` None where weights never stream)."""
        def cat(name):
            return np.concatenate([getattr(f, name) for f in features])

        def per_layer(name):
            return np.concatenate([np.full(f.layers, getattr(f, name)) for f in features])

        sizes = np.array([f.layers for f in features])
        streamed = [float(streamed_weight_bytes(f.weight_bytes, b).sum()) if b is not None else 0.0
                    for f, b in zip(features, on_chip_bytes)]
        return cls(flops=cat("flops"), winograd=cat("winograd"), depthwise=cat("depthwise"), int8=cat("int8"),
                   peak_per_ms=cat("peak_per_ms"), bytes_=cat("bytes_"), bytes_per_ms=per_layer("bytes_per_ms"),
                   winograd_always=per_layer("winograd_always"), starts=np.concatenate([[0], np.cumsum(sizes)[:-1]]),
                   streamed_bytes=np.array(streamed))

    def network_sums(self, params: dict, combine: str = COMBINE) -> np.ndarray:
        """Each network's layer sum (ms) under the shared coefficients in ``params``."""
        return np.add.reduceat(layer_times(params, self, combine), self.starts)


def log_prior() -> dict[str, float]:
    """The starting prior's medians, in log space."""
    return {name: math.log(p.median) for name, p in PARAMETERS.items()}
