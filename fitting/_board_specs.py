"""Which shipped profiles are fitted to the published table, which are derived, and from what.

A fitted board names its chip (``unit``: boards with the same chip share its efficiencies and
per-layer overhead; host, harness and link are per board) and its runtime (the mapping it gets from
``data/runtimes.json``). A derived board has no whole-network measurement here: it takes the
coefficients of the nearest fitted board (``source``), its own datasheet peaks, bandwidth and
runtime mapping, and host-side overheads scaled by the CPU clock ratio where the host differs.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BoardSpec", "DerivedSpec", "FITTED", "DERIVED", "HOST_LINKS", "EDGETPU_ON_CHIP_BYTES"]

#: Parameter memory of the Edge TPU (Coral documentation: "roughly 8 MB of SRAM" caches parameters).
EDGETPU_ON_CHIP_BYTES = 8.0e6

#: Host links that feed accelerators, GB/s at their signalling rate after line coding (datasheet facts).
HOST_LINKS = {
    "usb3": (0.625, "USB 3.0 SuperSpeed: 5 Gbit/s signalling, 8b/10b coding = 4 Gbit/s = 0.5 GB/s of data; "
                    "0.625 GB/s is the raw 5 Gbit/s (USB-IF USB 3.0 specification)"),
    "pcie2x1": (0.5, "PCI Express 2.0, one lane: 5 GT/s with 8b/10b coding = 0.5 GB/s per direction "
                     "(PCI-SIG PCIe 2.0 base specification); the Coral Dev Board's Edge TPU sits on one lane"),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class BoardSpec:
    """A profile fitted to the published table."""

    profile: str
    unit: str
    runtime: str
    link: str | None = None       # key of HOST_LINKS for accelerators that stream parameters


@dataclass(frozen=True, slots=True, kw_only=True)
class DerivedSpec:
    """A profile derived from a fitted one (no whole-network measurement of this board in ../shared)."""

    profile: str
    source: str                   # the fitted profile whose coefficients it takes
    runtime: str
    host_clock_ratio: float = 1.0  # source host CPU clock / this host's: scales per-layer and per-inference overhead
    compute_clock_ratio: float = 1.0  # this board's compute clock / the source's, where the datasheet peak does not say
    link: str | None = None
    reason: str = ""
    keep_layer_models: bool = False  # keep the base document's per-class throughput (adding only the overheads)


FITTED: tuple[BoardSpec, ...] = (
    BoardSpec(profile="jetson-nano", unit="jetson-nano", runtime="tensorrt"),
    BoardSpec(profile="jetson-tx2", unit="jetson-tx2", runtime="tensorrt"),
    BoardSpec(profile="coral-edgetpu", unit="edge-tpu", runtime="edgetpu", link="pcie2x1"),
    BoardSpec(profile="coral-usb", unit="edge-tpu", runtime="edgetpu", link="usb3"),
    BoardSpec(profile="raspberry-pi-4", unit="raspberry-pi-4-tflite", runtime="tflite"),
    BoardSpec(profile="raspberry-pi-3", unit="raspberry-pi-3-tflite", runtime="tflite"),
    BoardSpec(profile="raspberry-pi-4-ncnn", unit="raspberry-pi-4-ncnn", runtime="ncnn"),
    BoardSpec(profile="raspberry-pi-3bplus-ncnn", unit="raspberry-pi-3bplus-ncnn", runtime="ncnn"),
)

DERIVED: tuple[DerivedSpec, ...] = (
    DerivedSpec(profile="jetson-xavier-nx", source="jetson-tx2", runtime="tensorrt",
                reason="the nearest fitted board: TensorRT on an NVIDIA Tegra GPU (Volta vs the TX2's Pascal)"),
    DerivedSpec(profile="raspberry-pi-3bplus", source="raspberry-pi-3", runtime="tflite", host_clock_ratio=1.2 / 1.4,
                reason="the same Cortex-A53 cores and runtime as the fitted Pi 3 B, at 1.4 GHz instead of 1.2 GHz"),
    DerivedSpec(profile="raspberry-pi-3-ncnn", source="raspberry-pi-3bplus-ncnn", runtime="ncnn",
                host_clock_ratio=1.4 / 1.2,
                reason="the same Cortex-A53 cores and runtime as the fitted Pi 3 B+, at 1.2 GHz instead of 1.4 GHz"),
    DerivedSpec(profile="raspberry-pi-4-armnn", source="raspberry-pi-4-ncnn", runtime="armnn",
                reason="the same board; Arm NN's CPU backend (Compute Library NEON kernels, Winograd 3x3 convolutions) "
                       "is closest to ncnn's among the fitted runtimes"),
    DerivedSpec(profile="intel-ncs2", source="coral-usb", runtime="openvino", link=None, keep_layer_models=True,
                reason="a USB 3 inference stick on a host like the Coral USB Accelerator; its layer throughput is "
                       "ANNETTE's published NCS2 fit (kept), its per-layer and per-inference overheads come from the "
                       "boards fitted here"),
)
