"""ONNX model -> :class:`Graph`.

The file is memory-mapped and scanned without reading weight payloads
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
import mmap
import os
import heapq
from pathlib import Path

import onnx
from google.protobuf.message import DecodeError
from onnx import numpy_helper, shape_inference

from .._errors import InputError, LimitError, ModelError, UnknownOpError
from . import _opcount
from ._constfold import fold_shape_constants
from ._ir import Graph, Layer
from ._wire import WireError, slim_model

__all__ = ["load_onnx", "graph_from_model", "MAX_TENSOR_ELEMENTS", "MAX_NODES", "parse_input_shape"]

logger = logging.getLogger(__name__)

#: Largest tensor accepted: 2^34 elements (64 GiB at fp32), beyond any edge device.
MAX_TENSOR_ELEMENTS = 2**34
#: Rounds of constant folding and re-inference when shapes stay unknown.
_FOLD_ROUNDS = 4
#: Largest graph accepted, in nodes; estimation time and memory grow linearly with it.
MAX_NODES = 500_000
#: onnx data types whose initializers count as learnable parameters
#: (floats and 8/4-bit integer weights; int32/int64/bool/string are shapes, indices, flags).
_PARAM_TYPES = frozenset({1, 2, 3, 10, 11, 16, 17, 18, 19, 20, 21, 22, 23})
_ON_UNKNOWN = ("error", "roofline")
_UNSUPPORTED_CONTROL_FLOW = frozenset({"If", "Loop", "Scan"})


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
            f"input shape {text!r} is not NAME=DxDx... with positive integer dimensions; "
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
    path = Path(path)
    if not path.exists():
        raise ModelError(f"{path}: no such file; give the path of an .onnx or .tflite model or a zoo:NAME reference")
    if path.is_dir():
        raise ModelError(f"{path}: is a directory, not a model file; give the path of an .onnx or .tflite file")
    size = path.stat().st_size
    if size == 0:
        raise ModelError(f"{path}: file is empty; expected an ONNX model (protobuf ModelProto)")
    base_dir = path.resolve().parent

    def check_external(name: str, location: str) -> None:
        target = (base_dir / location).resolve()
        if os.path.isabs(location) or base_dir not in target.parents:
            raise ModelError(
                f"{path}: tensor {name!r} points its external data at {location!r}, outside the model's folder; "
                "only relative locations inside the folder of the model are accepted"
            )

    try:
        with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            view = memoryview(mapped)
            try:
                slim, _ = slim_model(view, check_external=check_external)
            finally:
                view.release()
    except WireError as exc:
        raise ModelError(f"{path}: not a valid ONNX model ({exc}); expected a serialized ONNX ModelProto") from None
    except OSError as exc:
        raise ModelError(f"{path}: cannot read file ({exc.strerror})") from None
    model = onnx.ModelProto()
    try:
        model.ParseFromString(slim)
    except (DecodeError, RuntimeError, ValueError) as exc:
        raise ModelError(f"{path}: not a valid ONNX model ({exc}); expected a serialized ONNX ModelProto") from None
    return graph_from_model(model, name=path.stem, source=str(path), input_shapes=input_shapes, on_unknown=on_unknown,
                            _owned=True)


def _default_opset(model: onnx.ModelProto, where: str) -> int:
    opset = 0
    for entry in model.opset_import:
        if entry.domain in ("", "ai.onnx"):
            opset = entry.version
    if opset <= 0:
        raise ModelError(f"{where}: the model imports no default-domain opset; re-export it with an opset between 7 and "
                         f"{onnx.defs.onnx_opset_version()}")
    newest = onnx.defs.onnx_opset_version()
    if opset > newest:
        raise ModelError(f"{where}: opset {opset} is newer than the newest supported ({newest}); "
                         f"re-export the model with opset <= {newest} or upgrade onnx")
    return opset


def _dims(type_proto) -> tuple | None:
    """Static shape of a tensor type, None if unknown; symbolic dims become their name."""
    if not type_proto.HasField("tensor_type") or not type_proto.tensor_type.HasField("shape"):
        return None
    dims = []
    for dim in type_proto.tensor_type.shape.dim:
        if dim.HasField("dim_value"):
            dims.append(int(dim.dim_value))
        else:
            dims.append(dim.dim_param or "?")
    return tuple(dims)


def _apply_input_shapes(model, inputs, input_shapes, where) -> None:
    known = [vi.name for vi in inputs]
    for name in input_shapes:
        if name not in known:
            raise InputError(f"{where}: --input-shape names {name!r}, but the model's inputs are {known}")
    for vi in inputs:
        if vi.name in input_shapes:
            shape = input_shapes[vi.name]
            tensor_shape = vi.type.tensor_type.shape
            tensor_shape.ClearField("dim")
            for dim in shape:
                tensor_shape.dim.add().dim_value = int(dim)
            continue
        dims = _dims(vi.type)
        if dims is None or any(not isinstance(d, int) or d <= 0 for d in dims):
            shown = "unknown" if dims is None else "x".join(str(d) for d in dims)
            raise InputError(
                f"{where}: input {vi.name!r} has dynamic or unknown shape ({shown}); "
                f"give it with --input-shape {vi.name}=1x3x224x224 (your real sizes)"
            )


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


def _topological_order(nodes, producers, where) -> list[int]:
    indegree = [0] * len(nodes)
    consumers: dict[int, list[int]] = {}
    for index, node in enumerate(nodes):
        deps = {producers[t] for t in node.input if t and t in producers}
        deps.discard(index)
        if any(t and producers.get(t) == index for t in node.input):
            raise ModelError(f"{where}: node {node.name or node.op_type!r} consumes its own output; the graph has a cycle")
        indegree[index] = len(deps)
        for dep in deps:
            consumers.setdefault(dep, []).append(index)
    # A heap keyed by file position keeps the file's order whenever it is already topological.
    ready = [i for i, d in enumerate(indegree) if d == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        index = heapq.heappop(ready)
        order.append(index)
        for nxt in consumers.get(index, ()):
            indegree[nxt] -= 1
            if indegree[nxt] == 0:
                heapq.heappush(ready, nxt)
    if len(order) != len(nodes):
        stuck = [nodes[i].name or nodes[i].op_type for i in range(len(nodes)) if indegree[i] > 0][:3]
        raise ModelError(f"{where}: the graph has a cycle (through nodes {stuck}); an ONNX graph must be acyclic")
    return order


def graph_from_model(model: onnx.ModelProto, *, name: str = "", source: str = "", input_shapes=None,
                     on_unknown: str = "error", _owned: bool = False) -> Graph:
    """Turn an in-memory ``ModelProto`` into a :class:`Graph`.

    Initializers need dims and data type only; their data is never read. The
    caller's model is not modified (a copy is made when input shapes must be set).
    Parameters and errors as in :func:`load_onnx`.
    """
    where = source or name or "model"
    if on_unknown not in _ON_UNKNOWN:
        raise InputError(f"on_unknown must be one of {_ON_UNKNOWN}, got {on_unknown!r}")
    if not model.HasField("graph") or model.ir_version <= 0:
        raise ModelError(f"{where}: not an ONNX model (no graph or IR version); expected a serialized ONNX ModelProto")
    graph = model.graph
    if len(graph.node) == 0:
        raise ModelError(f"{where}: the ONNX graph has no nodes; nothing to estimate")
    if len(graph.node) > MAX_NODES:
        raise LimitError(f"{where}: {len(graph.node)} nodes exceed the limit of {MAX_NODES}; "
                         "split the model or estimate its parts separately")
    opset = _default_opset(model, where)
    _check_text(graph, where)
    original = model
    if not _owned and (input_shapes or on_unknown == "roofline"):
        model = _copy(model)
        graph = model.graph
    initializer_names = {t.name for t in graph.initializer}
    inputs = [vi for vi in graph.input if vi.name not in initializer_names]
    _apply_input_shapes(model, inputs, dict(input_shapes or {}), where)

    nodes = list(graph.node)
    _check_unknown_ops(nodes, on_unknown, where)
    producers = _check_tensor_names(nodes, graph, initializer_names, where)
    order = _topological_order(nodes, producers, where)
    if order != sorted(order):  # the spec wants sorted nodes and onnx's inference needs them
        if not _owned and model is original:
            model = _copy(model)
            graph = model.graph
        sorted_nodes = [onnx.NodeProto() for _ in order]
        for target, index in zip(sorted_nodes, order):
            target.CopyFrom(nodes[index])
        del graph.node[:]
        graph.node.extend(sorted_nodes)
        nodes = list(graph.node)
        order = list(range(len(nodes)))

    const = _constant_tensors(nodes, order, initializer_names)
    inferred = _infer(model, where)
    assumed = _assume_unknown_op_shapes(model, inferred, nodes, order, where) if on_unknown == "roofline" else set()
    if assumed:
        inferred = _infer(model, where)
    for _ in range(_FOLD_ROUNDS):
        known = _shape_table(inferred)
        if all(_static(known.get(o)) for n in nodes for o in n.output if o and o not in const):
            break
        values = fold_shape_constants(model, nodes, order, known, const, opset)
        fresh = {name: value for name, value in values.items()
                 if name not in initializer_names and name not in {t.name for t in model.graph.initializer}}
        if not fresh:
            break
        if not _owned and model is original:
            model = _copy(model)
            graph = model.graph
        model.graph.initializer.extend(numpy_helper.from_array(value, name) for name, value in fresh.items())
        inferred = _infer(model, where)
    shapes: dict[str, tuple | None] = {}
    dtypes: dict[str, int] = {}
    for vi in list(inferred.graph.input) + list(inferred.graph.value_info) + list(inferred.graph.output):
        dims = _dims(vi.type)
        if dims is not None:
            shapes[vi.name] = dims
        dtypes[vi.name] = vi.type.tensor_type.elem_type
    # BatchNormalization's running mean and variance are buffers, not learnable parameters.
    buffers = {t for n in nodes if n.op_type == "BatchNormalization" for t in n.input[3:5]}
    params = 0
    for tensor in graph.initializer:
        dims = tuple(int(d) for d in tensor.dims)
        _check_elements(where, tensor.name, dims)
        shapes[tensor.name] = dims
        dtypes[tensor.name] = tensor.data_type
        if (tensor.data_type in _PARAM_TYPES and len(dims) > 0 and tensor.name not in buffers
                and tensor.name in initializer_names):  # not the shape constants folded at import
            params += _opcount.prod(dims)

    for index in order:
        node = nodes[index]
        if node.op_type == "Constant" and node.domain in ("", "ai.onnx"):
            for attr in node.attribute:
                if attr.name == "value" and attr.type == onnx.AttributeProto.TENSOR:
                    dims = tuple(int(d) for d in attr.t.dims)
                    _check_elements(where, node.output[0], dims)
                    shapes[node.output[0]] = dims
                    dtypes[node.output[0]] = attr.t.data_type
                    if attr.t.data_type in _PARAM_TYPES and len(dims) > 0:
                        params += _opcount.prod(dims)

    layers = []
    folded = 0
    native_int8 = False
    dq_outputs = {o for n in nodes if n.op_type == "DequantizeLinear" for o in n.output}
    used_names: set[str] = set()
    for index in order:
        node = nodes[index]
        if node.op_type == "Constant" or all(o in const for o in node.output if o):
            folded += 1
            continue
        layer = _layer(node, index, shapes, dtypes, const, dq_outputs, on_unknown, used_names, where)
        native_int8 |= layer.precision == "int8" or layer.op_type in ("QuantizeLinear", "DequantizeLinear")
        layers.append(layer)

    def io(values):
        return tuple((vi.name, tuple(d for d in shapes.get(vi.name, ()) if isinstance(d, int))) for vi in values)

    return Graph(
        name=name or graph.name or "model",
        layers=tuple(layers),
        inputs=io(inputs),
        outputs=io(graph.output),
        params=params,
        native_precision="int8" if native_int8 else "fp32",
        source=source,
        opset=opset,
        folded_nodes=folded,
    )


def _check_text(graph, where: str) -> None:
    """Refuse names that protobuf could not decode as UTF-8 (it hands them back as bytes)."""
    for index, node in enumerate(graph.node):
        fields = [node.name, node.op_type, node.domain, *node.input, *node.output, *(a.name for a in node.attribute)]
        if any(not isinstance(value, str) for value in fields):
            raise ModelError(f"{where}: node #{index} has names that are not valid UTF-8; the file is corrupt")
    for value in list(graph.input) + list(graph.output) + list(graph.initializer) + list(graph.value_info):
        if not isinstance(value.name, str):
            raise ModelError(f"{where}: a tensor name contains invalid UTF-8; the file is corrupt")


def _copy(model: onnx.ModelProto) -> onnx.ModelProto:
    clone = onnx.ModelProto()
    clone.CopyFrom(model)
    return clone


def _constant_tensors(nodes, order, initializer_names) -> set[str]:
    """Tensors known before running: initializers, Constant outputs, Shape/Size of static tensors, and
    outputs of nodes whose inputs are all constant (a runtime folds these at load time)."""
    const = set(initializer_names)
    for index in order:
        node = nodes[index]
        default_domain = node.domain in ("", "ai.onnx")
        if default_domain and node.op_type in ("Constant", "Shape", "Size"):
            const.update(node.output)
        elif node.input and all((not t) or t in const for t in node.input):
            const.update(node.output)
    return const


def _shape_table(inferred) -> dict:
    table = {}
    for vi in list(inferred.graph.input) + list(inferred.graph.value_info) + list(inferred.graph.output):
        dims = _dims(vi.type)
        if dims is not None:
            table[vi.name] = dims
    for tensor in inferred.graph.initializer:
        table[tensor.name] = tuple(int(d) for d in tensor.dims)
    return table


def _static(shape) -> bool:
    return shape is not None and all(isinstance(d, int) and d >= 0 for d in shape)


def _infer(model, where: str):
    try:
        return shape_inference.infer_shapes(model, check_type=False, strict_mode=True, data_prop=True)
    except (onnx.shape_inference.InferenceError, onnx.checker.ValidationError, RuntimeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"{where}: shape inference failed: {first[:300]}") from None


def _assume_unknown_op_shapes(model, inferred, nodes, order, where) -> set[str]:
    """Give outputs of unknown operators the shape of their first input, then re-infer.

    onnx cannot infer through an operator it does not know, which leaves the rest
    of the graph unshaped. Declaring each such output with its first input's type
    (an element-wise assumption, flagged on the layer) lets inference continue.
    Returns the names of the tensors whose shape was assumed.
    """
    assumed: set[str] = set()
    for _ in range(len(nodes) + 1):
        types = {vi.name: vi.type for vi in list(inferred.graph.input) + list(inferred.graph.value_info)
                 + list(inferred.graph.output)}
        for tensor in model.graph.initializer:
            types.setdefault(tensor.name, onnx.helper.make_tensor_type_proto(tensor.data_type, list(tensor.dims)))
        added = False
        for index in order:
            node = nodes[index]
            if _opcount.lookup(node.domain, node.op_type) is not None:
                continue
            source = next((types[t] for t in node.input if t and t in types and _dims(types[t])), None)
            for out in node.output:
                if out and out not in assumed and (out not in types or _dims(types[out]) is None) and source is not None:
                    value_info = model.graph.value_info.add()
                    value_info.name = out
                    value_info.type.CopyFrom(source)
                    assumed.add(out)
                    added = True
        if not added:
            return assumed
        inferred = _infer(model, where)
    return assumed


def _check_unknown_ops(nodes, on_unknown: str, where: str) -> None:
    unknown = sorted({(n.domain, n.op_type) for n in nodes if _opcount.lookup(n.domain, n.op_type) is None})
    control = sorted({n.op_type for n in nodes if n.op_type in _UNSUPPORTED_CONTROL_FLOW})
    if control:
        raise ModelError(f"{where}: control-flow operators {control} are not supported; "
                         "export the model with the branch or loop unrolled")
    if unknown and on_unknown == "error":
        names = tuple(op if dom in ("", "ai.onnx") else f"{dom}:{op}" for dom, op in unknown)
        known = _opcount.known_ops()
        raise UnknownOpError(
            f"{where}: unknown operator(s) {', '.join(names)}; known operators: {', '.join(known)}. "
            "Pass --on-unknown roofline to estimate them from bytes and MACs",
            op_types=names,
            known=known,
        )


def _check_tensor_names(nodes, graph, initializer_names, where) -> dict[str, int]:
    producers: dict[str, int] = {}
    graph_inputs = {vi.name for vi in graph.input} | initializer_names
    for index, node in enumerate(nodes):
        for out in node.output:
            if not out:
                continue
            if out in producers:
                raise ModelError(f"{where}: tensor {out!r} is produced by two nodes "
                                 f"({nodes[producers[out]].name or nodes[producers[out]].op_type!r} and "
                                 f"{node.name or node.op_type!r}); tensor names must be unique")
            if out in graph_inputs:
                raise ModelError(f"{where}: tensor {out!r} is both a graph input/initializer and the output of "
                                 f"node {node.name or node.op_type!r}; tensor names must be unique")
            producers[out] = index
    for node in nodes:
        for tensor in node.input:
            if tensor and tensor not in producers and tensor not in graph_inputs:
                raise ModelError(f"{where}: node {node.name or node.op_type!r} reads tensor {tensor!r}, which no node, "
                                 "input or initializer provides (a dangling reference)")
    for vi in graph.output:
        if vi.name not in producers and vi.name not in graph_inputs:
            raise ModelError(f"{where}: graph output {vi.name!r} is not produced by any node")
    return producers


def _check_elements(where: str, tensor: str, dims: tuple) -> None:
    if any(d < 0 for d in dims):
        raise ModelError(f"{where}: tensor {tensor!r} has a negative dimension {dims}")
    count = _opcount.prod(dims)
    if count > MAX_TENSOR_ELEMENTS:
        raise LimitError(f"{where}: tensor {tensor!r} with shape {dims} has {count:.3e} elements, more than the "
                         f"limit of {MAX_TENSOR_ELEMENTS:.3e}; check the model's dimensions")


def _layer(node, index, shapes, dtypes, const, dq_outputs, on_unknown, used_names, where) -> Layer:
    label = node.name or f"{node.op_type}_{index}"
    if label in used_names:
        label = f"{label}_{index}"
    used_names.add(label)
    in_shapes = []
    for tensor in node.input:
        if not tensor:
            in_shapes.append(None)
            continue
        shape = shapes.get(tensor)
        in_shapes.append(shape)
    out_shapes = []
    counter = _opcount.lookup(node.domain, node.op_type)
    for tensor in node.output:
        if not tensor:
            continue
        shape = shapes.get(tensor)
        if shape is None or any(not isinstance(d, int) for d in shape):
            if counter is None:
                # Unknown op whose output shape onnx cannot infer: assume it keeps the
                # shape of its first input (element-wise), and say so.
                first = next((s for s in in_shapes if s is not None), None)
                shape = first
            if shape is None or any(not isinstance(d, int) for d in shape):
                raise ModelError(
                    f"{where}: cannot determine the shape of tensor {tensor!r} (output of node {label!r}, "
                    f"{node.op_type}); give static input sizes with --input-shape or simplify the model "
                    "(onnxsim) so that shapes are static"
                )
            shapes[tensor] = shape
        if any(d <= 0 for d in shape) and node.op_type not in ("Shape", "Size", "NonZero"):
            raise ModelError(f"{where}: tensor {tensor!r} (output of node {label!r}, {node.op_type}) has an "
                             f"empty or negative dimension {shape}; check kernel sizes, strides and input sizes")
        _check_elements(where, tensor, shape)
        out_shapes.append(tuple(shape))
    for tensor, shape in zip(node.input, in_shapes):
        if tensor and (shape is None or any(not isinstance(d, int) for d in shape)):
            raise ModelError(f"{where}: cannot determine the shape of tensor {tensor!r} (input of node {label!r}, "
                             f"{node.op_type}); give static input sizes with --input-shape")
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
            raise ModelError(f"{where}: node {label!r} ({node.op_type}) has shapes or attributes edgeperf cannot "
                             f"count: {exc}") from None
    act_in = weights = params = 0
    act_names, act_shapes = [], []
    for position, (tensor, shape, is_const) in enumerate(zip(node.input, in_shapes, in_const)):
        if not tensor:
            continue
        elements = _opcount.prod(shape)
        if is_const:
            if dtypes.get(tensor) not in (6, 7, 9):  # int32/int64/bool constants are shapes and indices
                weights += elements
                if not (node.op_type == "BatchNormalization" and position >= 3):  # running stats are buffers
                    params += elements
        else:
            act_in += elements
            act_names.append(tensor)
            act_shapes.append(tuple(shape))
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
