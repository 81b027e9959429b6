"""TFLite flatbuffer -> :class:`Graph`, through the ``tflite`` package.

The file is read into memory and parsed in place; weight buffers are never parsed
(only their presence marks a tensor as constant). The first subgraph is the
model. TFLite's 4-D activations are NHWC; each operator is presented to the
shared counting registry (``_opcount``) in ONNX's NCHW convention, so one set
of formulas serves both formats, while the layer keeps the model's own shapes.
Tensors of type int8/uint8 make the operator an int8 layer.

Needs the optional ``tflite`` package (``pip install edgeperf[tflite]``).
"""

from __future__ import annotations

import struct
from pathlib import Path

from .._errors import ModelError, UnknownOpError
from .._messages import show
from .._userfile import model_bytes, user_path
from . import _opcount
from ._ir import Graph, Layer
from ._onnx_checks import MAX_NODES, check_elements

__all__ = ["load_tflite", "TFLITE_OPS"]

_INT8_TYPES = {3, 9}        # UINT8, INT8
#: Largest TFLite file read (it is read into memory whole: flatbuffers are read in place).
MAX_TFLITE_BYTES = 2**31

#: TFLite builtin operator -> (ONNX op type used for counting, filter layout)
TFLITE_OPS: dict[str, tuple[str, str]] = {
    "CONV_2D": ("Conv", "OHWI"), "DEPTHWISE_CONV_2D": ("Conv", "1HWC"), "CONV_3D": ("Conv", "DHWIO"),
    "TRANSPOSE_CONV": ("ConvTranspose", "OHWI"), "FULLY_CONNECTED": ("MatMul", "OI"),
    "BATCH_MATMUL": ("MatMul", ""), "AVERAGE_POOL_2D": ("AveragePool", ""), "MAX_POOL_2D": ("MaxPool", ""),
    "L2_POOL_2D": ("LpPool", ""), "ADD": ("Add", ""), "SUB": ("Sub", ""), "MUL": ("Mul", ""), "DIV": ("Div", ""),
    "MAXIMUM": ("Max", ""), "MINIMUM": ("Min", ""), "POW": ("Pow", ""), "SQUARED_DIFFERENCE": ("Sub", ""),
    "ADD_N": ("Sum", ""), "RELU": ("Relu", ""), "RELU6": ("Clip", ""), "RELU_N1_TO_1": ("Clip", ""),
    "RELU_0_TO_1": ("Clip", ""), "LOGISTIC": ("Sigmoid", ""), "TANH": ("Tanh", ""), "HARD_SWISH": ("HardSwish", ""),
    "LEAKY_RELU": ("LeakyRelu", ""), "PRELU": ("PRelu", ""), "ELU": ("Elu", ""), "GELU": ("Gelu", ""),
    "EXP": ("Exp", ""), "LOG": ("Log", ""), "SQRT": ("Sqrt", ""), "RSQRT": ("Sqrt", ""), "ABS": ("Abs", ""),
    "NEG": ("Neg", ""), "SOFTMAX": ("Softmax", ""), "LOG_SOFTMAX": ("LogSoftmax", ""),
    "MEAN": ("ReduceMean", ""), "SUM": ("ReduceSum", ""), "REDUCE_MAX": ("ReduceMax", ""),
    "REDUCE_MIN": ("ReduceMin", ""), "REDUCE_PROD": ("ReduceProd", ""), "ARG_MAX": ("ArgMax", ""),
    "ARG_MIN": ("ArgMin", ""), "CONCATENATION": ("Concat", ""), "SPLIT": ("Split", ""), "SPLIT_V": ("Split", ""),
    "SLICE": ("Slice", ""), "STRIDED_SLICE": ("Slice", ""), "GATHER": ("Gather", ""), "GATHER_ND": ("GatherND", ""),
    "PAD": ("Pad", ""), "PADV2": ("Pad", ""), "MIRROR_PAD": ("Pad", ""), "TRANSPOSE": ("Transpose", ""),
    "TILE": ("Tile", ""), "DEPTH_TO_SPACE": ("DepthToSpace", ""), "SPACE_TO_DEPTH": ("SpaceToDepth", ""),
    "PACK": ("Concat", ""), "UNPACK": ("Split", ""), "BROADCAST_TO": ("Expand", ""),
    "RESHAPE": ("Reshape", ""), "SQUEEZE": ("Squeeze", ""), "EXPAND_DIMS": ("Unsqueeze", ""), "SHAPE": ("Shape", ""),
    "RESIZE_BILINEAR": ("Resize", "linear"), "RESIZE_NEAREST_NEIGHBOR": ("Resize", "nearest"),
    "QUANTIZE": ("QuantizeLinear", ""), "DEQUANTIZE": ("DequantizeLinear", ""), "CAST": ("Cast", ""),
    "L2_NORMALIZATION": ("LpNormalization", ""), "LOCAL_RESPONSE_NORMALIZATION": ("LRN", ""),
    "custom:TFLite_Detection_PostProcess": ("NonMaxSuppression", "tflite"),
    # recurrent operators: their inputs follow TFLite's own schema, counted by ("tflite", NAME) counters
    "LSTM": ("LSTM", "tflite"), "UNIDIRECTIONAL_SEQUENCE_LSTM": ("LSTM", "tflite"), "SVDF": ("SVDF", "tflite"),
}


def _builtin_names(tflite) -> dict[int, str]:
    return {value: name for name, value in vars(tflite.BuiltinOperator).items() if name.isupper()}


def _nchw(shape: tuple[int, ...]) -> tuple[int, ...]:
    return (shape[0], shape[3], shape[1], shape[2]) if len(shape) == 4 else shape


def _view(op: str, layout: str, in_shapes, out_shapes, in_const, options) -> _opcount.NodeView:
    """Present a TFLite operator to the ONNX counters (NCHW activations, ONNX weight layouts)."""
    ins = [None if s is None else s for s in in_shapes]
    attrs: dict = {}
    if op == "Conv" and layout == "OHWI":           # filter [O, KH, KW, I] -> [O, I, KH, KW]
        x, w = ins[0], ins[1]
        ins = [_nchw(x), (w[0], w[3], w[1], w[2])] + ins[2:]
        attrs["group"] = max(1, x[3] // max(w[3], 1))
    elif op == "Conv" and layout == "1HWC":         # depthwise [1, KH, KW, C*M] -> [C*M, 1, KH, KW]
        x, w = ins[0], ins[1]
        ins = [_nchw(x), (w[3], 1, w[1], w[2])] + ins[2:]
        attrs["group"] = x[3]
    elif op == "Conv" and layout == "DHWIO":        # 3-D [KD, KH, KW, I, O] with NDHWC activations
        x, w = ins[0], ins[1]
        ins = [(x[0], x[4], x[1], x[2], x[3]), (w[4], w[3], w[0], w[1], w[2])] + ins[2:]
        out_shapes = [(s[0], s[4], s[1], s[2], s[3]) for s in out_shapes]
        attrs["group"] = max(1, x[4] // max(w[3], 1))
        return _opcount.NodeView(op, attrs, tuple(ins), tuple(out_shapes), tuple(in_const))
    elif op == "ConvTranspose":                     # inputs: output_shape, filter [O, KH, KW, I], input
        w, x = ins[1], ins[2]
        ins = [_nchw(x), (w[3], w[0], w[1], w[2])] + ([ins[3]] if len(ins) > 3 else [])
        in_const = [in_const[2], in_const[1]] + list(in_const[3:])
    elif op == "MatMul" and layout == "OI":         # FULLY_CONNECTED weights [O, I] act like MatMul by W^T
        x, w = ins[0], ins[1]
        k = w[1]
        rows = _opcount.prod(x) // k if k else 0
        ins = [(rows, k), (k, w[0])] + ins[2:]
        out_shapes = [(rows, w[0])]
    elif op in ("AveragePool", "MaxPool", "LpPool"):
        ins = [_nchw(ins[0])]
        attrs["kernel_shape"] = (options.get("filter_h", 1), options.get("filter_w", 1))
    else:
        ins = [None if s is None else _nchw(s) for s in ins]
    if op == "Resize":
        attrs["mode"] = layout
    return _opcount.NodeView(op, attrs, tuple(ins), tuple(_nchw(s) for s in out_shapes), tuple(in_const))


def _pool_options(tflite, operator) -> dict:
    table = operator.BuiltinOptions()
    if table is None:
        return {}
    options = tflite.Pool2DOptions()
    options.Init(table.Bytes, table.Pos)
    return {"filter_h": int(options.FilterHeight()), "filter_w": int(options.FilterWidth())}


def load_tflite(path, *, on_unknown: str = "error") -> Graph:
    """Read a ``.tflite`` file into a :class:`Graph` without reading its weights.

    Raises
    ------
    ModelError
        If the file is not a valid TFLite flatbuffer or the ``tflite`` package is missing.
    UnknownOpError
        For operators without a cost model when ``on_unknown == "error"``.
    """
    try:
        import tflite
    except ImportError:
        raise ModelError(f"{path}: reading TFLite models needs the tflite package: pip install 'edgeperf[tflite]'") from None
    path = user_path(path, what="model", error=ModelError)
    with model_bytes(path, what="a TFLite model", limit=MAX_TFLITE_BYTES, error=ModelError) as data:
        if len(data) < 8:
            raise ModelError(f"{path}: too short to be a TFLite model")
        try:
            return _read(tflite, data, path, on_unknown)
        except (ModelError, UnknownOpError):
            raise
        except (struct.error, IndexError, ValueError, TypeError, AttributeError, OverflowError, UnicodeDecodeError,
                RecursionError, MemoryError) as exc:
            raise ModelError(f"{path}: not a valid TFLite model ({type(exc).__name__}: {exc}); "
                             "expected a TFLite flatbuffer (.tflite)") from None


def _check_buffers(model, size: int, where: str) -> None:
    """Refuse a file whose weight buffers reach past its end (a truncated or cut file)."""
    for index in range(model.BuffersLength()):
        buffer = model.Buffers(index)
        table = buffer._tab
        field = table.Offset(4)                    # Buffer.data, a vector of bytes inside the flatbuffer
        end = table.Vector(field) + table.VectorLen(field) if field else 0
        offset = int(buffer.Offset()) if hasattr(buffer, "Offset") else 0
        if offset > 1:                             # data stored after the flatbuffer, by offset and size
            end = max(end, offset + int(buffer.Size()))
        if end > size:
            raise ModelError(f"{where}: buffer {index} reaches byte {end}, past the end of the {size}-byte file; "
                             "the file is truncated: copy or export it again")


def _read(tflite, buf, path: Path, on_unknown: str) -> Graph:
    where = str(path)
    model = tflite.Model.GetRootAs(buf, 0)
    if model.SubgraphsLength() < 1:
        raise ModelError(f"{where}: the TFLite model has no subgraph")
    graph = model.Subgraphs(0)
    _check_buffers(model, len(buf), where)
    codes = _operator_codes(tflite, model)
    if graph.OperatorsLength() > MAX_NODES:
        raise ModelError(f"{where}: {graph.OperatorsLength()} operators exceed the limit of {MAX_NODES}")
    tensors = _tensors(model, graph, where)
    unknown = sorted({codes[graph.Operators(i).OpcodeIndex()] for i in range(graph.OperatorsLength())
                      if codes[graph.Operators(i).OpcodeIndex()] not in TFLITE_OPS})
    if unknown and on_unknown == "error":
        raise UnknownOpError(f"{where}: unknown TFLite operator(s) {show(', '.join(unknown), 300)}; pass "
                             "--on-unknown roofline to estimate them from bytes and MACs; known: "
                             f"{', '.join(sorted(TFLITE_OPS))}", op_types=tuple(unknown), known=tuple(sorted(TFLITE_OPS)))
    produced: set[int] = set()
    layers = []
    for index in range(graph.OperatorsLength()):
        layer = _operator_layer(tflite, graph.Operators(index), index, codes, tensors, produced, where)
        if layer is not None:
            layers.append(layer)
    shapes, _, _, names_by_index = tensors
    io = lambda indices: tuple((names_by_index[t], shapes[t]) for t in indices)  # noqa: E731
    return Graph(
        name=path.stem, layers=tuple(layers),
        inputs=io([int(t) for t in graph.InputsAsNumpy()] if graph.InputsLength() else []),
        outputs=io([int(t) for t in graph.OutputsAsNumpy()] if graph.OutputsLength() else []),
        params=sum(layer.params for layer in layers),
        native_precision="int8" if any(layer.precision == "int8" for layer in layers) else "fp32",
        source=str(path), opset=0,
    )


def _operator_codes(tflite, model) -> list[str]:
    """The name of every operator code: a builtin's name, or ``custom:NAME``."""
    names = _builtin_names(tflite)
    codes = []
    for i in range(model.OperatorCodesLength()):
        code = model.OperatorCodes(i)
        builtin = max(int(code.BuiltinCode()), int(code.DeprecatedBuiltinCode()))
        custom = code.CustomCode()
        codes.append(f"custom:{custom.decode('utf-8', 'replace')}" if custom else names.get(builtin, f"builtin:{builtin}"))
    return codes


def _tensors(model, graph, where: str) -> tuple[list, list, list, list]:
    """Per tensor: its static shape, data type, whether it is constant (has buffer data), and its name."""
    n_buffers = model.BuffersLength()
    shapes, types, const, names_by_index = [], [], [], []
    for i in range(graph.TensorsLength()):
        tensor = graph.Tensors(i)
        shape = tuple(int(d) for d in tensor.ShapeAsNumpy()) if tensor.ShapeLength() else ()
        if any(d < 0 for d in shape):
            raise ModelError(f"{where}: tensor {i} has a dynamic or negative dimension {shape}; re-export the model "
                             "with a fixed input shape")
        check_elements(where, f"#{i}", shape)
        shapes.append(shape)
        types.append(int(tensor.Type()))
        index = int(tensor.Buffer())
        if index >= n_buffers:
            raise ModelError(f"{where}: tensor {i} refers to buffer {index}, but the model has {n_buffers}")
        buffer = model.Buffers(index) if index > 0 else None
        const.append(buffer is not None and (buffer.DataLength() > 0 or int(buffer.Size()) > 0))
        names_by_index.append((tensor.Name() or b"").decode("utf-8", "replace") or f"tensor_{i}")
    return shapes, types, const, names_by_index


def _traffic(inputs: list, in_const: list, tensors, counts, layout: str):
    """Elements of activations and constants one operator reads, its parameters, and its activations' names and
    shapes (a Gather reads the rows it gathers: ``counts.reads``)."""
    shapes, types, _, names_by_index = tensors
    act_in = weights = layer_params = 0
    act_names, act_shapes = [], []
    reads = counts.reads if counts.reads is not None and layout != "tflite" else ()
    for position, (t, is_const) in enumerate(zip(inputs, in_const)):
        if t < 0:
            continue
        whole = _opcount.prod(shapes[t])
        read = reads[position] if position < len(reads) else None
        elements = whole if read is None else min(read, whole)
        if is_const:
            weights += elements
            if counts.op_class in ("conv", "dwconv", "conv_transpose", "gemm", "norm") and types[t] not in (4, 6):
                layer_params += whole
        else:
            act_in += elements
            act_names.append(names_by_index[t])
            act_shapes.append(shapes[t])
    return act_in, weights, layer_params, act_names, act_shapes


def _operator_layer(tflite, operator, index: int, codes: list, tensors, produced: set, where: str) -> Layer | None:
    """The layer of one operator, or None when all its inputs are constant (folded, as the interpreter does)."""
    shapes, types, const, names_by_index = tensors
    n_tensors = len(shapes)
    opcode = operator.OpcodeIndex()
    if opcode >= len(codes):
        raise ModelError(f"{where}: operator {index} uses opcode {opcode}, but the model defines {len(codes)}")
    name = codes[opcode]
    inputs = [int(t) for t in operator.InputsAsNumpy()] if operator.InputsLength() else []
    outputs = [int(t) for t in operator.OutputsAsNumpy()] if operator.OutputsLength() else []
    for t in inputs + outputs:
        if t >= n_tensors or t < -1:
            raise ModelError(f"{where}: operator {index} ({name}) refers to tensor {t}, but the model has {n_tensors}")
    for t in outputs:
        if t in produced or (t >= 0 and const[t]):
            raise ModelError(f"{where}: tensor {t} is written twice (operator {index}, {name})")
        produced.add(t)
    if all(t < 0 or const[t] for t in inputs) and inputs:
        for t in outputs:
            const[t] = True  # constant folding, as the interpreter would
        return None
    onnx_op, layout = TFLITE_OPS.get(name, ("", ""))
    in_shapes = [shapes[t] if t >= 0 else None for t in inputs]
    out_shapes = [shapes[t] for t in outputs if t >= 0]
    in_const = [t >= 0 and const[t] for t in inputs]
    flags: tuple[str, ...] = ()
    if not onnx_op:
        counts = _opcount.Counts("unknown", 0, sum(_opcount.prod(s) for s in out_shapes), ())
        flags = ("unknown-op",)
    else:
        options = _pool_options(tflite, operator) if onnx_op in ("AveragePool", "MaxPool", "LpPool") else {}
        if layout == "tflite":      # counted in the TFLite layout, by the operator's own counter
            view = _opcount.NodeView(name, {}, tuple(in_shapes), tuple(out_shapes), tuple(in_const))
            counter = _opcount.lookup("tflite", name)
        else:
            view = _view(onnx_op, layout, in_shapes, out_shapes, in_const, options)
            counter = _opcount.lookup("", onnx_op)
        try:
            counts = counter(view)
        except (ValueError, IndexError, ZeroDivisionError, TypeError) as exc:
            raise ModelError(f"{where}: operator {index} ({name}) has shapes edgeperf cannot count: {exc}") from None
    act_in, weights, layer_params, act_names, act_shapes = _traffic(inputs, in_const, tensors, counts, layout)
    int8 = any(types[t] in _INT8_TYPES for t in inputs + outputs if t >= 0) and counts.op_class != "quant"
    return Layer(
        name=f"{index}:{name}", op_type=onnx_op or name, op_class=counts.op_class, inputs=tuple(act_names),
        outputs=tuple(names_by_index[t] for t in outputs if t >= 0), input_shapes=tuple(act_shapes),
        output_shapes=tuple(out_shapes), attrs=(("tflite_op", name),), macs=counts.macs, flops=counts.flops,
        act_in_elems=act_in, weight_elems=weights, act_out_elems=sum(_opcount.prod(s) for s in out_shapes),
        params=layer_params, geometry=counts.geometry, precision="int8" if int8 else None, flags=flags,
    )
