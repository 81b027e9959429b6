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

from .._args import typed
from .._errors import InputError, ModelError
from .._messages import show
from onnx import TensorProto

from ._builder import IR_VERSION, OPSET, NetBuilder
from ._catalog import Accuracy, Catalog, load_catalog
from ._layers import LAYER_KINDS, build_layer, layer_input_shape, layer_reference, parse_layer
from ._nas import FBNET_CHOICES, NB201_OPS, SPACES, random_nb201
from ._registry import ENTRIES, ZooEntry

__all__ = ["Accuracy", "Catalog", "load_catalog", "ZooEntry", "ENTRIES", "SPACES", "NB201_OPS", "FBNET_CHOICES", "random_nb201", "LAYER_KINDS", "parse_layer",
           "layer_reference", "list_entries", "list_spaces", "build_model",
           "build_space_model", "build_graph", "summary", "export_model", "NetBuilder", "IR_VERSION", "OPSET"]


def list_entries() -> tuple[str, ...]:
    """Names of the zoo's networks, sorted."""
    return tuple(sorted(ENTRIES))


def split_width(name: str) -> tuple[str, float | None]:
    """``mobilenet_v2@0.75`` -> (``mobilenet_v2``, 0.75); a name without ``@`` has no width.

    Raises
    ------
    ModelError
        If the width is not a positive number.
    """
    base, sep, width = name.partition("@")
    if not sep:
        return name, None
    try:
        value = float(width)
    except ValueError:
        value = -1.0
    if not 0 < value <= 4:
        raise ModelError(f"width multiplier in {show(name)} must be a number in (0, 4], e.g. {base}@0.75")
    return base, value


def build_model(name: str, *, weights: bool = False, input_size: tuple[int, ...] | None = None, batch: int = 1,
                seed: int = 0, num_classes: int | None = None, width: float | None = None) -> onnx.ModelProto:
    """Build a zoo network as an ONNX ModelProto.

    Raises
    ------
    ModelError
        For a name the zoo does not have.
    InputError
        For a non-positive batch or input size.
    """
    space, sep, arch = name.partition(":")
    if sep:                        # SPACE:ARCH, e.g. layer:conv,cin=16,cout=32,hw=28 or nb201:|...|
        return build_space_model(space, arch, weights=weights, batch=batch, seed=seed)
    name, suffix_width = split_width(name)
    width = width if width is not None else suffix_width
    if name not in ENTRIES:
        raise ModelError(f"zoo has no network {show(name)}; available: {', '.join(list_entries())}")
    entry = ENTRIES[name]
    if width is not None and not entry.widthable:
        widthable = [n for n, e in ENTRIES.items() if e.widthable]
        raise ModelError(f"zoo network {show(name)} has no width multiplier; networks with one: {', '.join(widthable)}")
    shape = list(entry.input_shape)
    if input_size is not None:
        if not entry.resizable:
            raise InputError(f"zoo network {show(name)} has a fixed input {'x'.join(map(str, shape))}")
        shape[-len(input_size):] = input_size
    if batch <= 0 or any(d <= 0 for d in shape):
        raise InputError(f"batch and input size must be positive, got batch {batch} and {'x'.join(map(str, shape))}")
    builder = NetBuilder(name, (batch, *shape), weights=weights, seed=seed)
    options = {} if num_classes is None else {"num_classes": num_classes}
    if width is not None:
        options["width"] = width
    outputs = entry.build(builder, **options)
    return builder.build(outputs, TensorProto.INT64 if entry.input_dtype == "int64" else TensorProto.FLOAT)


def summary(name: str, catalog: Catalog | None = None) -> dict:
    """Name, task, default input, parameters, MACs and fp32 accuracy of a zoo network.

    >>> summary("resnet18")["params"]
    11689512
    """
    from ..estimator import graph_from_model

    entry = ENTRIES.get(name)
    if entry is None:
        raise ModelError(f"zoo has no network {show(name)}; available: {', '.join(list_entries())}")
    graph = graph_from_model(build_model(name), name=name, _owned=True)
    accuracy = (catalog or load_catalog()).accuracy(name)
    return {"name": name, "task": entry.task, "input": "x".join(str(d) for d in entry.input_shape),
            "params": graph.params, "macs": graph.macs,
            "accuracy": accuracy.to_dict() if accuracy is not None else None, "note": entry.note}


def export_model(reference: str, path, *, input_size: tuple[int, ...] | None = None, batch: int = 1, seed: int = 0,
                 num_classes: int | None = None, width: float | None = None) -> None:
    """Write a zoo network (or ``SPACE:ARCH`` member) with seeded random weights to ``path``, atomically."""
    from .._atomic import write_atomic

    space, sep, arch = reference.partition(":")
    if sep:
        model = build_space_model(space, arch, weights=True, batch=batch, seed=seed)
    else:
        model = build_model(reference, weights=True, input_size=input_size, batch=batch, seed=seed,
                            num_classes=num_classes, width=width)
    write_atomic(path, lambda tmp: onnx.save(model, tmp))


def list_spaces() -> tuple[str, ...]:
    """Names of the NAS search spaces (``zoo:SPACE:ARCH``)."""
    return tuple(sorted(SPACES))


def build_space_model(space: str, arch: str, *, weights: bool = False, batch: int = 1, seed: int = 0) -> onnx.ModelProto:
    """Build one member of a NAS search space as an ONNX ModelProto.

    Raises
    ------
    ModelError
        For an unknown space or an invalid architecture string.
    """
    if space == "fbnet-block":
        from ._nas import fbnet_block

        builder, outputs = fbnet_block(lambda shape: NetBuilder(f"fbnet-block", (batch, *shape), weights=weights,
                                                                seed=seed), arch)
        return builder.build(outputs)
    if space == "layer":
        kind, params = parse_layer(arch)
        builder = NetBuilder(f"layer-{kind}", (batch, *layer_input_shape(kind, params)), weights=weights, seed=seed)
        return builder.build(build_layer(builder, kind, params))
    if space not in SPACES:
        raise ModelError(f"zoo has no search space {show(space)}; spaces: {', '.join(list_spaces())}, layer, fbnet-block")
    build, shape = SPACES[space]
    builder = NetBuilder(f"{space}", (batch, *shape), weights=weights, seed=seed)
    return builder.build(build(builder, arch))


@typed
def build_graph(reference: str, *, input_shapes: dict[str, tuple[int, ...]] | None = None):
    """Build the :class:`~edgeperf.estimator.Graph` of ``NAME`` (the text after ``zoo:``).

    ``input_shapes={"input": (N, C, H, W)}`` changes batch and resolution.
    """
    from ..estimator import graph_from_model

    space, sep, arch = reference.partition(":")
    if sep:
        model = build_space_model(space, arch)
        return graph_from_model(model, name=f"{space}:{arch}", source=f"zoo:{reference}", _owned=True)
    input_size, batch = None, 1
    base = split_width(reference)[0]
    for key, shape in (input_shapes or {}).items():
        expected = len(ENTRIES[base].input_shape) + 1 if base in ENTRIES else 4
        if key != "input" or len(shape) != expected:
            raise InputError(f"zoo network {show(reference)} takes one input named 'input' with {expected} dimensions "
                             f"(batch first); got {key}={'x'.join(map(str, shape))}")
        batch, input_size = shape[0], tuple(shape[2:]) if expected > 2 else tuple(shape[1:])
    model = build_model(reference, input_size=input_size, batch=batch)
    return graph_from_model(model, name=reference, source=f"zoo:{reference}", _owned=True)
