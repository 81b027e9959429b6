"""Accelerators that keep parameters on chip: what does not fit streams from the host every inference.

The Edge TPU has about 8 MB of SRAM for a model's parameters. Its compiler caches parameters there
in execution order; what does not fit is "off-chip memory" and is fetched over the host link (USB or
PCIe) on every inference (Coral documentation, "Edge TPU compiler": parameter data caching). So a
network's latency grows by ``streamed bytes / link bandwidth``: VGG-19's 143 MB of int8 weights take
300+ ms on a USB Accelerator while Inception v1 (7 MB) runs in 3-4 ms.

The streamed time is charged to the layers whose weights stream, as part of their fixed
(clock-independent) overhead: the host link does not speed up with the accelerator's clock.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["ParameterMemory", "streamed_weight_bytes", "stream_ms"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ParameterMemory:
    """On-chip parameter memory and the host link that feeds what does not fit."""

    on_chip_bytes: float
    stream_gbps: float

    def __post_init__(self) -> None:
        if not self.on_chip_bytes >= 0 or not self.stream_gbps > 0:
            raise ValueError(f"parameter_memory needs on_chip_bytes >= 0 and stream_gbps > 0, got "
                             f"{self.on_chip_bytes!r} and {self.stream_gbps!r}")


def streamed_weight_bytes(weight_bytes: np.ndarray, on_chip_bytes: float) -> np.ndarray:
    """Bytes of each layer's weights that stream from the host (layers in execution order).

    Layers are cached whole, in order, until the next one does not fit; that layer and every later
    one stream.

    >>> streamed_weight_bytes(np.array([3e6, 4e6, 2e6, 1e6]), 8e6).tolist()
    [0.0, 0.0, 2000000.0, 1000000.0]
    """
    weight_bytes = np.asarray(weight_bytes, dtype=float)
    cumulative = np.cumsum(weight_bytes)
    fits = cumulative <= on_chip_bytes
    if not fits.all():
        fits[np.argmin(fits):] = False   # caching stops at the first layer that does not fit
    return np.where(fits, 0.0, weight_bytes)


def stream_ms(weight_bytes: np.ndarray, memory: ParameterMemory | None) -> np.ndarray:
    """Per layer, the ms spent fetching its streamed weights over the host link (zeros without a limit)."""
    weight_bytes = np.asarray(weight_bytes, dtype=float)
    if memory is None or weight_bytes.size == 0:
        return np.zeros(weight_bytes.size)
    return streamed_weight_bytes(weight_bytes, memory.on_chip_bytes) / (memory.stream_gbps * 1e6)
