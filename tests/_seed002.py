"""Seed 002's experiment, as edgeperf runs it: six networks at their batches on the Jetson Nano and Xavier NX.

Seed 002 (Dutt et al., slides; ../shared/seeds/002_*.txt) ran AlexNet, ResNet-18, MobileNet v2,
YOLOv4-tiny, BERT-tiny and DistilBERT in PyTorch (fp32, CUDA cores; YOLOv4-tiny in OpenCV) at
batches 4-64 (lines 43-48), sweeping the CPU and GPU clocks (lines 30-37), and compared the
energy-optimal clocks with the default governors, which hold the highest clocks 83-89 % of the
time (lines 73-78). Here each network is swept over the ``-pytorch`` profiles' CPU x GPU grid.

What the seed does not give, and is chosen here (listed in docs/accuracy.md):

* YOLOv4-tiny is not in the zoo: ``yolov3_tiny`` stands in (5.6 against 6.9 GFLOPs at 416x416).
* BERT-tiny and DistilBERT at the zoo's sequence length 128.
* CPU pre/post-processing per inference (``HOST_MS``), ASSUMED: 0.3 ms for a 224x224 image (copy in,
  result out: the operating model's default), 3 ms for YOLO (OpenCV non-maximum suppression of a
  416x416 detection), 2 ms for a 512-word string (tokenising 1.1 kB of text in Python).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgeperf import load_model, load_profile, map_graph
from edgeperf.estimator import EnergyParts, energy_parts, evaluate_points, reference_costs
from edgeperf.operating import frequency_grid

BOARDS = ("jetson-nano-pytorch", "jetson-xavier-nx-pytorch")
#: name -> (zoo model, seed 002's batches, assumed CPU pre/post-processing ms per inference at the top CPU clock)
NETWORKS = {
    "AlexNet": ("alexnet", (4, 8, 16, 32, 64), None),
    "ResNet-18": ("resnet18", (4, 8, 16, 32, 64), None),
    "MobileNet v2": ("mobilenet_v2", (4, 8, 12), None),
    "YOLOv4-tiny": ("yolov3_tiny", (4, 8, 16, 32, 64), 3.0),
    "BERT-tiny": ("bert_tiny", (4, 8, 16, 32, 64), 2.0),
    "DistilBERT": ("distilbert", (4, 8, 16), 2.0),
}


@dataclass(frozen=True)
class Sweep:
    """Energy per inference (mJ) and latency per run (ms) over the CPU x GPU grid of one network, batch and board."""

    gpu_mhz: np.ndarray          # (gpu steps,)
    cpu_mhz: np.ndarray          # (cpu steps,)
    energy_mj: np.ndarray        # (gpu steps, cpu steps), per inference
    latency_ms: np.ndarray       # (gpu steps, cpu steps), per run

    @property
    def governor_mj(self) -> float:
        return float(self.energy_mj[-1, -1])

    @property
    def optimum(self) -> tuple[int, int]:
        return tuple(int(i) for i in np.unravel_index(np.argmin(self.energy_mj), self.energy_mj.shape))

    @property
    def optimum_mj(self) -> float:
        return float(self.energy_mj.min())

    @property
    def saving_pct(self) -> float:
        return 100.0 * (1.0 - self.optimum_mj / self.governor_mj)

    @property
    def interior_gpu_minimum(self) -> bool:
        """Energy against the GPU clock, at the optimal CPU clock, is lowest strictly inside the range."""
        line = self.energy_mj[:, self.optimum[1]]
        return 0 < int(np.argmin(line)) < line.size - 1


def _costs(board: str, network: str, batch: int):
    profile = load_profile(board)
    zoo, _, host_ms = NETWORKS[network]
    mapped = map_graph(load_model(f"zoo:{zoo}"), profile.mapping)
    return profile, reference_costs(mapped, profile, "fp32", batch=batch, host_ms_per_item=host_ms)


def sweep(board: str, network: str, batch: int) -> Sweep:
    profile, costs = _costs(board, network, batch)
    grid = frequency_grid(profile)
    gpu, cpu = np.unique(grid["gpu"]), np.unique(grid["cpu"])
    latency, energy = evaluate_points(costs, profile, grid)
    order = np.lexsort((grid["cpu"], grid["gpu"]))            # gpu-major, then cpu
    shape = (gpu.size, cpu.size)
    return Sweep(gpu_mhz=gpu, cpu_mhz=cpu, energy_mj=(energy[order] / batch).reshape(shape),
                 latency_ms=latency[order].reshape(shape))


def parts_at(board: str, network: str, batch: int, gpu_mhz: float, cpu_mhz: float) -> EnergyParts:
    """Time and energy per inference by the engine's terms (``energy_parts``) at one CPU x GPU point."""
    profile, costs = _costs(board, network, batch)
    return energy_parts(costs, profile, {"gpu": gpu_mhz, "cpu": cpu_mhz}).per_item(batch)


def all_sweeps() -> dict:
    """``(board, network, batch) -> Sweep`` over both boards, the six networks and their batches."""
    return {(board, network, batch): sweep(board, network, batch)
            for board in BOARDS for network, (_, batches, _) in NETWORKS.items() for batch in batches}
