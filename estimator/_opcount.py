"""Per-operator work counting: one registry from ONNX op type to a pure function.

Each counter receives a :class:`NodeView` (shapes already inferred) and returns
:class:`Counts`: the operator class, exact multiply-accumulates, arithmetic
operations and the geometry step models need. Element tallies (activations read,
constants read, outputs written) are computed generically by the importer.

Conventions (the same as fvcore/torchprofile for MACs):

* A MAC is one multiply plus one add; ``flops = 2 * macs + other ops``.
* Element-wise operators cost the number of primitive operations in their ONNX
  function body per output element (``Sigmoid = 1 / (1 + exp(-x))`` is 4:
  neg, exp, add, div). The per-op figures are in ``_UNARY_OPS``.
* Bias additions count one op per output element.
* Shape-only operators (Reshape, Flatten, Identity, ...) are known and cost zero:
  an explicit entry, never a silent fallback.
"""

from __future__ import annotations

from .._messages import show

from dataclasses import dataclass
from typing import Callable

__all__ = ["NodeView", "Counts", "REGISTRY", "known_ops", "lookup", "recurrent_counts"]


def prod(values) -> int:
    """Exact integer product (1 for an empty sequence)."""
    result = 1
    for value in values:
        result *= int(value)
    return result


@dataclass(frozen=True, slots=True)
class NodeView:
    """What a counter may look at: one node with inferred shapes."""

    op_type: str
    attrs: dict
    in_shapes: tuple  # tuple[tuple[int, ...] | None, ...]; None marks an absent optional input
    out_shapes: tuple  # tuple[tuple[int, ...], ...]
    in_const: tuple  # tuple[bool, ...]


@dataclass(frozen=True, slots=True)
class Counts:
    """Work of one node.

    ``reads`` says, per input position, how many elements the operator really reads where that
    is fewer than the whole tensor (None, or None at a position: all of it). A Gather reads the
    rows it gathers, not its table: an embedding lookup of 128 tokens in a 30,522 x 128 table
    reads 128 x 128 values.
    """

    op_class: str
    macs: int = 0
    flops: int = 0
    geometry: tuple = ()
    int8: bool = False
    reads: tuple | None = None


def _present(view: NodeView) -> list[tuple[int, ...]]:
    return [s for s in view.in_shapes if s is not None]


def _out_elems(view: NodeView) -> int:
    return sum(prod(s) for s in view.out_shapes)


def _spatial_geometry(batch: int, c_in: int, c_out: int, spatial: tuple, k_area: int, groups: int) -> tuple:
    h_out = spatial[-2] if len(spatial) >= 2 else 1
    w_out = spatial[-1] if len(spatial) >= 1 else 1
    d_out = prod(spatial[:-2]) if len(spatial) > 2 else 1
    return (
        ("batch", batch), ("c_in", c_in), ("c_out", c_out), ("d_out", d_out),
        ("h_out", h_out), ("w_out", w_out), ("k_area", k_area), ("groups", groups),
    )


def _check_groups(op_type: str, group: int, c_in: int, cin_per_group: int, c_out: int) -> None:
    """Refuse group settings a runtime refuses: group < 1, or channels that the groups do not split evenly."""
    if group < 1 or c_in % group or c_out % group or cin_per_group * group != c_in:
        raise ValueError(f"group {group} does not fit {c_in} input and {c_out} output channels with {cin_per_group} "
                         "input channels per group in the weight: group must be >= 1, divide both channel counts, "
                         "and equal input channels / weight channels (onnxruntime refuses this model)")


def _conv_like(x_index: int, w_index: int, bias_index: int, int8: bool):
    def count(view: NodeView) -> Counts:
        x = view.in_shapes[x_index]
        w = view.in_shapes[w_index]
        y = view.out_shapes[0]
        if x is None or w is None or len(w) < 3 or len(y) < 3:
            raise ValueError(f"{view.op_type} needs input (N, C, ...) and weight (M, C/group, k...) shapes, got {x} and {w}")
        group = int(view.attrs.get("group", 1))
        n, c_in = x[0], x[1]
        c_out, cin_per_group = y[1], w[1]
        _check_groups(view.op_type, group, c_in, cin_per_group, c_out)
        kernel, spatial = tuple(w[2:]), tuple(y[2:])
        macs = n * c_out * prod(spatial) * cin_per_group * prod(kernel)
        has_bias = len(view.in_shapes) > bias_index and view.in_shapes[bias_index] is not None
        flops = 2 * macs + (n * c_out * prod(spatial) if has_bias else 0)
        depthwise = group > 1 and group == c_in and cin_per_group == 1
        geometry = _spatial_geometry(n, c_in, c_out, spatial, prod(kernel), group)
        return Counts("dwconv" if depthwise else "conv", macs, flops, geometry, int8)

    return count


def _conv_transpose(view: NodeView) -> Counts:
    x, w = view.in_shapes[0], view.in_shapes[1]
    y = view.out_shapes[0]
    if x is None or w is None or len(w) < 3:
        raise ValueError(f"ConvTranspose needs input and weight shapes, got {x} and {w}")
    group = int(view.attrs.get("group", 1))
    n, c_in = x[0], x[1]
    out_per_group, kernel = w[1], tuple(w[2:])
    if group < 1 or c_in % group or w[0] != c_in:
        raise ValueError(f"group {group} with {c_in} input channels and weight {w}: group must be >= 1 and divide "
                         "the input channels, and the weight's first dimension must equal them (onnxruntime refuses "
                         "this model)")
    # Every input element scatters into k outputs of each output channel of its group.
    macs = n * c_in * prod(x[2:]) * out_per_group * prod(kernel)
    has_bias = len(view.in_shapes) > 2 and view.in_shapes[2] is not None
    flops = 2 * macs + (prod(y) if has_bias else 0)
    geometry = _spatial_geometry(n, c_in, y[1], tuple(y[2:]), prod(kernel), group)
    return Counts("conv_transpose", macs, flops, geometry)


def _gemm_like(a_index: int, b_index: int, c_index: int, int8: bool):
    def count(view: NodeView) -> Counts:
        a, b = view.in_shapes[a_index], view.in_shapes[b_index]
        if a is None or b is None or len(a) != 2 or len(b) != 2:
            raise ValueError(f"{view.op_type} needs 2-D inputs, got {a} and {b}")
        m, k = (a[1], a[0]) if view.attrs.get("transA", 0) else (a[0], a[1])
        n = b[0] if view.attrs.get("transB", 0) else b[1]
        macs = m * n * k
        has_c = len(view.in_shapes) > c_index and view.in_shapes[c_index] is not None
        flops = 2 * macs + (m * n if has_c else 0)
        geometry = (("batch", 1), ("c_in", k), ("c_out", n), ("h_out", m), ("w_out", 1), ("k_area", 1), ("groups", 1))
        return Counts("gemm", macs, flops, geometry, int8)

    return count


def _matmul_like(a_index: int, b_index: int, int8: bool):
    def count(view: NodeView) -> Counts:
        a, b = view.in_shapes[a_index], view.in_shapes[b_index]
        y = view.out_shapes[0]
        if a is None or b is None or not a or not b:
            raise ValueError(f"{view.op_type} needs shaped inputs, got {a} and {b}")
        k = a[-1]
        n = b[-1] if len(b) >= 2 else 1
        m = a[-2] if len(a) >= 2 else 1
        macs = prod(y) * k
        batch = prod(y[:-2]) if len(y) > 2 else 1
        geometry = (("batch", batch), ("c_in", k), ("c_out", n), ("h_out", m), ("w_out", 1), ("k_area", 1), ("groups", 1))
        return Counts("gemm", macs, 2 * macs, geometry, int8)

    return count


def _einsum(view: NodeView) -> Counts:
    equation = str(view.attrs.get("equation", "")).replace(" ", "")
    lhs, _, rhs = equation.partition("->")
    terms = lhs.split(",")
    if "..." in equation or len(terms) != len(_present(view)):
        raise ValueError(f"Einsum equation {show(equation)} is not supported (ellipsis or operand count mismatch)")
    sizes: dict[str, int] = {}
    for term, shape in zip(terms, _present(view)):
        if len(term) != len(shape):
            raise ValueError(f"Einsum term {show(term)} does not match shape {shape}")
        for letter, dim in zip(term, shape):
            sizes[letter] = max(sizes.get(letter, 1), dim)
    total = prod(sizes.values())
    contracted = set(lhs.replace(",", "")) - set(rhs)
    macs = total if contracted or len(terms) > 1 else 0
    out = _out_elems(view)
    geometry = (("batch", 1), ("c_in", prod(sizes[c] for c in contracted) if contracted else 1),
                ("c_out", out), ("h_out", 1), ("w_out", 1), ("k_area", 1), ("groups", 1))
    return Counts("gemm", macs, 2 * macs if macs else total, geometry)


def _channels_geometry(view: NodeView, shape: tuple) -> tuple:
    c = shape[1] if len(shape) > 1 else 1
    return _spatial_geometry(shape[0] if shape else 1, c, c, tuple(shape[2:]), 1, 1)


def _per_element(op_class: str, ops: int):
    def count(view: NodeView) -> Counts:
        out = view.out_shapes[0]
        return Counts(op_class, 0, ops * _out_elems(view), _channels_geometry(view, out))

    return count


def _per_input_element(op_class: str, ops: int, int8: bool = False):
    def count(view: NodeView) -> Counts:
        shapes = _present(view)
        first = shapes[0] if shapes else ()
        return Counts(op_class, 0, ops * prod(first), _channels_geometry(view, first), int8)

    return count


def _elementwise(view: NodeView) -> Counts:
    n_inputs = len(_present(view))
    out = view.out_shapes[0]
    return Counts("elementwise", 0, max(n_inputs - 1, 1) * prod(out), _channels_geometry(view, out))


def _pool(view: NodeView) -> Counts:
    out = view.out_shapes[0]
    kernel = tuple(view.attrs.get("kernel_shape", ()))
    geometry = _spatial_geometry(out[0], out[1] if len(out) > 1 else 1, out[1] if len(out) > 1 else 1,
                                 tuple(out[2:]), prod(kernel), 1)
    return Counts("pool", 0, prod(out) * prod(kernel), geometry)


def _global_pool(view: NodeView) -> Counts:
    x = view.in_shapes[0]
    geometry = _spatial_geometry(x[0], x[1], x[1], (1, 1), prod(x[2:]), 1)
    return Counts("pool", 0, prod(x), geometry)


def _resize(view: NodeView) -> Counts:
    x, y = view.in_shapes[0], view.out_shapes[0]
    mode = str(view.attrs.get("mode", "nearest"))
    resized = sum(1 for a, b in zip(x, y) if a != b)
    # Interpolating over r dimensions reads 2^r (linear) or 4^r (cubic) neighbours:
    # one multiply per neighbour plus (neighbours - 1) adds.
    neighbours = {"nearest": 0, "linear": 2 ** resized, "cubic": 4 ** resized}.get(mode, 2 ** resized)
    ops = 2 * neighbours - 1 if neighbours else 0
    return Counts("resize", 0, ops * prod(y), _channels_geometry(view, y))


def _detection_nms(view: NodeView) -> Counts:
    """Box decoding, score sorting and non-maximum suppression of a detector's post-processing.

    ONNX ``NonMaxSuppression``: boxes (N, B, 4) already decoded, scores (N, C, B). TFLite's custom
    ``TFLite_Detection_PostProcess`` (``layout: tflite``): box encodings (1, B, 4), class scores
    (1, B, C), anchors (B, 4), boxes decoded first (10 operations per anchor: centre-size decoding).
    Per class: a threshold and a sort of the B scores (B * (ceil(log2 B) + 1) comparisons), then each of
    the K kept boxes is compared with the B candidates (an IoU is 8 operations). K is the detector's
    maximum detections where the model states it (TFLite's output shape) and B otherwise (the worst
    case: nothing suppressed; ONNX's output count is only known at run time).
    """
    boxes, scores = view.in_shapes[0], view.in_shapes[1]
    if boxes is None or scores is None or len(boxes) != 3 or len(scores) != 3:
        raise ValueError(f"non-maximum suppression needs boxes (N, B, 4) and scores of rank 3, got {boxes} and {scores}")
    tflite = view.attrs.get("layout") == "tflite"
    n, b = boxes[0], boxes[1]
    classes = scores[2] if tflite else scores[1]
    kept = view.out_shapes[0][1] if tflite and view.out_shapes and len(view.out_shapes[0]) > 1 else b
    sort = b * (max(b - 1, 1).bit_length() + 1)
    flops = n * (10 * b if tflite else 0) + n * classes * (sort + 8 * kept * b)
    geometry = (("batch", n), ("c_in", classes), ("c_out", classes), ("h_out", b), ("w_out", 1), ("k_area", 1),
                ("groups", 1))
    return Counts("reduce", 0, flops, geometry)


def _tflite_detection_nms(view: NodeView) -> Counts:
    """TFLite's custom ``TFLite_Detection_PostProcess``, counted in its own layout (see :func:`_detection_nms`)."""
    return _detection_nms(NodeView(view.op_type, {"layout": "tflite"}, view.in_shapes, view.out_shapes,
                                   view.in_const))


def _zero(op_class: str):
    def count(view: NodeView) -> Counts:
        return Counts(op_class, 0, 0, ())

    return count


def _same_elements(view: NodeView) -> Counts:
    """Reshape-like operators: free, and the output must hold exactly the input's elements."""
    x, y = view.in_shapes[0] if view.in_shapes else None, view.out_shapes[0] if view.out_shapes else None
    if x is not None and y is not None and prod(x) != prod(y):
        raise ValueError(f"{view.op_type} turns {prod(x)} elements {x} into {prod(y)} {y}; the element count must "
                         "not change (onnxruntime refuses this model)")
    return Counts("shape", 0, 0, ())


def _data_movement(view: NodeView) -> Counts:
    out = view.out_shapes[0] if view.out_shapes else ()
    return Counts("data_movement", 0, 0, _channels_geometry(view, out))


def _selecting(view: NodeView) -> Counts:
    """Gather, GatherElements, GatherND, Slice: the data input is read where selected, once per output element.

    Every other input (indices, starts, ends, axes, steps) is read whole.
    """
    out = view.out_shapes[0] if view.out_shapes else ()
    reads = (prod(out),) + (None,) * (len(view.in_shapes) - 1)
    return Counts("data_movement", 0, 0, _channels_geometry(view, out), reads=reads)


def recurrent_counts(*, steps: int, directions: int, gates: int, cells: int, inputs: int, recurrent: int,
                     projection: int = 0, pointwise_per_cell: int, bias_per_cell: int = 0) -> Counts:
    """Work of a recurrent layer over ``steps`` (time steps x batch) in each of ``directions``.

    Per step and direction: ``gates`` matrix-vector products of ``cells`` rows with the input
    (``inputs`` wide) and with the recurrent state (``recurrent`` wide), an optional projection of
    the cells to ``projection`` outputs, and ``pointwise_per_cell`` element-wise operations (gate
    activations, the cell update) plus ``bias_per_cell`` bias additions per cell.

    >>> c = recurrent_counts(steps=100, directions=1, gates=4, cells=128, inputs=40, recurrent=128,
    ...                      pointwise_per_cell=24)
    >>> c.macs        # 100 x 4 x 128 x (40 + 128)
    8601600
    """
    per_step = gates * cells * (inputs + recurrent) + projection * cells
    macs = steps * directions * per_step
    pointwise = steps * directions * cells * (pointwise_per_cell + bias_per_cell)
    geometry = (("batch", steps * directions), ("c_in", inputs + recurrent), ("c_out", gates * cells),
                ("h_out", 1), ("w_out", 1), ("k_area", 1), ("groups", 1))
    return Counts("gemm", macs, 2 * macs + pointwise, geometry)


# Element-wise operations per cell and step, from the ONNX operator definitions (activations counted
# as in _UNARY_OPS: Sigmoid 4, Tanh 4):
#   LSTM: 3 sigmoid gates (12) + 2 tanh (the cell candidate and the output, 8) + c = f*c + i*g (3)
#         + h = o*tanh(c) (1) = 24; biases Wb and Rb: 8 additions (4 gates x 2); peepholes: 3 mul + 3 add.
#   GRU:  2 sigmoid gates (8) + 1 tanh (4) + r * (R h) (1) + h = (1 - z) * n + z * h (4) = 17;
#         biases: 6 additions.
#   RNN:  1 tanh (4); biases: 2 additions.
_LSTM_POINTWISE, _GRU_POINTWISE, _RNN_POINTWISE = 24, 17, 4


def _onnx_recurrent(gates: int, pointwise: int, bias_per_gate: int):
    """ONNX LSTM, GRU and RNN: ``W [dirs, gates x H, I]``, ``R [dirs, gates x H, H]``, ``B [dirs, 2 x gates x H]``."""
    def count(view: NodeView) -> Counts:
        x, w, r = view.in_shapes[0], view.in_shapes[1], view.in_shapes[2]
        if x is None or w is None or r is None or len(x) != 3 or len(w) != 3 or len(r) != 3:
            raise ValueError(f"{view.op_type} needs X (3-D), W and R (each [directions, gates x hidden, ...]), "
                             f"got {x}, {w}, {r}")
        directions, hidden = w[0], w[1] // gates
        bias = len(view.in_shapes) > 3 and view.in_shapes[3] is not None
        peephole = view.op_type == "LSTM" and len(view.in_shapes) > 7 and view.in_shapes[7] is not None
        return recurrent_counts(steps=x[0] * x[1], directions=directions, gates=gates, cells=hidden, inputs=w[2],
                                recurrent=r[2], pointwise_per_cell=pointwise + (6 if peephole else 0),
                                bias_per_cell=bias_per_gate * gates if bias else 0)

    return count


def _tflite_lstm(view: NodeView) -> Counts:
    """TFLite LSTM / UNIDIRECTIONAL_SEQUENCE_LSTM (inputs as the TFLite schema orders them).

    0 input ``[..., I]``; 1-4 input-to-gate weights ``[cells, I]`` (the input gate's absent in the
    coupled-gate CIFG variant); 5-8 recurrent-to-gate weights ``[cells, outputs]``; 9-11 peepholes;
    12-15 gate biases; 16 projection weights ``[outputs, cells]``. Every dimension but the last
    of the input is a step (time x batch, in either order).
    """
    shapes = list(view.in_shapes) + [None] * (17 - len(view.in_shapes))
    x = shapes[0]
    gate_weights = [s for s in shapes[1:5] if s is not None]
    recurrent = next((s for s in shapes[5:9] if s is not None), None)
    if x is None or not gate_weights or recurrent is None:
        raise ValueError(f"an LSTM needs its input, input-to-gate and recurrent weights, got {shapes[:9]}")
    cells, outputs = gate_weights[0][0], recurrent[1]
    projection = outputs if shapes[16] is not None else 0
    peephole = 6 if any(s is not None for s in shapes[9:12]) else 0
    biases = sum(1 for s in shapes[12:16] if s is not None)
    return recurrent_counts(steps=prod(x[:-1]), directions=1, gates=len(gate_weights), cells=cells, inputs=x[-1],
                            recurrent=outputs, projection=projection, pointwise_per_cell=_LSTM_POINTWISE + peephole,
                            bias_per_cell=biases)


def _tflite_svdf(view: NodeView) -> Counts:
    """TFLite SVDF: input ``[batch, I]``, feature weights ``[filters, I]``, time weights ``[filters, memory]``.

    Per batch row and invocation: the feature projection (filters x I MACs), the time filter over
    the state's memory (filters x memory MACs), then each unit sums its ``rank`` filters
    (filters additions) and adds its bias; the state shift is data movement, not counted.
    """
    x, features, time = view.in_shapes[0], view.in_shapes[1], view.in_shapes[2]
    if x is None or features is None or time is None or len(features) != 2 or len(time) != 2:
        raise ValueError(f"SVDF needs input, feature weights [filters, I] and time weights [filters, memory], "
                         f"got {x}, {features}, {time}")
    batch, filters = prod(x[:-1]), features[0]
    macs = batch * filters * (features[1] + time[1])
    units = view.out_shapes[0][-1] if view.out_shapes else filters
    geometry = (("batch", batch), ("c_in", features[1]), ("c_out", filters), ("h_out", 1), ("w_out", 1),
                ("k_area", time[1]), ("groups", 1))
    return Counts("gemm", macs, 2 * macs + batch * (filters + units), geometry)


#: Primitive operations per output element of unary element-wise operators,
#: counted from the operator's ONNX function body (or its defining formula).
_UNARY_OPS: dict[str, tuple[str, int]] = {
    "Relu": ("activation", 1),            # max(x, 0)
    "LeakyRelu": ("activation", 2),       # where(x < 0, alpha * x, x): mul, select
    "PRelu": ("activation", 2),           # mul, select
    "Elu": ("activation", 4),             # exp, sub, mul, select
    "Selu": ("activation", 5),            # exp, sub, mul, select, mul
    "Celu": ("activation", 5),
    "ThresholdedRelu": ("activation", 2),
    "Sigmoid": ("activation", 4),         # neg, exp, add, div
    "HardSigmoid": ("activation", 4),     # mul, add, min, max
    "HardSwish": ("activation", 5),       # HardSigmoid + mul
    "Tanh": ("activation", 4),
    "Softplus": ("activation", 3),        # exp, add, log
    "Softsign": ("activation", 3),        # abs, add, div
    "Mish": ("activation", 7),            # softplus (3) + tanh (4)
    "Gelu": ("activation", 5),            # div, erf, add, mul, mul
    "Erf": ("activation", 1),
    "Clip": ("activation", 2),            # min, max
    "Exp": ("activation", 1), "Log": ("activation", 1), "Sqrt": ("activation", 1),
    "Reciprocal": ("activation", 1), "Abs": ("activation", 1), "Neg": ("activation", 1),
    "Floor": ("activation", 1), "Ceil": ("activation", 1), "Round": ("activation", 1),
    "Sign": ("activation", 1), "Not": ("activation", 1), "IsNaN": ("activation", 1), "IsInf": ("activation", 1),
    "Sin": ("activation", 1), "Cos": ("activation", 1), "Tan": ("activation", 1),
    "Asin": ("activation", 1), "Acos": ("activation", 1), "Atan": ("activation", 1),
    "Sinh": ("activation", 1), "Cosh": ("activation", 1), "Asinh": ("activation", 1),
    "Acosh": ("activation", 1), "Atanh": ("activation", 1),
    "Cast": ("quant", 1), "CastLike": ("quant", 1),
    "QuantizeLinear": ("quant", 4),       # div, round, add zero point, saturate
    "DequantizeLinear": ("quant", 2),     # sub zero point, mul
    "DynamicQuantizeLinear": ("quant", 6),
    "Shrink": ("activation", 3),
}

_BINARY_OPS = (
    "Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Sum", "Mean", "Mod", "BitShift",
    "Equal", "Greater", "GreaterOrEqual", "Less", "LessOrEqual", "And", "Or", "Xor", "Where",
    "BitwiseAnd", "BitwiseOr", "BitwiseXor",
)

_NORMS: dict[str, int] = {
    "BatchNormalization": 2,          # inference: one multiply-add per element with folded scale
    "LayerNormalization": 7,          # mean, centre, square, variance, normalise, scale, shift
    "InstanceNormalization": 7,
    "GroupNormalization": 7,
    "MeanVarianceNormalization": 5,
    "LpNormalization": 3,
    "RMSNormalization": 5,
}

_REDUCES = (
    "ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
    "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare", "ArgMax", "ArgMin",
)

_DATA_MOVEMENT = (
    "Concat", "Split", "ScatterND", "ScatterElements",
    "Pad", "Transpose", "Tile", "Expand", "DepthToSpace", "SpaceToDepth", "TopK", "Trilu",
    "OneHot", "CumSum", "ReverseSequence", "Compress",
)
# Data movement that reads only what it selects (see _selecting); every other one reads its inputs whole.
_SELECTING = ("Gather", "GatherElements", "GatherND", "Slice")

_SHAPE_ONLY = (
    "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Dropout", "Shape", "Size",
    "Constant", "ConstantOfShape", "Range", "EyeLike", "NonZero",
)

Counter = Callable[[NodeView], Counts]

#: (domain, op_type) -> counter. The default domain is spelled "".
REGISTRY: dict[tuple[str, str], Counter] = {
    ("", "Conv"): _conv_like(0, 1, 2, int8=False),
    ("", "ConvInteger"): _conv_like(0, 1, 99, int8=True),
    ("", "QLinearConv"): _conv_like(0, 3, 8, int8=True),
    ("", "ConvTranspose"): _conv_transpose,
    ("", "Gemm"): _gemm_like(0, 1, 2, int8=False),
    ("", "MatMul"): _matmul_like(0, 1, int8=False),
    ("", "MatMulInteger"): _matmul_like(0, 1, int8=True),
    ("", "QLinearMatMul"): _matmul_like(0, 3, int8=True),
    ("", "Einsum"): _einsum,
    ("", "MaxPool"): _pool,
    ("", "AveragePool"): _pool,
    ("", "LpPool"): _pool,
    ("", "GlobalAveragePool"): _global_pool,
    ("", "GlobalMaxPool"): _global_pool,
    ("", "GlobalLpPool"): _global_pool,
    ("", "Softmax"): _per_element("softmax", 5),       # max, sub, exp, sum, div
    ("", "LogSoftmax"): _per_element("softmax", 6),    # + log
    ("", "Hardmax"): _per_element("softmax", 2),
    ("", "LRN"): _per_element("norm", 8),              # square, windowed sum (size 5 typical), pow, div
    ("", "Resize"): _resize,
    ("", "Upsample"): _resize,
    ("", "NonMaxSuppression"): _detection_nms,
    ("", "LSTM"): _onnx_recurrent(4, _LSTM_POINTWISE, 2),
    ("", "GRU"): _onnx_recurrent(3, _GRU_POINTWISE, 2),
    ("", "RNN"): _onnx_recurrent(1, _RNN_POINTWISE, 2),
    # TFLite operators whose inputs do not map onto an ONNX operator's: counted in TFLite's own layout
    ("tflite", "LSTM"): _tflite_lstm,
    ("tflite", "UNIDIRECTIONAL_SEQUENCE_LSTM"): _tflite_lstm,
    ("tflite", "SVDF"): _tflite_svdf,
    ("tflite", "custom:TFLite_Detection_PostProcess"): _tflite_detection_nms,
}
for _op, (_cls, _ops) in _UNARY_OPS.items():
    REGISTRY[("", _op)] = _per_element(_cls, _ops)
for _op in _BINARY_OPS:
    REGISTRY[("", _op)] = _elementwise
for _op, _ops in _NORMS.items():
    REGISTRY[("", _op)] = _per_element("norm", _ops)
for _op in _REDUCES:
    REGISTRY[("", _op)] = _per_input_element("reduce", 1)
for _op in _DATA_MOVEMENT:
    REGISTRY[("", _op)] = _data_movement
for _op in _SELECTING:
    REGISTRY[("", _op)] = _selecting
for _op in _SHAPE_ONLY:
    REGISTRY[("", _op)] = _zero("shape")
for _op in ("Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity"):
    REGISTRY[("", _op)] = _same_elements

# onnxruntime's contrib domain: operators its quantization and transformer
# optimisation tools emit into models users then bring to edgeperf.
_MS = "com.microsoft"
REGISTRY.update({
    (_MS, "QLinearAdd"): _elementwise,
    (_MS, "QLinearMul"): _elementwise,
    (_MS, "QLinearSigmoid"): _per_element("activation", 4),
    (_MS, "QLinearLeakyRelu"): _per_element("activation", 2),
    (_MS, "QLinearGlobalAveragePool"): _global_pool,
    (_MS, "QLinearAveragePool"): _pool,
    (_MS, "QLinearConcat"): _data_movement,
    (_MS, "Gelu"): _per_element("activation", 5),
    (_MS, "FastGelu"): _per_element("activation", 8),
    (_MS, "BiasGelu"): _per_element("activation", 6),
    (_MS, "QuickGelu"): _per_element("activation", 5),
    (_MS, "FusedMatMul"): _matmul_like(0, 1, int8=False),
    (_MS, "SkipLayerNormalization"): _per_element("norm", 8),
    # QGemm inputs: A, a_scale, a_zero, B, b_scale, b_zero, C, y_scale, y_zero
    (_MS, "QGemm"): _gemm_like(0, 3, 6, int8=True),
    (_MS, "QLinearSoftmax"): _per_element("softmax", 5),
    (_MS, "DynamicQuantizeMatMul"): _matmul_like(0, 1, int8=True),
    (_MS, "MatMulIntegerToFloat"): _matmul_like(0, 1, int8=True),
})
_INT8_CONTRIB = {"QLinearAdd", "QLinearMul", "QLinearSigmoid", "QLinearLeakyRelu", "QLinearGlobalAveragePool",
                 "QLinearAveragePool", "QLinearConcat", "QGemm", "QLinearSoftmax", "DynamicQuantizeMatMul",
                 "MatMulIntegerToFloat"}


def lookup(domain: str, op_type: str) -> Counter | None:
    """The counter for an operator, or None when edgeperf does not know it."""
    domain = "" if domain in ("", "ai.onnx") else domain
    return REGISTRY.get((domain, op_type))


def is_int8_op(domain: str, op_type: str) -> bool:
    """True for operators that compute in 8-bit integers by definition."""
    return op_type in _INT8_CONTRIB or op_type in ("QLinearConv", "QLinearMatMul", "ConvInteger", "MatMulInteger")


def known_ops() -> tuple[str, ...]:
    """Every known operator, ``op_type`` for the default domain, ``domain:op_type`` otherwise."""
    return tuple(sorted(op if not dom else f"{dom}:{op}" for dom, op in REGISTRY))
