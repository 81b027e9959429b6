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
from . import _opcount
from ._constfold import fold_shape_constants
from ._contrib_shapes import CONTRIB_SHAPES
from ._onnx_checks import dims

__all__ = ["constant_tensors", "shape_table", "static", "infer", "supply_shapes", "resolve_shapes"]

#: Upper bound on rounds of constant folding and re-inference (each stops early once nothing new folds).
_FOLD_ROUNDS = 64


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

def infer(model, where: str):
    try:
        return shape_inference.infer_shapes(model, check_type=False, strict_mode=True, data_prop=True)
    except (onnx.shape_inference.InferenceError, onnx.checker.ValidationError, RuntimeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"{where}: shape inference failed: {first[:300]}") from None

def _declare(model, name: str, elem_type: int, shape) -> None:
    value_info = model.graph.value_info.add()
    value_info.name = name
    value_info.type.CopyFrom(onnx.helper.make_tensor_type_proto(elem_type, list(shape)))


def supply_shapes(model, inferred, nodes, order, where, assume_unknown: bool):
    """Declare output shapes onnx cannot infer, then re-infer, until nothing changes.

    Outputs of onnxruntime contrib operators get the shape their definition gives
    (``_contrib_shapes``). With ``assume_unknown``, outputs of unknown operators get
    the shape of their first input (an element-wise assumption; those layers are
    flagged ``unknown-op``).

    Returns
    -------
    supplied : set of str
        Tensors whose shape was declared here.
    inferred : onnx.ModelProto
        The model as inferred after the last round.
    """
    supplied: set[str] = set()
    for _ in range(len(nodes) + 1):
        types = {vi.name: vi.type for vi in list(inferred.graph.input) + list(inferred.graph.value_info)
                 + list(inferred.graph.output)}
        for tensor in model.graph.initializer:
            types.setdefault(tensor.name, onnx.helper.make_tensor_type_proto(tensor.data_type, list(tensor.dims)))
        added = False
        for index in order:
            node = nodes[index]
            rule = CONTRIB_SHAPES.get((node.domain, node.op_type))
            unknown = _opcount.lookup(node.domain, node.op_type) is None
            missing = [o for o in node.output if o and o not in supplied and (o not in types or not static(dims(types[o])))]
            if not missing or (rule is None and not (unknown and assume_unknown)):
                continue
            in_shapes = [dims(types[t]) if t and t in types else None for t in node.input]
            first = next((t for t in node.input if t and t in types and static(dims(types[t]))), None)
            if first is None:
                continue
            elem_type = types[first].tensor_type.elem_type
            if rule is not None:
                if any(t and not static(shape) for t, shape in zip(node.input, in_shapes)):
                    continue
                attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
                try:
                    outputs = rule(in_shapes, attrs)
                except (IndexError, KeyError, ValueError, TypeError, ZeroDivisionError) as exc:
                    raise ModelError(f"{where}: node {node.name or node.op_type!r} ({node.domain}:{node.op_type}) "
                                     f"has inputs its definition does not allow: {exc}") from None
                for name, shape in zip(node.output, outputs):
                    if name and name in missing:
                        _declare(model, name, elem_type, shape)
                        supplied.add(name)
                        added = True
            else:
                for name in missing:
                    _declare(model, name, elem_type, dims(types[first]))
                    supplied.add(name)
                    added = True
        if not added:
            return supplied, inferred
        inferred = infer(model, where)
    return supplied, inferred


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
        _, inferred = supply_shapes(model, inferred, nodes, order, where, assume)
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
