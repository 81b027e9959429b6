"""Evaluate small constant subgraphs (shape arithmetic) so that shape inference can finish.

Exporters compute reshape targets and slice bounds at run time from ``Shape``
(``Shape -> Gather -> Div -> Concat -> Reshape``). With static input shapes these
are constants, but ``onnx.shape_inference``'s data propagation does not follow
every such chain. This module evaluates them with onnx's own reference operator
implementations (pure numpy; no onnxruntime) and hands back their values, to be
added as initializers before inference runs again.

Only small integer and boolean tensors are evaluated (at most
:data:`MAX_ELEMENTS` elements); weights are never touched (their data is not
even loaded).
"""

from __future__ import annotations

import logging

import numpy as np
import onnx
from onnx import numpy_helper

__all__ = ["fold_shape_constants", "MAX_ELEMENTS"]

logger = logging.getLogger(__name__)

#: Largest tensor evaluated; shape arithmetic is far smaller.
MAX_ELEMENTS = 4096
_INT_TYPES = {onnx.TensorProto.INT64, onnx.TensorProto.INT32, onnx.TensorProto.BOOL}
#: Operators whose output has at most as many elements as their inputs together: safe to evaluate
#: even when inference did not give their output shape (inputs are at most MAX_ELEMENTS each).
#: (Broadcasting operators and Gather are not: [4096, 1] + [1, 4096] has 16 M elements.)
_BOUNDED_BY_INPUTS = frozenset({
    "Identity", "Cast", "Squeeze", "Unsqueeze", "Reshape", "Flatten", "Slice", "Concat", "Neg", "Abs", "Floor",
    "Ceil", "Sqrt", "Relu", "Not", "Sign", "Transpose", "ReduceProd", "ReduceSum", "ReduceMax", "ReduceMin",
    "ReduceMean", "Size", "Shape",
})
_SKIP = {"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial", "Bernoulli"}


def _known_values(model: onnx.ModelProto) -> dict[str, np.ndarray]:
    values = {}
    for tensor in model.graph.initializer:
        has_data = tensor.raw_data or tensor.int64_data or tensor.int32_data or tensor.float_data
        if tensor.data_type in _INT_TYPES | {onnx.TensorProto.FLOAT} and has_data:
            count = int(np.prod(tensor.dims)) if len(tensor.dims) else 1
            if count <= MAX_ELEMENTS:
                values[tensor.name] = numpy_helper.to_array(tensor)
    return values


def _small(shape) -> bool:
    """A static shape of at most MAX_ELEMENTS elements."""
    if shape is None or any(not isinstance(d, int) or d < 0 for d in shape):
        return False
    count = 1
    for d in shape:
        count *= d
    return count <= MAX_ELEMENTS


def fold_shape_constants(model: onnx.ModelProto, nodes, order, shapes: dict, const: set, opset: int) -> dict:
    """Values of constant integer tensors computable from static shapes and small constants.

    Parameters
    ----------
    model : onnx.ModelProto
        The (slim) model; small initializers carry data.
    nodes, order : list of NodeProto, list of int
        The graph's nodes and a topological order.
    shapes : dict of str to tuple
        Shapes known so far (static dims are ints).
    const : set of str
        Tensors known to be constant.
    opset : int
        Default-domain opset, for choosing operator versions.

    Returns
    -------
    dict of str to numpy.ndarray
        Newly computed tensor values (not including existing initializers).
    """
    values = _known_values(model)
    computed: dict[str, np.ndarray] = {}
    for index in order:
        node = nodes[index]
        if node.domain not in ("", "ai.onnx") or node.op_type in _SKIP:
            continue
        outputs = [o for o in node.output if o]
        if not outputs or not all(o in const for o in outputs) or all(o in values for o in outputs):
            continue
        if node.op_type in ("Shape", "Size"):
            array = _shape_value(node, shapes.get(node.input[0]))
            if array is not None:
                values[outputs[0]] = computed[outputs[0]] = array
            continue
        inputs = [values.get(t) if t else None for t in node.input]
        if any(t and v is None for t, v in zip(node.input, inputs)):
            continue
        if node.op_type == "Constant":
            array = _constant_value(node)
            if array is not None:
                values[outputs[0]] = computed[outputs[0]] = array
            continue
        if not all(_small(shapes.get(o)) for o in outputs) and node.op_type not in _BOUNDED_BY_INPUTS:
            continue                     # its result could be large (Range, Expand, Tile, ...): never evaluated
        for name, array in zip(outputs, _evaluated(node, inputs, opset)):
            array = np.asarray(array)
            if array.size <= MAX_ELEMENTS and array.dtype.kind in "biuf":
                values[name] = computed[name] = array
    return computed


def _shape_value(node, shape) -> np.ndarray | None:
    """The value of a Shape (with its start and end) or Size node of a tensor of static ``shape``."""
    if shape is None or any(not isinstance(d, int) for d in shape):
        return None
    if node.op_type == "Size":
        return np.array(int(np.prod(shape)), dtype=np.int64)
    attrs = {a.name: a.i for a in node.attribute}
    start, end = attrs.get("start", 0), attrs.get("end", len(shape))
    return np.array(shape, dtype=np.int64)[start:end]


def _constant_value(node) -> np.ndarray | None:
    """The value of a small numeric Constant node, or None."""
    for attr in node.attribute:
        if attr.name == "value" and attr.t.data_type in _INT_TYPES | {onnx.TensorProto.FLOAT} \
                and (attr.t.raw_data or attr.t.int64_data or attr.t.float_data or attr.t.int32_data):
            array = numpy_helper.to_array(attr.t)
            if array.size <= MAX_ELEMENTS:
                return array
    return None


def _evaluated(node, inputs: list, opset: int) -> tuple:
    """The node's outputs by onnx's reference implementation; none where it cannot run it."""
    from onnx.reference.ops import load_op

    try:
        op_class = load_op("", node.op_type, opset, node=node)
        params = {"log": lambda *args: None, "opsets": {"": opset}, "verbose": 0, "new_ops": None}
        result = op_class(node, params).run(*inputs)
    except Exception as exc:  # noqa: BLE001 - any failure means "not foldable here", never a crash
        logger.debug("cannot fold %s (%s): %s", node.name, node.op_type, exc)
        return ()
    return result if isinstance(result, tuple) else (result,)
