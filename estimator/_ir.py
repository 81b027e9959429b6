"""The layer IR: frozen values every importer produces and every later stage reads.

A :class:`Graph` is an ordered (topological) tuple of :class:`Layer` values,
one per ONNX node (or TFLite operator) that the runtime executes. Nodes whose
inputs are all constants are folded away at import, as every runtime does.

Counts are exact Python integers: ``macs`` (multiply-accumulates), ``flops``
(2 per MAC plus every other arithmetic operation, see ``_opcount``), and element
counts of activations read, weights read and activations written. Byte counts
depend on the deployment precision and are computed on demand.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from .._messages import show
from .._units import BITS_PER_ELEMENT

__all__ = ["Layer", "Graph", "OP_CLASSES", "FALLBACK_CLASS", "class_entry"]

#: The closed set of operator classes; profiles attach cost and power models to these.
OP_CLASSES: tuple[str, ...] = (
    "conv",            # dense and grouped convolution, 1-D/2-D/3-D
    "dwconv",          # depthwise convolution (groups == input channels)
    "conv_generic",    # dense convolution a runtime runs off its blocked layout (onnxruntime NCHWc, _nchwc)
    "gconv_generic",   # grouped convolution off the blocked layout (im2col and a GEMM per group)
    "dwconv_generic",  # depthwise convolution off the blocked layout
    "conv_transpose",  # transposed convolution
    "gemm",            # Gemm, MatMul (batched), fully connected
    "pool",            # max/average/global pooling
    "norm",            # batch/layer/instance/group normalisation, LRN
    "activation",      # unary element-wise non-linearities
    "elementwise",     # binary/ternary element-wise arithmetic with broadcasting
    "softmax",         # Softmax, LogSoftmax, Hardmax
    "reduce",          # Reduce*, ArgMax/ArgMin
    "reorder",         # layout conversion a runtime inserts (onnxruntime's NCHWc ReorderInput/ReorderOutput)
    "data_movement",   # Concat, Split, Slice, Gather, Pad, Transpose, Tile, ...
    "resize",          # Resize, Upsample
    "quant",           # QuantizeLinear, DequantizeLinear, Cast
    "shape",           # shape-only ops a runtime elides: Reshape, Flatten, Identity, ...
    "unknown",         # ops without a cost model, estimated by roofline on request
)

#: The class whose model a profile without a model of its own for a class uses (before its ``default``):
#: a convolution off the blocked layout is still a convolution, a layout reorder still moves data.
FALLBACK_CLASS: dict[str, str] = {"conv_generic": "conv", "gconv_generic": "conv", "dwconv_generic": "dwconv",
                                  "reorder": "data_movement"}


def class_entry(table, op_class: str):
    """``table``'s entry for ``op_class`` (a profile's layer models or active powers): its own, else its fallback
    class's (:data:`FALLBACK_CLASS`), else ``default``.

    >>> class_entry({"default": 1, "data_movement": 2}, "reorder"), class_entry({"default": 1}, "reorder")
    (2, 1)
    """
    if op_class in table:
        return table[op_class]
    return table.get(FALLBACK_CLASS.get(op_class, "default"), table["default"])


def _check_shape(field: str, shape: tuple[int, ...]) -> None:
    for dim in shape:
        if not isinstance(dim, int) or dim < 0:
            raise ValueError(f"{field} must hold non-negative integer dimensions, got {show(shape)}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Layer:
    """One executed operator with its shapes and exact work counts.

    Attributes
    ----------
    name : str
        Node name (unique within the graph).
    op_type : str
        Operator type, ONNX spelling (``Conv``, ``MatMul``, ...).
    op_class : str
        One of :data:`OP_CLASSES`.
    inputs, outputs : tuple of str
        Tensor names; only non-constant (activation) inputs are listed in ``inputs``.
    input_shapes, output_shapes : tuple of tuple of int
        Shapes of ``inputs`` and ``outputs``.
    attrs : tuple of (str, value)
        Operator attributes as sorted (name, value) pairs; values are int, float,
        str or tuples of those.
    macs : int
        Multiply-accumulate operations.
    flops : int
        Arithmetic operations: ``2 * macs`` plus all non-MAC operations.
    act_in_elems, weight_elems, act_out_elems : int
        Elements of activations read, constant tensors read and outputs written.
    params : int
        Learnable parameters held by this layer (weights, biases, norm scales).
    geometry : tuple of (str, int)
        Hardware-relevant dimensions for step models: ``batch``, ``c_in``,
        ``c_out``, ``h_out``, ``w_out``, ``k_area``, ``groups`` where they apply.
    precision : str or None
        Precision fixed by the model itself (``int8`` for quantized operators),
        else None (the deployment precision applies).
    flags : tuple of str
        Notes attached at import, e.g. ``unknown-op`` for roofline fallbacks.
    """

    name: str
    op_type: str
    op_class: str
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    input_shapes: tuple[tuple[int, ...], ...] = ()
    output_shapes: tuple[tuple[int, ...], ...] = ()
    attrs: tuple[tuple[str, object], ...] = ()
    macs: int = 0
    flops: int = 0
    act_in_elems: int = 0
    weight_elems: int = 0
    act_out_elems: int = 0
    params: int = 0
    geometry: tuple[tuple[str, int], ...] = ()
    precision: str | None = None
    flags: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.op_class not in OP_CLASSES:
            raise ValueError(f"op_class must be one of {OP_CLASSES}, got {show(self.op_class)}")
        for field in ("macs", "flops", "act_in_elems", "weight_elems", "act_out_elems", "params"):
            value = getattr(self, field)
            if not isinstance(value, int) or value < 0:
                raise ValueError(f"Layer {show(self.name)}: {field} must be a non-negative int, got {show(value)}")
        for shape in self.input_shapes:
            _check_shape("input_shapes", shape)
        for shape in self.output_shapes:
            _check_shape("output_shapes", shape)
        if self.precision is not None and self.precision not in BITS_PER_ELEMENT:
            raise ValueError(f"Layer {show(self.name)}: precision {show(self.precision)} not in {tuple(BITS_PER_ELEMENT)}")

    def attr(self, name: str, default=None):
        """Value of attribute ``name``, or ``default``."""
        for key, value in self.attrs:
            if key == name:
                return value
        return default

    def dim(self, name: str, default: int = 1) -> int:
        """Value of geometry dimension ``name`` (``c_in``, ``h_out``, ...), or ``default``."""
        for key, value in self.geometry:
            if key == name:
                return value
        return default

    def bytes_read(self, precision: str) -> int:
        """Bytes read (activations + constants) at ``precision``, ceil to whole bytes."""
        bits = BITS_PER_ELEMENT[self.precision or precision]
        return -(-(self.act_in_elems + self.weight_elems) * bits // 8)

    def bytes_written(self, precision: str) -> int:
        """Bytes written at ``precision``, ceil to whole bytes."""
        bits = BITS_PER_ELEMENT[self.precision or precision]
        return -(-self.act_out_elems * bits // 8)


@dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class Graph:
    """A model as a topologically ordered tuple of layers.

    Attributes
    ----------
    name : str
        Model name (graph name or file stem).
    layers : tuple of Layer
        Executed layers in topological order.
    inputs, outputs : tuple of (str, tuple of int)
        Graph inputs and outputs with their (resolved) shapes.
    params : int
        Unique learnable parameters in the model (shared weights counted once).
    native_precision : str
        ``int8`` for quantized models (QDQ, QLinear*, int8 TFLite), else ``fp32``.
    source : str
        Where the graph came from (file path or zoo reference).
    opset : int
        Default-domain opset of an ONNX model (0 for TFLite).
    folded_nodes : int
        Nodes removed at import because all their inputs were constants.
    """

    name: str
    layers: tuple[Layer, ...]
    inputs: tuple[tuple[str, tuple[int, ...]], ...] = ()
    outputs: tuple[tuple[str, tuple[int, ...]], ...] = ()
    params: int = 0
    native_precision: str = "fp32"
    source: str = ""
    opset: int = 0
    folded_nodes: int = 0

    def __post_init__(self) -> None:
        names = [layer.name for layer in self.layers]
        if len(set(names)) != len(names):
            dupes = sorted({n for n in names if names.count(n) > 1})
            raise ValueError(f"Graph {show(self.name)}: duplicate layer names {dupes[:5]}")
        if self.native_precision not in BITS_PER_ELEMENT:
            raise ValueError(f"native_precision must be one of {tuple(BITS_PER_ELEMENT)}, got {show(self.native_precision)}")

    def __repr__(self) -> str:
        return (f"Graph(name={show(self.name)}, layers=<{len(self.layers)}>, inputs={show(list(self.inputs))}, "
                f"params={self.params}, native_precision={show(self.native_precision)})")

    @property
    def macs(self) -> int:
        """Total multiply-accumulates."""
        return sum(layer.macs for layer in self.layers)

    @property
    def flops(self) -> int:
        """Total arithmetic operations."""
        return sum(layer.flops for layer in self.layers)

    @property
    def input_hw(self) -> int | None:
        """The largest height or width of the image inputs (4-D, NCHW), in pixels; None without one.

        >>> Graph(name="g", layers=(), inputs=(("x", (1, 3, 224, 160)),)).input_hw
        224
        """
        spatial = [d for _, shape in self.inputs if len(shape) == 4 for d in shape[2:]]
        return max(spatial) if spatial else None

    def replace(self, **changes) -> "Graph":
        """A copy with ``changes`` applied (dataclasses.replace)."""
        return dataclasses.replace(self, **changes)
