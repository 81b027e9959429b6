"""Static shapes for every tensor: onnx shape inference, helped where it stops.

Inference stops at operators onnx does not know (their outputs get their first
input's shape when the user asked for a roofline fallback) and at shape arithmetic
its data propagation cannot follow (evaluated by ``_constfold`` and added as
initializers). Both repeat until nothing changes.
"""

from __future__ import annotations

import onnx
from onnx import numpy_helper, shape_inference

from .._errors import ModelError
from . import _opcount
from ._constfold import fold_shape_constants
from ._onnx_checks import dims

__all__ = ["constant_tensors", "shape_table", "static", "infer", "assume_unknown_op_shapes", "resolve_shapes"]

#: Rounds of constant folding and re-inference when shapes stay unknown.
_FOLD_ROUNDS = 4


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

def assume_unknown_op_shapes(model, inferred, nodes, order, where) -> set[str]:
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
            source = next((types[t] for t in node.input if t and t in types and dims(types[t])), None)
            for out in node.output:
                if out and out not in assumed and (out not in types or dims(types[out]) is None) and source is not None:
                    value_info = model.graph.value_info.add()
                    value_info.name = out
                    value_info.type.CopyFrom(source)
                    assumed.add(out)
                    added = True
        if not added:
            return assumed
        inferred = infer(model, where)
    return assumed


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
    if on_unknown == "roofline" and any(_opcount.lookup(n.domain, n.op_type) is None for n in nodes):
        model = mutable()
        if assume_unknown_op_shapes(model, inferred, nodes, order, where):
            inferred = infer(model, where)
    for _ in range(_FOLD_ROUNDS):
        known = shape_table(inferred)
        if all(static(known.get(o)) for n in nodes for o in n.output if o and o not in const):
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
