"""``zoo:`` references: the one place that reads them.

A reference names a zoo network (``zoo:resnet18``, ``zoo:mobilenet_v2@0.75``), a member of a
NAS search space (``zoo:nb201:|...|``, ``zoo:fbnet:...``) or a single layer
(``zoo:layer:conv,cin=16,cout=32,hw=28``). Other packages ask this module whether a text is a
reference (:func:`is_reference`), which network it names (:func:`reference_name`), and for the
model itself: architecture only for estimation (:func:`model_for_estimation`), or with seeded
random weights, serialized, for a runtime to run (:func:`runnable_model`).
"""

from __future__ import annotations

import onnx

from .._args import typed
from .._atomic import write_atomic
from .._errors import InputError, ModelError
from .._messages import show
from .._progress import silent, step
from ._build import build_model, split_width
from ._registry import ENTRIES

__all__ = ["PREFIX", "is_reference", "as_reference", "reference_name", "model_for_estimation", "runnable_model",
           "export_model"]

PREFIX = "zoo:"


def is_reference(text) -> bool:
    """Whether ``text`` is a ``zoo:`` reference (rather than a file path or a loaded graph).

    >>> is_reference("zoo:resnet18"), is_reference("model.onnx")
    (True, False)
    """
    return isinstance(text, str) and text.startswith(PREFIX)


def as_reference(name: str) -> str:
    """The reference of a zoo network or space member by name (``resnet18`` -> ``zoo:resnet18``).

    >>> as_reference("mobilenet_v2@0.5")
    'zoo:mobilenet_v2@0.5'
    """
    return name if is_reference(name) else PREFIX + name


def reference_name(reference: str) -> str:
    """The text after ``zoo:`` (``NAME``, ``NAME@WIDTH`` or ``SPACE:ARCH``); a text without it is returned as is.

    >>> reference_name("zoo:nb201:|none~0|+|none~0|none~1|+|none~0|none~1|none~2|")
    'nb201:|none~0|+|none~0|none~1|+|none~0|none~1|none~2|'
    """
    return reference.removeprefix(PREFIX)


@typed
def model_for_estimation(reference: str, *,
                         input_shapes: dict[str, tuple[int, ...]] | None = None) -> onnx.ModelProto:
    """The architecture of ``zoo:...`` (no weight data: initializers carry only dims).

    ``input_shapes={"input": (N, C, H, W)}`` changes batch and resolution of a zoo network.

    Raises
    ------
    ModelError
        For a reference the zoo does not have.
    InputError
        For input shapes the network does not take.
    """
    name = reference_name(reference)
    if ":" in name:               # SPACE:ARCH: a search space member has one size
        return build_model(name)
    input_size, batch = None, 1
    base = split_width(name)[0]
    for key, shape in (input_shapes or {}).items():
        expected = len(ENTRIES[base].input_shape) + 1 if base in ENTRIES else 4
        if key != "input" or len(shape) != expected:
            raise InputError(f"zoo network {show(name)} takes one input named 'input' with {expected} dimensions "
                             f"(batch first); got {key}={'x'.join(map(str, shape))}")
        batch, input_size = shape[0], tuple(shape[2:]) if expected > 2 else tuple(shape[1:])
    return build_model(name, input_size=input_size, batch=batch)


def runnable_model(reference: str, *, input_size: tuple[int, ...] | None = None, seed: int = 0) -> bytes:
    """``zoo:...`` with seeded random weights, serialized: what a runner loads to measure it.

    Raises
    ------
    ModelError
        For a text that is not a zoo reference, or a reference the zoo does not have.
    """
    if not is_reference(reference):
        raise ModelError(f"{show(reference)} is not a zoo reference (zoo:NAME)")
    return build_model(reference_name(reference), weights=True, input_size=input_size, seed=seed).SerializeToString()


def export_model(reference: str, path, *, input_size: tuple[int, ...] | None = None, batch: int = 1, seed: int = 0,
                 num_classes: int | None = None, width: float | None = None, progress=silent) -> None:
    """Write a zoo network (``NAME``, ``SPACE:ARCH``, with or without ``zoo:``) with seeded random weights, atomically.

    ``progress`` (``edgeperf._progress``) gets two steps: the network built with its weights, then
    written (VGG-16's 138 M weights take seconds for each).
    """
    name = reference_name(reference)
    label = f"exporting {name}"
    step(progress, 0, 2, label)
    if ":" in name:
        model = build_model(name, weights=True, batch=batch, seed=seed)
    else:
        model = build_model(name, weights=True, input_size=input_size, batch=batch, seed=seed,
                            num_classes=num_classes, width=width)
    step(progress, 1, 2, label)
    write_atomic(path, lambda tmp: onnx.save(model, tmp))
    step(progress, 2, 2, label)
