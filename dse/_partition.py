"""Where a network can be split between the device and a server, and what crosses the cut.

A cut at position ``k`` runs the first ``k`` layers of the graph's topological
(execution) order on the device and the rest on the server; ``k = 0`` sends
the input. The tensors crossing it are those produced before ``k`` (graph
inputs included) and needed at or after ``k`` (graph outputs included: the
server side needs the result). Candidate cuts are those crossed by at most
``max_tensors`` tensors. A tensor that alone separates inputs from outputs
makes a cut in every topological order (each other node is its ancestor or
its descendant), so single-tensor cuts do not depend on the order chosen.

A cut must not split a fused kernel of either side's runtime: positions inside
a fused chain (a convolution and its activation) are skipped.

The cut tensor is quantized to ``b`` bits and compressed (seed 003):
``bytes = ceil(elements * b / 8) * ratio``. The ratio is measured when a
sample input is given (:func:`measured_compression`: run the model with
onnxruntime, quantize the real activation with seed 003's formula, zlib it),
else the spec's assumed ratio, which the output states.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from math import prod

import numpy as np

from .._errors import InputError
from .._messages import show

__all__ = ["CutPoints", "cut_points", "quantize_activation", "measured_compression"]


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class CutPoints:
    """Candidate cuts of one graph, aligned arrays; ``position[i]`` layers run on the device."""

    position: np.ndarray
    after: tuple[str, ...]             # last device layer ("input" for position 0)
    tensors: tuple[tuple[str, ...], ...]
    elements: np.ndarray               # elements crossing the cut

    @property
    def size(self) -> int:
        return int(self.position.size)


def _span_bounds(mapped, index: dict) -> tuple[np.ndarray, np.ndarray]:
    lo = np.array([min(index[n] for n in layer.nodes if n in index) for layer in mapped.layers], dtype=int)
    hi = np.array([max(index[n] for n in layer.nodes if n in index) for layer in mapped.layers], dtype=int)
    return lo, hi


def layer_spans(graph, mapped) -> tuple[np.ndarray, np.ndarray]:
    """First and last topological position of the model layers inside each executed layer."""
    index = {layer.name: i for i, layer in enumerate(graph.layers)}
    return _span_bounds(mapped, index)


def cut_points(graph, mapped_sides, *, max_tensors: int = 1) -> CutPoints:
    """Candidate cuts of ``graph`` that split no fused kernel of any mapping in ``mapped_sides``.

    Parameters
    ----------
    graph : Graph
    mapped_sides : sequence of MappedGraph
        The device's and the server's mapped graphs of ``graph``.
    max_tensors : int
        Most tensors a cut may cross.

    Returns
    -------
    CutPoints
        Positions ``0 <= k < len(graph.layers)`` in increasing order.
    """
    n = len(graph.layers)
    producer = {name: -1 for name, _ in graph.inputs}
    shape = dict(graph.inputs)
    last_use = {}
    for i, layer in enumerate(graph.layers):
        for tensor in layer.inputs:
            last_use[tensor] = i
        for tensor, out_shape in zip(layer.outputs, layer.output_shapes):
            producer[tensor] = i
            shape[tensor] = out_shape
    for name, _ in graph.outputs:
        last_use[name] = n
    # tensor t crosses cut k (first k layers on the device) iff producer(t) < k <= last_use(t)
    tensors = [t for t in producer if t in last_use and producer[t] < last_use[t]]
    elements = {t: prod(shape.get(t, ())) for t in tensors}
    count = np.zeros(n + 2, dtype=np.int64)
    elems = np.zeros(n + 2, dtype=np.float64)
    for t in tensors:
        a, b = producer[t] + 1, last_use[t] + 1
        count[a] += 1
        count[b] -= 1
        elems[a] += elements[t]
        elems[b] -= elements[t]
    crossing = np.cumsum(count)[: n + 1]
    volume = np.cumsum(elems)[: n + 1]
    valid = np.zeros(n + 1, dtype=bool)
    valid[:n] = (crossing[:n] >= 1) & (crossing[:n] <= max_tensors)
    index = {layer.name: i for i, layer in enumerate(graph.layers)}
    for mapped in mapped_sides:
        if not mapped.layers:
            continue
        lo, hi = _span_bounds(mapped, index)
        inside = np.zeros(n + 2, dtype=np.int64)
        np.add.at(inside, lo + 1, 1)          # k in (lo, hi] splits the kernel
        np.add.at(inside, hi + 1, -1)
        valid[:n] &= np.cumsum(inside)[:n] == 0
    positions = np.flatnonzero(valid[:n])
    names, cut_tensors = [], []
    for k in positions:
        names.append(graph.layers[k - 1].name if k > 0 else "input")
        cut_tensors.append(tuple(t for t in tensors if producer[t] < k <= last_use[t]))
    return CutPoints(position=positions, after=tuple(names), tensors=tuple(cut_tensors),
                     elements=volume[positions].astype(float))


def quantize_activation(values: np.ndarray, bits: int) -> np.ndarray:
    """Quantize an activation to ``bits`` bits with seed 003's formula.

    ``d = floor((f - S) / (M - S) * 2^(b-1))`` with ``S = (M + m) / 2``, where
    ``M`` and ``m`` are the maximum and minimum of ``f``; codes are stored in
    the smallest unsigned integer type that holds ``b`` bits.
    """
    if not 1 <= bits <= 32:
        raise InputError(f"bits must be 1..32, got {bits}")
    f = np.asarray(values, dtype=np.float64).ravel()
    high, low = float(f.max(initial=0.0)), float(f.min(initial=0.0))
    middle = (high + low) / 2
    if high == middle:
        codes = np.zeros(f.size, dtype=np.int64)
    else:
        codes = np.floor((f - middle) / (high - middle) * 2 ** (bits - 1)).astype(np.int64)
    codes = np.clip(codes + 2 ** (bits - 1), 0, 2 ** bits - 1)
    dtype = np.uint8 if bits <= 8 else (np.uint16 if bits <= 16 else np.uint32)
    if bits < 8:
        return np.packbits(np.unpackbits(codes.astype(np.uint8)[:, None], axis=1)[:, 8 - bits:].ravel())
    return codes.astype(dtype)


def measured_compression(activations: dict, cuts: CutPoints, bits: tuple[int, ...]) -> np.ndarray:
    """Compressed / raw size of each cut's quantized activations, measured with zlib (seed 003's zip).

    Parameters
    ----------
    activations : dict of str to numpy.ndarray
        Real values of every cut tensor on a sample input.
    cuts : CutPoints
    bits : tuple of int

    Returns
    -------
    numpy.ndarray
        Shape ``(cuts.size, len(bits))``; ratios in (0, 1] (never above 1: a
        sender keeps the raw bytes when compression does not help).
    """
    ratios = np.ones((cuts.size, len(bits)))
    for i, names in enumerate(cuts.tensors):
        for j, b in enumerate(bits):
            raw = compressed = 0
            for name in names:
                if name not in activations:
                    raise InputError(f"no sample activation for cut tensor {show(name)}")
                packed = quantize_activation(activations[name], b).tobytes()
                raw += len(packed)
                compressed += len(zlib.compress(packed, 9))
            ratios[i, j] = min(1.0, compressed / raw) if raw else 1.0
    return ratios
