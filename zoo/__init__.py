"""Reference networks built as ONNX in code (architecture only; weights seeded random or absent).

``zoo:NAME`` references resolve here. Building for estimation creates no weight
data at all (initializers carry only dims); ``weights=True`` creates seeded
random weights so that onnxruntime can run the model.

>>> from edgeperf.zoo import build_graph
>>> build_graph("resnet18").name
'resnet18'
"""

from __future__ import annotations

import onnx

from .._errors import InputError, ModelError
from ._builder import IR_VERSION, OPSET, NetBuilder
from ._registry import ENTRIES, ZooEntry

__all__ = ["ZooEntry", "ENTRIES", "list_entries", "build_model", "build_graph", "NetBuilder", "IR_VERSION", "OPSET"]


def list_entries() -> tuple[str, ...]:
    """Names of the zoo's networks, sorted."""
    return tuple(sorted(ENTRIES))


def build_model(name: str, *, weights: bool = False, input_size: tuple[int, int] | None = None, batch: int = 1,
                seed: int = 0) -> onnx.ModelProto:
    """Build a zoo network as an ONNX ModelProto.

    Raises
    ------
    ModelError
        For a name the zoo does not have.
    InputError
        For a non-positive batch or input size.
    """
    if name not in ENTRIES:
        raise ModelError(f"zoo has no network {name!r}; available: {', '.join(list_entries())}")
    entry = ENTRIES[name]
    shape = list(entry.input_shape)
    if input_size is not None:
        if not entry.resizable:
            raise InputError(f"zoo network {name!r} has a fixed input {'x'.join(map(str, shape))}")
        shape[-len(input_size):] = input_size
    if batch <= 0 or any(d <= 0 for d in shape):
        raise InputError(f"batch and input size must be positive, got batch {batch} and {'x'.join(map(str, shape))}")
    builder = NetBuilder(name, (batch, *shape), weights=weights, seed=seed)
    outputs = entry.build(builder)
    return builder.build(outputs)


def build_graph(reference: str, *, input_shapes: dict | None = None):
    """Build the :class:`~edgeperf.estimator.Graph` of ``NAME`` (the text after ``zoo:``).

    ``input_shapes={"input": (N, C, H, W)}`` changes batch and resolution.
    """
    from ..estimator import graph_from_model

    input_size, batch = None, 1
    for key, shape in (input_shapes or {}).items():
        if key != "input" or len(shape) != 4:
            raise InputError(f"zoo networks take one input named 'input' of shape NxCxHxW; got {key}={shape}")
        batch, input_size = shape[0], (shape[2], shape[3])
    model = build_model(reference, input_size=input_size, batch=batch)
    return graph_from_model(model, name=reference, source=f"zoo:{reference}")
