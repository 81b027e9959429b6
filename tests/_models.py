"""Helpers that build small ONNX models in tests with onnx.helper."""

from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper, numpy_helper

IR_VERSION = 8


def tensor(name: str, shape, dtype=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, dtype, list(shape) if shape is not None else None)


def weight(name: str, shape, *, data: bool = False, dtype=np.float32, value=None):
    """An initializer; without data unless asked (dims only, as edgeperf needs)."""
    if value is not None:
        return numpy_helper.from_array(np.asarray(value, dtype=dtype), name)
    if data:
        return numpy_helper.from_array(np.zeros(shape, dtype=dtype), name)
    proto_type = helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    return TensorProto(name=name, data_type=proto_type, dims=list(shape))


def model(nodes, inputs, outputs, initializers=(), *, opset: int = 17, name: str = "test", extra_opsets=()):
    graph = helper.make_graph(list(nodes), name, list(inputs), list(outputs), list(initializers))
    opsets = [helper.make_opsetid("", opset)] + [helper.make_opsetid(d, v) for d, v in extra_opsets]
    result = helper.make_model(graph, opset_imports=opsets)
    result.ir_version = IR_VERSION
    return result


def single(op: str, in_shapes, out_shape, *, weights=(), attrs=None, opset: int = 17, out_dtype=TensorProto.FLOAT,
           domain: str = ""):
    """A one-node model: activation inputs x0, x1, ... then the given initializers (name, shape[, value])."""
    inputs = [tensor(f"x{i}", s) for i, s in enumerate(in_shapes)]
    inits = []
    names = [f"x{i}" for i in range(len(in_shapes))]
    for entry in weights:
        if entry is None:
            names.append("")
            continue
        wname, wshape, *rest = entry
        inits.append(weight(wname, wshape, value=rest[0] if rest else None,
                            dtype=rest[1] if len(rest) > 1 else np.float32))
        names.append(wname)
    node = helper.make_node(op, names, ["y"], name="node", domain=domain, **(attrs or {}))
    extra = [(domain, 1)] if domain else []
    return model([node], inputs, [tensor("y", out_shape, out_dtype)], inits, opset=opset, extra_opsets=extra)
