"""Reference networks built as ONNX in code (architecture only; weights seeded random or absent).

``zoo:NAME`` references resolve here. Building for estimation creates no weight
data at all (initializers carry only dims); ``weights=True`` creates seeded
random weights so that onnxruntime can run the model.

>>> from edgeperf.zoo import build_graph
>>> build_graph("resnet18").name
'resnet18'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import onnx

from .._errors import InputError, ModelError
from ._builder import IR_VERSION, OPSET, NetBuilder
from ._mobilenet import mobilenet_v2
from ._resnet import resnet

__all__ = ["ZooEntry", "ENTRIES", "list_entries", "build_model", "build_graph", "NetBuilder", "IR_VERSION", "OPSET"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ZooEntry:
    """One network of the zoo.

    Attributes
    ----------
    name : str
        Reference name (torchvision's where one exists).
    task : str
        ``classification``, ``detection``, ...
    input_chw : tuple of int
        Default input (channels, height, width), the paper's.
    build : callable(NetBuilder) -> list of output tensor names
    """

    name: str
    task: str
    input_chw: tuple[int, int, int]
    build: Callable[[NetBuilder], list[str]]


def _entries() -> dict[str, ZooEntry]:
    entries = [
        ZooEntry(name=f"resnet{d}", task="classification", input_chw=(3, 224, 224),
                 build=lambda b, d=d: resnet(d, b)) for d in (18, 34, 50, 101, 152)
    ]
    entries.append(ZooEntry(name="mobilenet_v2", task="classification", input_chw=(3, 224, 224),
                            build=lambda b: mobilenet_v2(b)))
    return {e.name: e for e in entries}


ENTRIES: dict[str, ZooEntry] = _entries()


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
    c, h, w = entry.input_chw
    if input_size is not None:
        h, w = input_size
    if batch <= 0 or h <= 0 or w <= 0:
        raise InputError(f"batch and input size must be positive, got batch {batch} and {h}x{w}")
    builder = NetBuilder(name, (batch, c, h, w), weights=weights, seed=seed)
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
