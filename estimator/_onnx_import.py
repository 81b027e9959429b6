"""ONNX model -> :class:`Graph`.

The file is read (large files piece by piece) and scanned without reading weight payloads
(``_wire``), shape-inferred by ``onnx.shape_inference`` with data propagation,
validated (opset, dangling/duplicate tensors, cycles, dimensions) and turned
into layers with exact counts (``_opcount``). Nodes whose inputs are all
constants are folded away, as every runtime does.

Assumptions: the default-domain opset must be one onnx's shape inference
knows; every graph input needs static dimensions, given by the model or by
``input_shapes``; control-flow operators (If, Loop, Scan) are not supported.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import onnx
from google.protobuf.message import DecodeError

from .._args import typed
from .._errors import InputError, LimitError, ModelError
from .._messages import show
from .._userfile import model_bytes, user_path
from . import _opcount
from ._ir import Graph, Layer
from ._onnx_checks import (
    MAX_NODES,
    MAX_TENSOR_ELEMENTS,
    apply_input_shapes,
    check_elements,
    check_tensor_names,
    check_text,
    check_unknown_ops,
    default_opset,
    dims,
    topological_order,
)
from ._onnx_shapes import constant_tensors, resolve_shapes
from ._wire import WireError, WireLimitError, slim_model

__all__ = ["load_onnx", "graph_from_model", "MAX_TENSOR_ELEMENTS", "MAX_NODES", "parse_input_shape"]

logger = logging.getLogger(__name__)

#: onnx data types whose initializers count as learnable parameters
#: (floats and 8/4-bit integer weights; int32/int64/bool/string are shapes, indices, flags).
_PARAM_TYPES = frozenset({1, 2, 3, 10, 11, 16, 17, 18, 19, 20, 21, 22, 23})
_ON_UNKNOWN = ("error", "roofline")
#: Largest ONNX file read: protobuf's own limit (larger models keep their weights in external data).
MAX_MODEL_BYTES = 2**31
#: Largest graph structure (the file without weight payloads): protobuf and shape inference copy it several times.
MAX_STRUCTURE_BYTES = 64 * 2**20


@typed
def parse_input_shape(text: str) -> tuple[str, tuple[int, ...]]:
    """Parse ``NAME=1x3x224x224`` into ``("NAME", (1, 3, 224, 224))``.

    >>> parse_input_shape("input=1x3x224x224")
    ('input', (1, 3, 224, 224))

    Raises
    ------
    InputError
        If the text is not ``NAME=DxDx...`` with positive integer dimensions.
    """
    name, sep, dims = text.rpartition("=")
    try:
        shape = tuple(int(d) for d in dims.lower().split("x"))
    except ValueError:
        shape = ()
    if not sep or not name or not shape or any(d <= 0 for d in shape):
        raise InputError(
            f"input shape {show(text)} is not NAME=DxDx... with positive integer dimensions; "
            "example: --input-shape input=1x3x224x224"
        )
    return name, shape


def load_onnx(path, *, input_shapes=None, on_unknown: str = "error") -> Graph:
    """Read an ONNX file into a :class:`Graph` without loading its weights.

    Parameters
    ----------
    path : str or Path
        The ``.onnx`` file.
    input_shapes : dict of str to tuple of int, optional
        Shapes for graph inputs, required for inputs with dynamic dimensions.
    on_unknown : {"error", "roofline"}
        What to do with operators edgeperf has no cost model for.

    Returns
    -------
    Graph

    Raises
    ------
    ModelError
        If the file is missing, not ONNX, truncated, or the graph is invalid.
    UnknownOpError
        If the graph uses unknown operators and ``on_unknown == "error"``.
    LimitError
        If the graph exceeds :data:`MAX_NODES` or :data:`MAX_TENSOR_ELEMENTS`.
    """
    path = user_path(path, what="model", error=ModelError)
    slim = _slim_bytes(path)
    if len(slim) > MAX_STRUCTURE_BYTES:
        raise LimitError(f"{path}: its graph takes {len(slim)} bytes without weights, more than {MAX_STRUCTURE_BYTES}; "
                         "split or simplify the model")
    model = onnx.ModelProto()
    try:
        model.ParseFromString(slim)
    except (DecodeError, RuntimeError, ValueError) as exc:
        raise ModelError(f"{path}: not a valid ONNX model ({exc}); expected a serialized ONNX ModelProto") from None
    return graph_from_model(model, name=path.stem, source=str(path), input_shapes=input_shapes, on_unknown=on_unknown,
                            _owned=True)


def _slim_bytes(path: Path) -> bytes:
    """The model file without its weight payloads, read through the user-file reader (large files piece by piece,
    never memory-mapped); external data must stay beside it."""
    with model_bytes(path, what="an ONNX model", limit=MAX_MODEL_BYTES, error=ModelError, random_access=True,
                     hint="give the path of an .onnx or .tflite model or a zoo:NAME reference") as data:
        if len(data) == 0:
            raise ModelError(f"{path}: file is empty; expected an ONNX model (protobuf ModelProto)")
        try:
            base_dir = path.resolve().parent
        except (OSError, RuntimeError) as exc:
            raise ModelError(f"{path}: cannot resolve its folder ({exc})") from None

        def check_external(name: str, location: str) -> None:
            try:
                target = (base_dir / location).resolve()
            except (OSError, ValueError, RuntimeError):
                target = None
            if target is None or os.path.isabs(location) or base_dir not in target.parents:
                raise ModelError(
                    f"{path}: tensor {show(name)} points its external data at {show(location)}, outside the model's "
                    "folder; only relative locations inside the folder of the model are accepted"
                )

        try:
            return slim_model(data, check_external=check_external, max_nodes=MAX_NODES)
        except WireLimitError as exc:
            raise LimitError(f"{path}: {exc}, beyond what edgeperf reads; split or simplify the model") from None
        except WireError as exc:
            raise ModelError(f"{path}: not a valid ONNX model ({exc}); expected a serialized ONNX ModelProto") from None


def _attr_value(attr: onnx.AttributeProto):
    kind = attr.type
    if kind == onnx.AttributeProto.INT:
        return int(attr.i)
    if kind == onnx.AttributeProto.FLOAT:
        return float(attr.f)
    if kind == onnx.AttributeProto.STRING:
        return attr.s.decode("utf-8", "replace")
    if kind == onnx.AttributeProto.INTS:
        return tuple(int(v) for v in attr.ints)
    if kind == onnx.AttributeProto.FLOATS:
        return tuple(float(v) for v in attr.floats)
    if kind == onnx.AttributeProto.STRINGS:
        return tuple(v.decode("utf-8", "replace") for v in attr.strings)
    return None  # tensors and graphs are not needed for counting


def graph_from_model(model: onnx.ModelProto, *, name: str = "", source: str = "", input_shapes=None,
                     on_unknown: str = "error", _owned: bool = False) -> Graph:
    """Turn an in-memory ``ModelProto`` into a :class:`Graph`.

    Initializers need dims and data type only; their data is never read. The
    caller's model is not modified (a copy is made when input shapes must be set).
    Parameters and errors as in :func:`load_onnx`.
    """
    where = source or name or "model"
    if on_unknown not in _ON_UNKNOWN:
        raise InputError(f"on_unknown must be one of {_ON_UNKNOWN}, got {show(on_unknown)}")
    if not model.HasField("graph") or model.ir_version <= 0:
        raise ModelError(f"{where}: not an ONNX model (no graph or IR version); expected a serialized ONNX ModelProto")
    if len(model.graph.node) == 0:
        raise ModelError(f"{where}: the ONNX graph has no nodes; nothing to estimate")
    if len(model.graph.node) > MAX_NODES:
        raise LimitError(f"{where}: {len(model.graph.node)} nodes exceed the limit of {MAX_NODES}; "
                         "split the model or estimate its parts separately")
    opset = default_opset(model, where)
    check_text(model.graph, where)
    _check_io(model.graph, where)
    copy = _CopyOnWrite(model, owned=_owned)
    initializer_names = {t.name for t in model.graph.initializer} | {s.values.name for s in model.graph.sparse_initializer}
    inputs = _shaped_inputs(copy, initializer_names, input_shapes, where)
    nodes, order = _checked_nodes(copy, initializer_names, on_unknown, where)
    const = constant_tensors(nodes, order, initializer_names)
    model, inferred = resolve_shapes(copy.model, nodes, order, const, opset, on_unknown, where, copy.mutable)
    shapes, dtypes, params = _shapes_and_params(inferred, model.graph, nodes, order, initializer_names, where)
    layers, folded, native_int8 = _layers(nodes, order, const, _reaching_outputs(nodes, model.graph), shapes, dtypes,
                                          on_unknown, where)

    def io(values):
        return tuple((vi.name, tuple(d for d in shapes.get(vi.name, ()) if isinstance(d, int))) for vi in values)

    return Graph(
        name=name or model.graph.name or "model",
        layers=tuple(layers),
        inputs=io(inputs),
        outputs=io(model.graph.output),
        params=params,
        native_precision="int8" if native_int8 else "fp32",
        source=source,
        opset=opset,
        folded_nodes=folded,
    )


def _check_io(graph, where: str) -> None:
    """Refuse what onnxruntime refuses of a graph's interface: no outputs, an input declared twice."""
    if len(graph.output) == 0:
        raise ModelError(f"{where}: the graph has no outputs, so every node is dead code; a model must name its "
                         "outputs (graph.output)")
    names = [vi.name for vi in graph.input]
    if len(set(names)) != len(names):
        twice = next(n for n in names if names.count(n) > 1)
        raise ModelError(f"{where}: graph input {show(twice)} is declared twice; input names must be unique")


class _CopyOnWrite:
    """The model being imported, copied the first time it must change unless the caller handed it over."""

    def __init__(self, model: onnx.ModelProto, *, owned: bool):
        self.model = model
        self._copied = owned

    def mutable(self) -> onnx.ModelProto:
        """The model, copied first if it is the caller's (never modify what we were given)."""
        if not self._copied:
            self.model = _copy(self.model)
            self._copied = True
        return self.model


def _shaped_inputs(copy: _CopyOnWrite, initializer_names: set, input_shapes, where: str) -> list:
    """The graph inputs that are not initializers, with ``input_shapes`` applied (to a copy)."""
    graph = copy.mutable().graph if input_shapes else copy.model.graph
    inputs = [vi for vi in graph.input if vi.name not in initializer_names]
    apply_input_shapes(inputs, dict(input_shapes or {}), where)
    return inputs


def _checked_nodes(copy: _CopyOnWrite, initializer_names: set, on_unknown: str, where: str) -> tuple[list, list]:
    """The nodes, checked (known ops, tensor names, no cycles) and in topological order (sorted in a copy if not)."""
    graph = copy.model.graph
    nodes = list(graph.node)
    check_unknown_ops(nodes, on_unknown, where)
    producers = check_tensor_names(nodes, graph, initializer_names, where)
    order = topological_order(nodes, producers, where)
    if order != sorted(order):  # the spec wants sorted nodes and onnx's inference needs them
        graph = copy.mutable().graph
        sorted_nodes = [onnx.NodeProto() for _ in order]
        for target, index in zip(sorted_nodes, order):
            target.CopyFrom(nodes[index])
        del graph.node[:]
        graph.node.extend(sorted_nodes)
        nodes = list(graph.node)
        order = list(range(len(nodes)))
    return nodes, order


def _shapes_and_params(inferred, graph, nodes, order, initializer_names: set, where: str):
    """Every tensor's shape and data type, and the model's learnable parameter count."""
    shapes: dict[str, tuple | None] = {}
    dtypes: dict[str, int] = {}
    for vi in list(inferred.graph.input) + list(inferred.graph.value_info) + list(inferred.graph.output):
        shape = dims(vi.type)
        if shape is not None:
            shapes[vi.name] = shape
        dtypes[vi.name] = vi.type.tensor_type.elem_type
    # BatchNormalization's running mean and variance are buffers, not learnable parameters.
    buffers = {t for n in nodes if n.op_type == "BatchNormalization" for t in n.input[3:5]}
    params = 0
    for tensor in graph.initializer:
        shape = tuple(int(d) for d in tensor.dims)
        check_elements(where, tensor.name, shape)
        shapes[tensor.name] = shape
        dtypes[tensor.name] = tensor.data_type
        if (tensor.data_type in _PARAM_TYPES and len(shape) > 0 and tensor.name not in buffers
                and tensor.name in initializer_names):  # not the shape constants folded at import
            params += _opcount.prod(shape)
    for sparse in graph.sparse_initializer:     # sparse weights: the runtime makes them dense at load time
        shape = tuple(int(d) for d in sparse.dims)
        check_elements(where, sparse.values.name, shape)
        shapes[sparse.values.name] = shape
        dtypes[sparse.values.name] = sparse.values.data_type
        params += _opcount.prod(shape)
    for index in order:
        node = nodes[index]
        if node.op_type == "Constant" and node.domain in ("", "ai.onnx"):
            for attr in node.attribute:
                if attr.name == "value" and attr.type == onnx.AttributeProto.TENSOR:
                    shape = tuple(int(d) for d in attr.t.dims)
                    check_elements(where, node.output[0], shape)
                    shapes[node.output[0]] = shape
                    dtypes[node.output[0]] = attr.t.data_type
                    if attr.t.data_type in _PARAM_TYPES and len(shape) > 0:
                        params += _opcount.prod(shape)
    return shapes, dtypes, params


def _layers(nodes, order, const, live: set, shapes, dtypes, on_unknown: str, where: str):
    """The layers of the live, non-constant nodes; how many nodes were folded; whether the model is quantized."""
    layers = []
    folded = 0
    native_int8 = False
    dq_outputs = {o for n in nodes if n.op_type == "DequantizeLinear" for o in n.output}
    used_names: set[str] = set()
    for index in order:
        node = nodes[index]
        if node.op_type == "Constant" or all(o in const for o in node.output if o) or index not in live:
            folded += 1  # constant (folded at load time) or dead (its outputs reach no graph output)
            continue
        layer = _layer(node, index, shapes, dtypes, const, dq_outputs, on_unknown, used_names, where)
        native_int8 |= layer.precision == "int8" or layer.op_type in ("QuantizeLinear", "DequantizeLinear")
        layers.append(layer)
    return layers, folded, native_int8


def _reaching_outputs(nodes, graph) -> set[int]:
    """Indices of nodes that contribute to a graph output; runtimes drop the others (dead code)."""
    producer = {out: i for i, node in enumerate(nodes) for out in node.output if out}
    live: set[int] = set()
    stack = [producer[vi.name] for vi in graph.output if vi.name in producer]
    while stack:
        index = stack.pop()
        if index in live:
            continue
        live.add(index)
        stack.extend(producer[t] for t in nodes[index].input if t in producer)
    return live


def _nms_output_bound(in_shapes) -> tuple[int, int] | None:
    """Upper bound of NonMaxSuppression's data-dependent output (N * C * B selected, 3 indices each)."""
    boxes, scores = (in_shapes + [None, None])[:2]
    if boxes is None or scores is None or len(scores) != 3 or not all(isinstance(d, int) for d in scores):
        return None
    return (scores[0] * scores[1] * scores[2], 3)


def _copy(model: onnx.ModelProto) -> onnx.ModelProto:
    clone = onnx.ModelProto()
    clone.CopyFrom(model)
    return clone


def _layer(node, index, shapes, dtypes, const, dq_outputs, on_unknown, used_names, where) -> Layer:
    label = node.name or f"{node.op_type}_{index}"
    if label in used_names:
        label = f"{label}_{index}"
    used_names.add(label)
    in_shapes = [shapes.get(tensor) if tensor else None for tensor in node.input]
    counter = _opcount.lookup(node.domain, node.op_type)
    out_shapes = _output_shapes(node, label, in_shapes, counter is None, shapes, where)
    _check_input_shapes(node, label, in_shapes, const, where)
    attrs = {a.name: value for a in node.attribute if (value := _attr_value(a)) is not None}
    in_const = tuple(bool(t) and t in const for t in node.input)
    flags: tuple[str, ...] = ()
    if counter is None:
        out_elems = sum(_opcount.prod(s) for s in out_shapes)
        counts = _opcount.Counts("unknown", 0, out_elems, ())
        flags = ("unknown-op",)
    else:
        view = _opcount.NodeView(node.op_type, attrs, tuple(in_shapes), tuple(out_shapes), in_const)
        try:
            counts = counter(view)
        except (ValueError, IndexError, ZeroDivisionError, TypeError) as exc:
            raise ModelError(f"{where}: node {show(label)} ({node.op_type}) has shapes or attributes edgeperf cannot "
                             f"count: {exc}") from None
    act_in, weights, params, act_names, act_shapes = _input_traffic(node, in_shapes, in_const, dtypes, counts.reads)
    precision = None
    if counts.int8 or _opcount.is_int8_op(node.domain, node.op_type):
        precision = "int8"
    elif counts.op_class in ("conv", "dwconv", "gemm", "conv_transpose") and node.input and node.input[0] in dq_outputs:
        precision = "int8"  # QDQ format: the runtime executes DQ -> op -> Q as one int8 kernel
    attrs_tuple = tuple(sorted(attrs.items()))
    return Layer(
        name=label,
        op_type=node.op_type if node.domain in ("", "ai.onnx") else f"{node.domain}:{node.op_type}",
        op_class=counts.op_class,
        inputs=tuple(act_names),
        outputs=tuple(o for o in node.output if o),
        input_shapes=tuple(act_shapes),
        output_shapes=tuple(out_shapes),
        attrs=attrs_tuple,
        macs=counts.macs,
        flops=counts.flops,
        act_in_elems=act_in,
        weight_elems=weights,
        act_out_elems=sum(_opcount.prod(s) for s in out_shapes),
        params=params if counts.op_class not in ("shape", "data_movement", "quant") else 0,
        geometry=counts.geometry,
        precision=precision,
        flags=flags,
    )



def _check_input_shapes(node, label: str, in_shapes: list, const, where: str) -> None:
    """Every input of ``node`` has a static shape, or one line says which and what would help.

    Raises
    ------
    ModelError
        Naming the tensor; for one computed from constants alone, --input-shape cannot help.
    """
    for tensor, shape in zip(node.input, in_shapes):
        if tensor and (shape is None or any(not isinstance(d, int) for d in shape)):
            advice = ("it is computed from constants alone, by operators edgeperf could not evaluate: simplify the "
                      "model (onnxsim) so that it is folded" if tensor in const
                      else "give static input sizes with --input-shape")
            raise ModelError(f"{where}: cannot determine the shape of tensor {show(tensor)} (input of node {show(label)}, "
                             f"{node.op_type}); {advice}")


def _output_shapes(node, label: str, in_shapes: list, unknown_op: bool, shapes: dict, where: str) -> list:
    """The static shape of each output of ``node`` (recorded in ``shapes``), checked.

    Raises
    ------
    ModelError
        When a shape cannot be determined, or has an empty or negative dimension.
    """
    out_shapes = []
    for tensor in node.output:
        if not tensor:
            continue
        shape = shapes.get(tensor)
        if node.op_type == "NonMaxSuppression" and (shape is None or any(not isinstance(d, int) for d in shape)):
            shape = _nms_output_bound(in_shapes)   # selected indices: at most every box of every class and batch
        if shape is None or any(not isinstance(d, int) for d in shape):
            if unknown_op:
                # Unknown op whose output shape onnx cannot infer: assume it keeps the
                # shape of its first input (element-wise), and say so.
                first = next((s for s in in_shapes if s is not None), None)
                shape = first
            if shape is None or any(not isinstance(d, int) for d in shape):
                raise ModelError(
                    f"{where}: cannot determine the shape of tensor {show(tensor)} (output of node {show(label)}, "
                    f"{node.op_type}); give static input sizes with --input-shape or simplify the model "
                    "(onnxsim) so that shapes are static"
                )
            shapes[tensor] = shape
        if any(d <= 0 for d in shape) and node.op_type not in ("Shape", "Size", "NonZero"):
            raise ModelError(f"{where}: tensor {show(tensor)} (output of node {show(label)}, {node.op_type}) has an "
                             f"empty or negative dimension {shape}; check kernel sizes, strides and input sizes")
        check_elements(where, tensor, shape)
        out_shapes.append(tuple(shape))
    return out_shapes


def _input_traffic(node, in_shapes: list, in_const: tuple, dtypes: dict, reads=None):
    """Elements of activation inputs and of weights read, learnable parameters, and the activations' names and shapes.

    ``reads`` (from the operator's counter) caps what an input position reads: a Gather reads the
    rows it gathers of its table, not the table. Parameters count the whole tensor all the same.
    """
    act_in = weights = params = 0
    act_names, act_shapes = [], []
    for position, (tensor, shape, is_const) in enumerate(zip(node.input, in_shapes, in_const)):
        if not tensor:
            continue
        whole = _opcount.prod(shape)
        read = reads[position] if reads is not None and position < len(reads) else None
        elements = whole if read is None else min(read, whole)
        if is_const:
            if dtypes.get(tensor) not in (6, 7, 9):  # int32/int64/bool constants are shapes and indices
                weights += elements
                if not (node.op_type == "BatchNormalization" and position >= 3):  # running stats are buffers
                    params += whole
        else:
            act_in += elements
            act_names.append(tensor)
            act_shapes.append(tuple(shape))
    return act_in, weights, params, act_names, act_shapes