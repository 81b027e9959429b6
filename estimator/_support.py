"""Where each executed layer runs when the target's runtime cannot map all of it: the placement.

A profile may state what its runtime maps (``runtime_support``: operator type -> precisions the
runtime runs it at on the device, with the document it comes from). Every executed layer is
checked against it, operator by operator for a fused layer:

* an operator the runtime runs, but not at the layer's precision, runs on the device at the first
  precision the runtime lists for it that the device has (TensorRT has no int8 MatMul: fp16);
* an operator the runtime does not map *falls back*: to the host CPU (``fallback: host``: the
  Edge TPU compiler, OpenVINO's HETERO plugin) or to another precision on the device
  (``fallback: device``: onnxruntime hands TensorRT's unsupported nodes to its CUDA provider);
* with ``partition: once`` (the Edge TPU compiler partitions a model once) the first layer that
  falls back takes every layer after it along; with ``per-op`` each falls back alone.

Host layers are costed by the host's own profile, and what crosses between device and host
(the activations a host layer reads from the device, and those it returns) by the link's
bandwidth. This module decides the placement; ``_engine`` costs it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._mapping import MappedGraph

__all__ = ["Placement", "place_layers"]


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Placement:
    """Per executed layer: on the host or not, the precision it runs at on the device, and why it moved.

    ``transfer_elems`` are the activation elements each host layer moves over the link (in from
    the device, and back where a device layer follows). ``reason`` is None for a layer that runs
    as asked.
    """

    host: np.ndarray                     # bool per layer
    precision: tuple[str, ...]           # the precision each layer runs at (on its device)
    reason: tuple[str | None, ...]
    transfer_elems: np.ndarray           # per layer, elements sent over the device-host link

    @property
    def moved(self) -> bool:
        return any(reason is not None for reason in self.reason)


def _ops(op_type: str) -> list[str]:
    """The operator types inside an executed layer (``Conv+BatchNormalization+Relu``)."""
    return [op for op in op_type.split("+") if op]


def _device_precision(op: str, wanted: str, support, device_precisions) -> str | None:
    """The precision ``op`` runs at on the device: ``wanted`` if the runtime runs it so, else the first
    precision listed for it that the device has; None when the runtime does not map ``op`` at all."""
    listed = support.ops.get(op)
    if listed is None:
        return None
    if wanted in listed:
        return wanted
    return next((p for p in listed if p in device_precisions), None)


def place_layers(mapped: MappedGraph, support, device_precisions, precision: str) -> Placement:
    """The placement of every executed layer of ``mapped`` under ``support`` at deployment ``precision``.

    Parameters
    ----------
    mapped : MappedGraph
    support : object
        The profile's ``runtime_support`` (``ops``, ``partition``, ``fallback``, ``fallback_precision``).
    device_precisions : collection of str
        Precisions the device runs (the profile's).
    precision : str
        The deployment precision; layers the model fixes to int8 ask for int8 where the device has it.
    """
    n = len(mapped.layers)
    host = np.zeros(n, dtype=bool)
    precisions, reasons = [], []
    spilled = False                       # partition "once": everything from the first host layer on
    for i, layer in enumerate(mapped.layers):
        wanted = "int8" if layer.precision == "int8" and "int8" in device_precisions else precision
        chosen, reason = wanted, None
        if "unknown-op" in layer.flags and not spilled:   # estimated by roofline and flagged: not checked either
            precisions.append(chosen)
            reasons.append(None)
            continue
        if spilled:
            host[i], reason = True, "after the first operator the compiler cannot map (it partitions once)"
        for op in _ops(layer.op_type):
            if host[i]:
                break
            runs = _device_precision(op, chosen, support, device_precisions)
            if runs is None and support.fallback == "host":
                host[i], reason = True, f"{op} is not mapped by the runtime: runs on the host CPU"
                spilled = support.partition == "once"
            elif runs is None:
                outside = support.fallback_precision
                if outside in device_precisions:
                    chosen, reason = outside, f"{op} is not mapped by the runtime: runs at {outside} outside it"
                else:     # a profile fitted at one precision only: the outside kernels are costed at it
                    reason = (f"{op} is not mapped by the runtime: runs outside it at {outside}, costed at "
                              f"{chosen} (the profile has no {outside} model)")
            elif runs != chosen:
                chosen, reason = runs, f"the runtime has no {chosen} {op}: runs at {runs}"
        precisions.append(chosen)
        reasons.append(reason)
    return Placement(host=host, precision=tuple(precisions), reason=tuple(reasons),
                     transfer_elems=_transfers(mapped, host))


def _transfers(mapped: MappedGraph, host: np.ndarray) -> np.ndarray:
    """Activation elements crossing the link at each host layer: its inputs from the device where the layer
    before it ran there, its outputs back where the layer after it runs on the device (the layer order is
    topological, so this counts each switch between device and host once; a host layer reading a tensor
    made several layers earlier on the device is not counted)."""
    moved = np.zeros(len(mapped.layers))
    for i, layer in enumerate(mapped.layers):
        if not host[i]:
            continue
        if i > 0 and not host[i - 1]:            # the model's input starts on the host
            moved[i] += layer.act_in_elems
        if i + 1 < len(mapped.layers) and not host[i + 1]:
            moved[i] += layer.act_out_elems
    return moved
