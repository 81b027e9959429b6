"""DVFS grid evaluation speed: a CPU x GPU x memory sweep of a 200-layer network (target: under 50 ms).

Run:  OMP_NUM_THREADS=1 python benchmarks/dvfs_speed.py

The Jetson Nano profile (with its operating model: voltage tables, CPU-side work) with the EMC given
10 evenly spaced clocks up to its 1600 MHz, for timing only, so the grid spans GPU x CPU x EMC =
12 x 15 x 10 = 1,800 points. Networks: MobileNet v2, ResNet-50 and DenseNet-121 (188 executed layers
after TensorRT fusion and concatenation elision), and DenseNet-121 unmapped (every operator a layer of
its own: the 200-layer case and more), 7 repetitions each, interleaved; medians printed.
"""

from __future__ import annotations

import copy
import json
import statistics
import time

import edgeperf
from edgeperf.estimator import NO_FUSION
from edgeperf.operating import explore_dvfs
from edgeperf.profiles import parse_profile

NETWORKS = ("zoo:mobilenet_v2", "zoo:resnet50", "zoo:densenet121")
UNFUSED = "zoo:densenet121 (no fusion)"


def variant():
    document = copy.deepcopy(edgeperf.load_profile("jetson-nano").to_document())
    document["clocks"]["domains"]["emc"]["available_mhz"] = {"value": [160.0 * i for i in range(1, 11)],
                                                             "source": "notes-dvfs"}
    return parse_profile(json.loads(json.dumps(document)), where="nano-grid (benchmark only)")


def main() -> None:
    profile = variant()
    mapped = {n: edgeperf.map_graph(edgeperf.load_model(n), profile.mapping) for n in NETWORKS}
    mapped[UNFUSED] = edgeperf.map_graph(edgeperf.load_model(NETWORKS[-1]), NO_FUSION)
    times: dict = {n: [] for n in mapped}
    reports = {}
    for _ in range(7):
        for network in mapped:                        # interleaved: the machine's load drifts
            start = time.perf_counter()
            reports[network] = explore_dvfs(mapped[network], profile, precision="fp16")
            times[network].append(time.perf_counter() - start)
    for network in mapped:
        report, median = reports[network], statistics.median(times[network])
        print(f"{network} ({len(mapped[network].layers)} executed layers): {len(report.points)} points "
              f"({', '.join(report.points[0].freq_mhz)}) in {1e3 * median:.1f} ms median ({len(report.points) / median:,.0f} "
              f"points/s; min {1e3 * min(times[network]):.1f}, max {1e3 * max(times[network]):.1f} ms), energy optimum "
              f"{dict(report.energy_optimal.freq_mhz)}, {report.energy_saving_vs_max_pct:.1f}% below max clocks")


if __name__ == "__main__":
    main()
