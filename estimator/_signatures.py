"""Per-signature residuals: a fitted additive correction for every executed layer of one exact signature.

A per-class layer model costs all layers of a class by one formula of their work. Where a device's
time for one particular kernel differs from that formula by more than the formula's spread (a
lookup-table entry timed once, a shape the runtime picks a worse kernel for), the error repeats
in every network that has the kernel. A profile may carry a table of such corrections, fitted
from whole networks (``edgeperf.fitting._signature_fit``): a residual in ms per *signature*, the
description of an executed layer that fixes its cost (:func:`layer_signature`).

Every consumer applies it the same way: the residual joins the layer's overhead part (the part no
clock scales, like weights streamed past a parameter memory), in ``_engine._class_parts``, so that
estimates, DVFS grids, thermal runs, searches and the network term all see the corrected layer.
A layer whose signature is not in the table gets no correction. A negative residual is clipped so
that no layer's latency at the profile's reference clocks goes below zero.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

__all__ = ["SignatureResiduals", "layer_signature", "layer_signatures", "signature_residual_ms"]

#: The largest residual (ms, either sign) a table may hold: the schema's bound on a latency.
_MAX_RESIDUAL_MS = 1e5


def layer_signature(layer) -> str:
    """The exact signature of an executed layer (``_mapping.ExecLayer``): what fixes its cost, not its name.

    Operator class and type, the fusion rule that formed the kernel, the precision the model fixes
    (if any), the output shape, the element counts read (activations, weights) and written, the
    multiply-adds and all arithmetic operations (fused additions and activations count), and the layer's geometry (channels in and out, kernel area, groups where they
    apply). Stride and input size follow from these (activations read against the output's size
    and kernel). Two layers at different places of a network with all of these equal share a
    signature; any difference in shape or attributes that changes the work separates them.

    >>> from types import SimpleNamespace
    >>> layer = SimpleNamespace(op_class="conv", op_type="Conv", rule="conv_bn_relu", precision=None,
    ...                         output_shape=(1, 16, 8, 8), act_in_elems=4096, weight_elems=2304, act_out_elems=1024,
    ...                         macs=147456, flops=296960, geometry=(("c_in", 16), ("c_out", 16), ("k_area", 9), ("groups", 1)))
    >>> layer_signature(layer)
    'conv Conv conv_bn_relu out 1x16x8x8 in 4096 w 2304 wr 1024 macs 147456 flops 296960 c_in 16 c_out 16 k_area 9 groups 1'
    """
    shape = "x".join(str(int(d)) for d in layer.output_shape)
    geometry = " ".join(f"{name} {int(value)}" for name, value in layer.geometry)
    fixed = f" {layer.precision}" if layer.precision else ""
    return (f"{layer.op_class} {layer.op_type} {layer.rule}{fixed} out {shape} in {int(layer.act_in_elems)} "
            f"w {int(layer.weight_elems)} wr {int(layer.act_out_elems)} macs {int(layer.macs)} flops {int(layer.flops)}"
            + (f" {geometry}" if geometry else ""))


def layer_signatures(mapped) -> list[str]:
    """:func:`layer_signature` of every executed layer of a mapped graph, in its order."""
    return [layer_signature(layer) for layer in mapped.layers]


@dataclass(frozen=True, slots=True, kw_only=True)
class SignatureResiduals:
    """A fitted table: signature -> residual (ms, at reference clocks), and the ridge strength it was fitted with.

    ``strength`` is the shrinkage toward zero that cross-validation chose (dimensionless, in units
    of the squared relative error; ``edgeperf.fitting._signature_fit``).
    """

    residual_ms: MappingProxyType
    strength: float

    def __post_init__(self):
        table = dict(self.residual_ms)
        for key, value in table.items():
            if not isinstance(key, str) or not key.strip():
                raise ValueError(f"signature_residuals: a signature must be a non-empty string, got {key!r}")
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                    or abs(value) > _MAX_RESIDUAL_MS:
                raise ValueError(f"signature_residuals[{key!r}] must be a finite number of ms within "
                                 f"+-{_MAX_RESIDUAL_MS:g}, got {value!r}")
        if isinstance(self.strength, bool) or not isinstance(self.strength, (int, float)) \
                or not math.isfinite(self.strength) or self.strength <= 0:
            raise ValueError(f"signature_residuals.strength must be a positive finite number, got {self.strength!r}")
        object.__setattr__(self, "residual_ms", MappingProxyType({k: float(v) for k, v in table.items()}))

    def describe(self) -> str:
        """One phrase for reports."""
        values = list(self.residual_ms.values())
        spread = f", {min(values):+.3g} to {max(values):+.3g} ms" if values else ""
        return f"{len(values)} per-signature residuals (ridge strength {self.strength:g}{spread})"


def signature_residual_ms(mapped, residuals: SignatureResiduals | None) -> np.ndarray:
    """Each executed layer's residual (ms) from ``residuals``; 0 for a signature not in the table, or without one."""
    out = np.zeros(len(mapped.layers))
    if residuals is None or not residuals.residual_ms:
        return out
    table = residuals.residual_ms
    for i, signature in enumerate(layer_signatures(mapped)):
        out[i] = table.get(signature, 0.0)
    return out
