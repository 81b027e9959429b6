"""Validation of ONNX graphs before and during import: every check raises one clear error.

Opset range, names that are not UTF-8, dangling and duplicate tensor names, cycles,
unknown or control-flow operators, absurd tensor sizes and missing input shapes.
"""

from __future__ import annotations

import heapq

import onnx

from .._errors import InputError, LimitError, ModelError, UnknownOpError
from .._messages import show
from . import _opcount
from ._wire import MAX_RANK

__all__ = ["MAX_TENSOR_ELEMENTS", "MAX_NODES", "default_opset", "dims", "apply_input_shapes", "topological_order",
           "check_text", "check_unknown_ops", "check_tensor_names", "check_elements"]

#: Largest tensor accepted: 2^34 elements (64 GiB at fp32), beyond any edge device.
MAX_TENSOR_ELEMENTS = 2**34
#: Largest graph accepted, in nodes (real networks, transformers included, have a few thousand to tens of
#: thousands); import time and memory grow linearly with it: on a busy 2-core machine a 100,000-node chain
#: took 30 s (median, 55 s at worst) and 380 MB (benchmarks/hostile_inputs.py), so the limit keeps an
#: estimate within half of that.
MAX_NODES = 50_000
_UNSUPPORTED_CONTROL_FLOW = frozenset({"If", "Loop", "Scan"})


def default_opset(model: onnx.ModelProto, where: str) -> int:
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

def dims(type_proto) -> tuple | None:
    """Static shape of a tensor type, None if unknown; symbolic dims become their name."""
    if not type_proto.HasField("tensor_type") or not type_proto.tensor_type.HasField("shape"):
        return None
    if len(type_proto.tensor_type.shape.dim) > MAX_RANK:
        raise LimitError(f"a tensor type has {len(type_proto.tensor_type.shape.dim)} dimensions, more than {MAX_RANK}; "
                         "the model is corrupt or not supported")
    dims = []
    for dim in type_proto.tensor_type.shape.dim:
        if dim.HasField("dim_value"):
            dims.append(int(dim.dim_value))
        else:
            dims.append(dim.dim_param or "?")
    return tuple(dims)

def example_shape(vi) -> str:
    """A ``--input-shape`` example for one input: its static dimensions kept, the others filled plausibly.

    Batch 1 first; a sequence of 128 for integer inputs (token ids) and non-image ranks; 3 channels
    and 224 pixels for a 4-D float input.

    >>> from onnx import TensorProto, helper
    >>> example_shape(helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "sequence"]))
    '1x128'
    >>> example_shape(helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3, "h", "w"]))
    '1x3x224x224'
    """
    shape = dims(vi.type) or ()
    integer = vi.type.tensor_type.elem_type in (2, 3, 4, 5, 6, 7, 12, 13)
    if not shape:
        return "1x128" if integer else "1x3x224x224"
    example = []
    for i, d in enumerate(shape):
        if isinstance(d, int) and d > 0:
            example.append(d)
        elif i == 0:
            example.append(1)
        elif len(shape) == 4 and not integer:
            example.append(3 if i == 1 else 224)
        else:
            example.append(128)
    return "x".join(str(d) for d in example)


def apply_input_shapes(inputs, input_shapes, where) -> None:
    known = [vi.name for vi in inputs]
    for name in input_shapes:
        if name not in known:
            raise InputError(f"{where}: --input-shape names {show(name)}, but the model's inputs are {show(known)}")
    for vi in inputs:
        if vi.name in input_shapes:
            shape = input_shapes[vi.name]
            declared = dims(vi.type)
            if declared is not None and len(declared) != len(shape):
                shown = "x".join(str(d) for d in declared)
                raise InputError(f"{where}: --input-shape {vi.name}={'x'.join(map(str, shape))} has {len(shape)} "
                                 f"dimensions, but input {show(vi.name)} has {len(declared)} ({shown}); give "
                                 f"{len(declared)}, e.g. --input-shape {vi.name}={example_shape(vi)}")
            tensor_shape = vi.type.tensor_type.shape
            tensor_shape.ClearField("dim")
            for dim in shape:
                tensor_shape.dim.add().dim_value = int(dim)
            continue
        shape = dims(vi.type)
        if shape is None or any(not isinstance(d, int) or d <= 0 for d in shape):
            shown = "unknown" if shape is None else "x".join(str(d) for d in shape)
            raise InputError(
                f"{where}: input {show(vi.name)} has dynamic or unknown shape ({shown}); "
                f"give it with --input-shape {vi.name}={example_shape(vi)} (your real sizes)"
            )

def topological_order(nodes, producers, where) -> list[int]:
    indegree = [0] * len(nodes)
    consumers: dict[int, list[int]] = {}
    for index, node in enumerate(nodes):
        deps = {producers[t] for t in node.input if t and t in producers}
        deps.discard(index)
        if any(t and producers.get(t) == index for t in node.input):
            raise ModelError(f"{where}: node {show(node.name or node.op_type)} consumes its own output; the graph has a cycle")
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

def check_text(graph, where: str) -> None:
    """Refuse names that protobuf could not decode as UTF-8 (it hands them back as bytes)."""
    for index, node in enumerate(graph.node):
        fields = [node.name, node.op_type, node.domain, *node.input, *node.output, *(a.name for a in node.attribute)]
        if any(not isinstance(value, str) for value in fields):
            raise ModelError(f"{where}: node #{index} has names that are not valid UTF-8; the file is corrupt")
    for value in list(graph.input) + list(graph.output) + list(graph.initializer) + list(graph.value_info):
        if not isinstance(value.name, str):
            raise ModelError(f"{where}: a tensor name contains invalid UTF-8; the file is corrupt")

def check_unknown_ops(nodes, on_unknown: str, where: str) -> None:
    unknown = sorted({(n.domain, n.op_type) for n in nodes if _opcount.lookup(n.domain, n.op_type) is None})
    control = sorted({n.op_type for n in nodes if n.op_type in _UNSUPPORTED_CONTROL_FLOW})
    if control:
        raise ModelError(f"{where}: control-flow operators {control} are not supported; "
                         "export the model with the branch or loop unrolled")
    if unknown and on_unknown == "error":
        names = tuple(op if dom in ("", "ai.onnx") else f"{dom}:{op}" for dom, op in unknown)
        known = _opcount.known_ops()
        raise UnknownOpError(
            f"{where}: unknown operator(s) {show(', '.join(names), 300)}; pass --on-unknown roofline to estimate "
            f"them from bytes and MACs; known operators: {', '.join(known)}",
            op_types=names,
            known=known,
        )

def check_tensor_names(nodes, graph, initializer_names, where) -> dict[str, int]:
    producers: dict[str, int] = {}
    graph_inputs = {vi.name for vi in graph.input} | initializer_names
    for index, node in enumerate(nodes):
        for out in node.output:
            if not out:
                continue
            if out in producers:
                raise ModelError(f"{where}: tensor {show(out)} is produced by two nodes "
                                 f"({show(nodes[producers[out]].name or nodes[producers[out]].op_type)} and "
                                 f"{show(node.name or node.op_type)}); tensor names must be unique")
            if out in graph_inputs:
                raise ModelError(f"{where}: tensor {show(out)} is both a graph input/initializer and the output of "
                                 f"node {show(node.name or node.op_type)}; tensor names must be unique")
            producers[out] = index
    for node in nodes:
        for tensor in node.input:
            if tensor and tensor not in producers and tensor not in graph_inputs:
                raise ModelError(f"{where}: node {show(node.name or node.op_type)} reads tensor {show(tensor)}, which no node, "
                                 "input or initializer provides (a dangling reference)")
    for vi in graph.output:
        if vi.name not in producers and vi.name not in graph_inputs:
            raise ModelError(f"{where}: graph output {show(vi.name)} is not produced by any node")
    return producers

def check_elements(where: str, tensor: str, dims: tuple) -> None:
    if any(d < 0 for d in dims):
        raise ModelError(f"{where}: tensor {show(tensor)} has a negative dimension {dims}")
    count = _opcount.prod(dims)
    if count > MAX_TENSOR_ELEMENTS:
        raise LimitError(f"{where}: tensor {show(tensor)} with shape {dims} has {count:.3e} elements, more than the "
                         f"limit of {MAX_TENSOR_ELEMENTS:.3e}; check the model's dimensions")
