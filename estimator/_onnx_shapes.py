"""Static shapes for every tensor: onnx shape inference, helped where it stops.

Inference stops at operators onnx does not know: onnxruntime contrib operators
get their documented output shapes, unknown operators their first input's shape
when the user asked for a roofline fallback. It also stops at shape arithmetic
its data propagation cannot follow (evaluated by ``_constfold`` and added as
initializers). Both repeat until nothing changes.
"""

from __future__ import annotations

import onnx
from onnx import numpy_helper, shape_inference

from .._errors import ModelError
from .._messages import show
from . import _opcount
from ._constfold import fold_shape_constants
from ._contrib_shapes import CONTRIB_SHAPES
from ._onnx_checks import dims

__all__ = ["constant_tensors", "shape_table", "static", "infer", "supply_shapes", "resolve_shapes"]

#: Upper bound on rounds of constant folding and re-inference (each stops early once nothing new folds).
_FOLD_ROUNDS = 64
#: Upper bound on rounds of declaring contrib/unknown shapes and re-inferring (each round walks the whole graph).
_SUPPLY_ROUNDS = 16
#: Longest integer vector that onnx's data propagation may hold (shape arithmetic is far smaller).
MAX_PROPAGATED = 4096
_PROPAGATED_TYPES = (onnx.TensorProto.INT64, onnx.TensorProto.INT32)


def constant_tensors(nodes, order, initializer_names) -> set[str]:
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

def shape_table(inferred) -> dict:
    table = {}
    for vi in list(inferred.graph.input) + list(inferred.graph.value_info) + list(inferred.graph.output):
        shape = dims(vi.type)
        if shape is not None:
            table[vi.name] = shape
    for tensor in inferred.graph.initializer:
        table[tensor.name] = tuple(int(d) for d in tensor.dims)
    return table

def static(shape) -> bool:
    return shape is not None and all(isinstance(d, int) and d >= 0 for d in shape)

def _infer(model, where: str, data_prop: bool):
    try:
        return shape_inference.infer_shapes(model, check_type=False, strict_mode=True, data_prop=data_prop)
    except (onnx.shape_inference.InferenceError, onnx.checker.ValidationError, RuntimeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"{where}: shape inference failed: {first[:300]}") from None


def _largest_int_vector(inferred) -> int:
    """Most elements of any 0-D or 1-D int32/int64 tensor (the values data propagation would hold); -1 if none."""
    largest = -1
    for vi in list(inferred.graph.value_info) + list(inferred.graph.output) + list(inferred.graph.input):
        tensor_type = vi.type.tensor_type
        if tensor_type.elem_type not in _PROPAGATED_TYPES or not tensor_type.HasField("shape"):
            continue
        shape = tensor_type.shape.dim
        if len(shape) > 1:
            continue
        largest = max(largest, shape[0].dim_value if len(shape) == 1 and shape[0].HasField("dim_value") else 1)
    return largest


def infer(model, where: str):
    """onnx shape inference, with data propagation only where its values stay small.

    Data propagation keeps every propagated integer tensor as a list of dimensions (about
    80 bytes per element), so ``Range(0, 2**25)`` feeding a ``Cast`` would take gigabytes. It
    runs only when plain inference shows that no int32/int64 vector has more than
    :data:`MAX_PROPAGATED` elements, and not at all when the model has no integer vectors
    (nothing to propagate); shape arithmetic it would have followed is then evaluated by
    ``_constfold``.
    """
    plain = _infer(model, where, data_prop=False)
    largest = _largest_int_vector(plain)
    if largest < 0 or largest > MAX_PROPAGATED:
        return plain
    return _infer(model, where, data_prop=True)


def _declare(model, name: str, elem_type: int, shape) -> None:
    value_info = model.graph.value_info.add()
    value_info.name = name
    value_info.type.CopyFrom(onnx.helper.make_tensor_type_proto(elem_type, list(shape)))


def _standard_outputs(node, types, values, opset: int) -> dict:
    """Output types of a standard-domain node inferred on its own (onnx's per-node inference); {} if it cannot."""
    try:
        schema = onnx.defs.get_schema(node.op_type, opset, node.domain or "")
        return shape_inference.infer_node_outputs(
            schema, node, {t: types[t] for t in node.input if t and t in types},
            {t: values[t] for t in node.input if t and t in values},
            opset_imports=[onnx.helper.make_opsetid("", opset)])
    except Exception:  # noqa: BLE001 - any failure means "not known here"; the full inference decides later
        return {}


def supply_shapes(model, inferred, nodes, order, where, assume_unknown: bool, opset: int = 0):
    """Declare output shapes onnx cannot infer, then re-infer, until nothing changes.

    Outputs of onnxruntime contrib operators get the shape their definition gives
    (``_contrib_shapes``). With ``assume_unknown``, outputs of unknown operators get
    the shape of their first input (an element-wise assumption; those layers are
    flagged ``unknown-op``).

    One walk in topological order carries the new shapes forward through the whole graph
    (standard nodes after a contrib node are inferred one by one with onnx's per-node
    inference), so a chain of thousands of contrib nodes costs one walk and one full
    re-inference, not one re-inference per node. Further rounds (at most
    :data:`_SUPPLY_ROUNDS`) are needed only where a shape depends on data propagation.

    Returns
    -------
    supplied : set of str
        Tensors whose shape was declared here.
    inferred : onnx.ModelProto
        The model as inferred after the last round.
    """
    supplied: set[str] = set()
    values = {t.name: t for t in model.graph.initializer if t.data_type in _PROPAGATED_TYPES
              and (t.raw_data or t.int64_data or t.int32_data)}
    for _ in range(_SUPPLY_ROUNDS):
        types = {vi.name: vi.type for vi in list(inferred.graph.input) + list(inferred.graph.value_info)
                 + list(inferred.graph.output)}
        for tensor in model.graph.initializer:
            types.setdefault(tensor.name, onnx.helper.make_tensor_type_proto(tensor.data_type, list(tensor.dims)))
        added = False
        for index in order:
            node = nodes[index]
            missing = [o for o in node.output if o and o not in supplied and (o not in types or not static(dims(types[o])))]
            if not missing:
                continue
            for name, elem_type, shape in _node_shapes(node, missing, types, values, opset, assume_unknown, where):
                _declare(model, name, elem_type, shape)
                types[name] = onnx.helper.make_tensor_type_proto(elem_type, list(shape))
                supplied.add(name)
                added = True
        if not added:
            return supplied, inferred
        inferred = infer(model, where)
    return supplied, inferred


def _node_shapes(node, missing: list, types: dict, values: dict, opset: int, assume_unknown: bool, where: str) -> list:
    """``(name, elem_type, shape)`` to declare for the ``missing`` outputs of a contrib or (assumed) unknown node.

    A standard node's outputs are inferred on their own and only noted in ``types``, for the nodes after it
    (the full inference that follows the walk declares them).
    """
    rule = CONTRIB_SHAPES.get((node.domain, node.op_type))
    unknown = _opcount.lookup(node.domain, node.op_type) is None
    if rule is None and not (unknown and assume_unknown):
        if node.domain in ("", "ai.onnx") and opset and all(
                (not t) or (t in types and static(dims(types[t]))) for t in node.input):
            for name, type_proto in _standard_outputs(node, types, values, opset).items():
                if name in missing and static(dims(type_proto)):
                    types[name] = type_proto
        return []
    in_shapes = [dims(types[t]) if t and t in types else None for t in node.input]
    first = next((t for t in node.input if t and t in types and static(dims(types[t]))), None)
    if first is None:
        return []
    elem_type = types[first].tensor_type.elem_type
    if rule is None:
        return [(name, elem_type, dims(types[first])) for name in missing]
    if any(t and not static(shape) for t, shape in zip(node.input, in_shapes)):
        return []
    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
    try:
        outputs = rule(in_shapes, attrs)
    except (IndexError, KeyError, ValueError, TypeError, ZeroDivisionError) as exc:
        raise ModelError(f"{where}: node {show(node.name or node.op_type)} ({node.domain}:{node.op_type}) "
                         f"has inputs its definition does not allow: {show(str(exc), 200)}") from None
    return [(name, elem_type, shape) for name, shape in zip(node.output, outputs) if name and name in missing]


def resolve_shapes(model, nodes, order, const, opset, on_unknown, where, mutable):
    """Infer shapes, then assume and fold until every non-constant tensor has a static shape.

    ``mutable()`` returns a model that may be changed (a private copy of the
    caller's); it is called only when something must be added.

    Returns
    -------
    model : onnx.ModelProto
        The model used (possibly the mutable copy).
    inferred : onnx.ModelProto
        The shape-inferred model.
    """
    inferred = infer(model, where)
    assume = on_unknown == "roofline"
    if any((n.domain, n.op_type) in CONTRIB_SHAPES or (assume and _opcount.lookup(n.domain, n.op_type) is None)
           for n in nodes):
        model = mutable()
        _, inferred = supply_shapes(model, inferred, nodes, order, where, assume, opset)
    # Every tensor a layer reads or writes needs a static shape: the outputs of the nodes that run,
    # and their inputs, constants included (a Swin shifted-window mask is built from constants
    # through Range -> Reshape -> Where -> Expand, and is read by the attention's Add).
    needed = {t for n in nodes if any(o and o not in const for o in n.output) for t in (*n.input, *n.output) if t}
    for _ in range(_FOLD_ROUNDS):
        known = shape_table(inferred)
        if all(static(known.get(t)) for t in needed):
            break
        existing = {t.name for t in model.graph.initializer}
        fresh = {name: value for name, value in fold_shape_constants(model, nodes, order, known, const, opset).items()
                 if name not in existing}
        if not fresh:
            break
        model = mutable()
        model.graph.initializer.extend(numpy_helper.from_array(value, name) for name, value in fresh.items())
        inferred = infer(model, where)
    return model, inferred
