"""Throughput against batch: inferences per second at batch 1 and at the batch that saturates the board.

A run of ``B`` inferences reads the weights once, launches each kernel once and pays the per-run
overhead once, while activations and arithmetic grow with ``B``; with an operating model the GPU
also reaches a larger share of its peak as a layer's outputs over the batch fill its lanes
(``_engine.occupancy``). So throughput ``B / latency(B)`` rises with ``B`` towards a ceiling. The
batch that saturates the board is the smallest power of two whose throughput is within
:data:`SATURATION` of the best over :data:`BATCHES` whose activations and weights fit the board's
memory.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._units import BITS_PER_ELEMENT
from ._engine import evaluate_parts, network_totals, reference_costs
from ._mapping import MappedGraph
from ._protocols import PlatformProfile

__all__ = ["Throughput", "throughput_curve", "batch_fits", "SATURATION", "BATCHES"]

#: Share of the best throughput that counts as saturated.
SATURATION = 0.95
#: Batches tried.
BATCHES = (1, 2, 4, 8, 16, 32, 64, 128, 256)


@dataclass(frozen=True, slots=True, kw_only=True)
class Throughput:
    """Inferences per second at batch 1 and at the saturating batch (and the batches tried, with theirs)."""

    batch_1_per_s: float | None
    saturating_batch: int
    saturated_per_s: float | None
    batches: tuple[int, ...]
    per_s: tuple[float | None, ...]

    def to_dict(self) -> dict:
        return {"batch_1_per_s": self.batch_1_per_s, "saturating_batch": self.saturating_batch,
                "saturated_per_s": self.saturated_per_s, "saturation": SATURATION,
                "by_batch": {str(b): t for b, t in zip(self.batches, self.per_s)}}


def batch_fits(mapped: MappedGraph, profile: PlatformProfile, precision: str, batch: int) -> bool:
    """Whether the weights and the largest layer's activations at ``batch`` fit the board's memory (if known)."""
    memory = getattr(profile, "memory_bytes", None)
    if memory is None or not mapped.layers:
        return True
    size = BITS_PER_ELEMENT[precision] / 8.0
    activations = float(np.max(mapped.elements - mapped.weight_elems)) * size * batch
    return activations + float(mapped.weight_elems.sum()) * size <= memory


def throughput_curve(mapped: MappedGraph, profile: PlatformProfile, precision: str, freq_mhz,
                     batches: tuple[int, ...] = BATCHES) -> Throughput:
    """Throughput at each batch of ``batches`` that fits the memory, at the clocks ``freq_mhz``.

    The graph's own batch is taken as 1 run of ``graph_batch`` inferences; ``batches`` count inferences.
    """
    tried, rates = [], []
    for batch in batches:
        if batch > 1 and not batch_fits(mapped, profile, precision, batch):
            break
        costs = reference_costs(mapped, profile, precision, batch=batch)
        layers = evaluate_parts(costs, profile, freq_mhz)
        latency, _ = network_totals(costs, float(layers.parts.latency_ms.sum()) + layers.run_ms, 0.0)
        tried.append(batch)
        rates.append(batch * 1000.0 / latency if latency > 0 else None)
    known = [r for r in rates if r is not None]
    best = max(known) if known else None
    saturating = next((b for b, r in zip(tried, rates) if r is not None and r >= SATURATION * best), tried[0]) \
        if best is not None else tried[0]
    return Throughput(batch_1_per_s=rates[0], saturating_batch=saturating,
                      saturated_per_s=rates[tried.index(saturating)], batches=tuple(tried), per_s=tuple(rates))
