"""What a runtime does to a graph besides chain fusion: folding, copy elision, pointwise subgraphs, Winograd.

Each behaviour is profile data (``mapping`` in the profile JSON, docs/profile-format.md) and each is
applied only when a profile asks for it, so profiles without these keys map exactly as before.

``fold``
    Operator types the runtime folds into its neighbours' kernels, so that they execute nothing and
    fusion sees through them: QuantizeLinear/DequantizeLinear of a QDQ graph on a runtime with int8
    kernels (TensorRT, TFLite, OpenVINO, ncnn and onnxruntime run ``DQ -> op -> Q`` as one int8
    kernel). A folded layer must have one activation input and one output; its consumers read its
    input instead.
``copy_elision``
    Copies the runtime never makes. ``when: identity``: a listed operator whose output has the shape
    of its only activation input copies nothing (a Pad that pads nothing, a Slice that takes all,
    a one-input Concat) and is bypassed like a folded one. ``when: always``: the runtime writes the
    producers straight into the output buffer (TensorRT's and OpenVINO's concatenation): the layer
    is elided; consumers read the same tensor.
``subgraph`` (per fusion rule)
    The rule's followers may form a pointwise subgraph rather than a chain: a consumer of any tensor
    inside the fused group joins when all its other inputs are ready before the group starts, and
    the group is kept at its largest size with at most one tensor leaving it (none where the last
    output only feeds a concatenation the runtime writes in place). SiLU (``x * sigmoid(x)``, a
    diamond after the convolution) and an opset-13 HardSwish (``x * HardSigmoid(x)``) fuse this way.
``winograd``
    Dense convolutions with the given kernel and stride (and at least ``min_channels`` in and out)
    run as Winograd transforms, which execute ``work_scale`` of the direct method's multiply-adds
    (F(2x2, 3x3): 16/36 = 0.44 before the transforms' own cost), on output maps padded to whole
    ``tile x tile`` tiles (a 7x7 map in 6x6 tiles computes 12x12). ``choice: faster`` (TensorRT,
    which times its kernels and keeps the fastest): where that would exceed the direct method's work,
    the runtime runs the direct method (scale 1). ``choice: always`` (ncnn, whose rule is the layer's
    shape): Winograd even where the padded tiles cost more. The executed layer keeps the model's MACs
    and FLOPs for reports; only its compute time uses the scale.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ._ir import Layer

__all__ = ["CopyElision", "Winograd", "WINOGRAD_CHOICES", "rewrite_layers", "grow_subgraph", "winograd_padding", "winograd_scale"]

_COPY_WHEN = ("identity", "always")
#: How a runtime picks Winograd for an eligible convolution: by cost (TensorRT times its tactics and keeps the
#: fastest) or by a fixed rule on the layer's shape (ncnn: every 3x3 stride-1 convolution with enough channels).
WINOGRAD_CHOICES = ("faster", "always")


@dataclass(frozen=True, slots=True, kw_only=True)
class CopyElision:
    """Copies of these operator types that the runtime does not make (``when``: identity or always)."""

    op_types: tuple[str, ...]
    when: str
    source: str = ""

    def __post_init__(self) -> None:
        if self.when not in _COPY_WHEN:
            raise ValueError(f"copy_elision.when must be one of {_COPY_WHEN}, got {self.when!r}")
        if not self.op_types:
            raise ValueError("copy_elision.op_types must list at least one operator type")


@dataclass(frozen=True, slots=True, kw_only=True)
class Winograd:
    """Convolutions the runtime computes with Winograd transforms, and the work they execute.

    ``work_scale`` is a fitted number: the profile cites its source by its address
    (``mapping.winograd.work_scale``), like every other number of a profile.
    """

    kernel: int = 3
    stride: int = 1
    min_channels: int = 1
    work_scale: float = 1.0
    tile: int = 1          # output tile edge m of F(m x m, 3 x 3): maps are padded up to whole tiles
    choice: str = "faster"  # "faster": the direct method where padded tiles cost more; "always": the runtime's fixed rule

    def __post_init__(self) -> None:
        if not 0.0 < self.work_scale <= 1.0:
            raise ValueError(f"winograd.work_scale must be in (0, 1], got {self.work_scale!r}")
        if self.kernel < 2 or self.stride < 1 or self.min_channels < 1 or self.tile < 1:
            raise ValueError(f"winograd needs kernel >= 2, stride >= 1, min_channels >= 1, got "
                             f"{self.kernel}, {self.stride}, {self.min_channels}")
        if self.choice not in WINOGRAD_CHOICES:
            raise ValueError(f"winograd.choice must be one of {WINOGRAD_CHOICES}, got {self.choice!r}")


def _bypassable(layer: Layer) -> bool:
    return len(layer.inputs) == 1 and len(layer.outputs) == 1


def rewrite_layers(layers: tuple[Layer, ...], fold: tuple[str, ...], copies: tuple[CopyElision, ...],
                   graph_outputs: set) -> tuple[list[Layer], list[str], set]:
    """The layers a runtime keeps, with consumers of bypassed layers reading the bypassed layer's input.

    Returns
    -------
    kept : list of Layer
        In the original order, inputs renamed through bypassed layers.
    elided : list of str
        Names of the layers that execute nothing (folded, identity copies, always-elided copies).
    outputs : set of str
        Graph outputs, renamed the same way (a bypassed layer's input becomes the output).
    """
    identity = {op for rule in copies if rule.when == "identity" for op in rule.op_types}
    always = {op for rule in copies if rule.when == "always" for op in rule.op_types}
    alias: dict[str, str] = {}
    kept: list[Layer] = []
    elided: list[str] = []

    def resolve(tensor: str) -> str:
        while tensor in alias:
            tensor = alias[tensor]
        return tensor

    for layer in layers:
        inputs = tuple(resolve(t) for t in layer.inputs)
        if layer.op_type in fold and _bypassable(layer):
            alias[layer.outputs[0]] = inputs[0]
            elided.append(layer.name)
            continue
        if (layer.op_type in identity and _bypassable(layer) and layer.input_shapes
                and tuple(layer.input_shapes[0]) == tuple(layer.output_shapes[0])):
            alias[layer.outputs[0]] = inputs[0]
            elided.append(layer.name)
            continue
        if layer.op_type in always:
            elided.append(layer.name)
            continue
        kept.append(layer if inputs == layer.inputs else dataclasses.replace(layer, inputs=inputs))
    return kept, elided, {resolve(t) for t in graph_outputs}


def grow_subgraph(chain: list[Layer], followers: tuple[str, ...], limit: int, consumers: dict, producer: dict,
                  position: dict, owner: dict, graph_outputs: set, depends_on) -> list[Layer]:
    """Grow a fused group over a pointwise subgraph (see the module docstring); returns the members in order.

    ``depends_on(layer, chain)`` tells whether ``layer`` runs downstream of the group; a follower's inputs
    from outside the group must not.
    """
    start = min(position[member.name] for member in chain)
    group = list(chain)
    best = list(chain)
    names = {layer.name for layer in group}
    for _ in range(limit):
        candidates = []
        for member in group:
            for tensor in member.outputs:
                if tensor in graph_outputs:
                    continue
                for user in consumers.get(tensor, ()):
                    if user.name in names or user.name in owner or user.op_type not in followers:
                        continue
                    inside = {t for m in group for t in m.outputs}
                    if all(t in inside or t not in producer or position[producer[t].name] < start
                           or not depends_on(producer[t], group) for t in user.inputs):
                        candidates.append(user)
        if not candidates:
            break
        nxt = min(candidates, key=lambda layer: position[layer.name])
        group.append(nxt)
        names.add(nxt.name)
        # one tensor leaves the group, or none: a runtime that writes a concatenation's inputs in place
        # (copy elision "always") leaves the last member's output with no reader but the elided copy
        if _escaping(group, consumers, graph_outputs, names) <= 1:
            best = list(group)
    return sorted(best, key=lambda layer: position[layer.name])


def _escaping(group: list[Layer], consumers: dict, graph_outputs: set, names: set) -> int:
    """How many tensors produced inside the group are read outside it (or are graph outputs)."""
    count = 0
    for member in group:
        for tensor in member.outputs:
            if tensor in graph_outputs or any(user.name not in names for user in consumers.get(tensor, ())):
                count += 1
    return count


def winograd_padding(layer: Layer, winograd: Winograd | None) -> float:
    """How much work a Winograd kernel's whole output tiles add (>= 1), or 0 where the runtime would not use one."""
    if winograd is None or layer.op_type != "Conv":
        return 0.0
    geometry = dict(layer.geometry)
    kernel = layer.attr("kernel_shape")
    strides = layer.attr("strides") or ()
    dilations = layer.attr("dilations") or ()
    square = (kernel is not None and tuple(kernel) == (winograd.kernel, winograd.kernel)) or (
        kernel is None and geometry.get("k_area") == winograd.kernel ** 2)
    if (not square or geometry.get("groups", 1) != 1 or any(s != winograd.stride for s in strides)
            or any(d != 1 for d in dilations) or geometry.get("d_out", 1) != 1
            or min(geometry.get("c_in", 0), geometry.get("c_out", 0)) < winograd.min_channels):
        return 0.0
    if not strides and winograd.stride != 1:
        return 0.0
    tile = winograd.tile
    h, w = max(geometry.get("h_out", 1), 1), max(geometry.get("w_out", 1), 1)
    return (-(-h // tile) * tile) * (-(-w // tile) * tile) / (h * w)   # whole output tiles


def winograd_scale(layer: Layer, winograd: Winograd | None) -> float:
    """The multiply-adds the runtime executes relative to the model's: ``work_scale x tile padding``, or 1.

    With ``choice == "faster"`` the runtime runs the direct convolution where the padded tiles would
    cost more (``min(1, ...)``); with ``"always"`` it keeps Winograd even then, as its fixed rule says.
    """
    padding = winograd_padding(layer, winograd)
    if not padding:
        return 1.0
    scale = winograd.work_scale * padding
    return scale if winograd.choice == "always" else min(1.0, scale)
