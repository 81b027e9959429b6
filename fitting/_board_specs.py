"""Which shipped profiles are fitted to the published table, which are derived, and from what.

A fitted board names its chip (``unit``: boards with the same chip share its efficiencies and
per-layer overhead; host, harness and link are per board) and its runtime (the mapping it gets from
``data/runtimes.json``). A derived board has no whole-network measurement here: it takes the
coefficients of the nearest fitted board (``source``), its own datasheet peaks, bandwidth and
runtime mapping, and host-side overheads scaled by the CPU clock ratio where the host differs.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BoardSpec", "DerivedSpec", "FITTED", "DERIVED", "BLOCK_TABLES", "HOST_LINKS", "EDGETPU_ON_CHIP_BYTES"]

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
    """A profile fitted to the published table, or (``blocks``) a block table fitted with a chip's profile.

    A block table is measured on the chip of ``unit`` under another runtime setup: it informs that
    chip's shared coefficients, has a harness overhead and a ``runtime_factor`` of its own, is never
    held out and ships no profile; ``base`` names the shipped profile whose datasheet facts it uses,
    ``column`` the latency column of ``../shared/external/hwnasbench_fbnet_block_lut.csv`` and
    ``precision`` the precision it ran at.
    """

    profile: str
    unit: str
    runtime: str
    link: str | None = None       # key of HOST_LINKS for accelerators that stream parameters
    blocks: bool = False
    base: str | None = None
    column: str = ""
    precision: str = ""
    about: str = ""

    @property
    def base_profile(self) -> str:
        """The shipped profile whose datasheet facts the fit uses."""
        return self.base or self.profile


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

#: HW-NAS-Bench's measured FBNet blocks (ImageNet and CIFAR macro-architectures, maps 4x4 to 224x224) on two
#: chips of the published table. The TX2's runtime is in HW-NAS-Bench's repository (GATECH-EIC/HW-NAS-Bench,
#: dev/proj_edgegpu/EdgeGPU_Benchmark.py): torch2trt (``torch2trt(network, [inputs])``: TensorRT at fp32, its
#: default), 50 calls each followed by torch.cuda.synchronize, clocks not stated. The Pi 4's runtime is not
#: stated in the repository files read here; the HW-NAS-Bench paper describes a TFLite conversion for it (as
#: recalled, not re-read here), threads and clocks not stated. Each table therefore gets the published
#: runtime's mapping and a runtime factor and harness overhead of its own.
BLOCK_TABLES: tuple[BoardSpec, ...] = (
    BoardSpec(profile="hwnasbench-raspi4", unit="raspberry-pi-4-tflite", runtime="tflite", blocks=True,
              base="raspberry-pi-4", column="raspi4_latency", precision="fp32",
              about="HW-NAS-Bench FBNet blocks on the Raspberry Pi 4 (TFLite fp32 by the paper; threads and clocks not "
                    "stated)"),
    BoardSpec(profile="hwnasbench-edgegpu", unit="jetson-tx2", runtime="tensorrt", blocks=True,
              base="jetson-tx2", column="edgegpu_latency", precision="fp32",
              about="HW-NAS-Bench FBNet blocks on the Jetson TX2 (TensorRT fp32 via torch2trt, clocks not stated)"),
)
