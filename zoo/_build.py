"""Building zoo networks and NAS-space members as ONNX ``ModelProto`` values (architecture only).

Building for estimation creates no weight data at all (initializers carry only dims);
``weights=True`` creates seeded random weights so that onnxruntime can run the model.
"""

from __future__ import annotations

import onnx
from onnx import TensorProto

from .._errors import InputError, ModelError
from .._messages import show
from ._builder import NetBuilder
from ._layers import build_layer, layer_input_shape, parse_layer
from ._nas import SPACES
from ._registry import ENTRIES

__all__ = ["list_entries", "list_spaces", "split_width", "build_model", "build_space_model"]


def list_entries() -> tuple[str, ...]:
    """Names of the zoo's networks, sorted."""
    return tuple(sorted(ENTRIES))


def list_spaces() -> tuple[str, ...]:
    """Names of the NAS search spaces (``zoo:SPACE:ARCH``)."""
    return tuple(sorted(SPACES))


def split_width(name: str) -> tuple[str, float | None]:
    """``mobilenet_v2@0.75`` -> (``mobilenet_v2``, 0.75); a name without ``@`` has no width.

    >>> split_width("mobilenet_v2@0.75")
    ('mobilenet_v2', 0.75)

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
    """Build a zoo network (``NAME``, ``NAME@WIDTH`` or ``SPACE:ARCH``) as an ONNX ModelProto.

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


def build_space_model(space: str, arch: str, *, weights: bool = False, batch: int = 1, seed: int = 0) -> onnx.ModelProto:
    """Build one member of a NAS search space (or one ``layer``) as an ONNX ModelProto.

    Raises
    ------
    ModelError
        For an unknown space or an invalid architecture string.
    """
    if space == "fbnet-block":
        from ._nas import fbnet_block

        builder, outputs = fbnet_block(lambda shape: NetBuilder("fbnet-block", (batch, *shape), weights=weights,
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
