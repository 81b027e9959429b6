"""DVFS grid evaluation speed: operating points per second for one network (target: thousands per second).

Run:  OMP_NUM_THREADS=1 python benchmarks/dvfs_speed.py

A Jetson Nano profile variant whose CPU and memory clocks also draw power (so the grid spans
GPU x CPU x EMC: 12 x 15 x 10 = 1,800 points; the EMC steps are 10 evenly spaced clocks up to the
Nano's 1600 MHz, for timing only) is evaluated for MobileNet v2 and ResNet-50, 7 repetitions each.
"""

from __future__ import annotations

import copy
import json
import statistics
import time

import edgeperf
from edgeperf.operating import explore_dvfs
from edgeperf.profiles import parse_profile


def variant():
    document = copy.deepcopy(edgeperf.load_profile("jetson-nano").to_document())
    document["clocks"]["domains"]["emc"]["available_mhz"] = {"value": [160.0 * i for i in range(1, 11)],
                                                             "source": "notes-dvfs"}
    document["power"]["domain_mw"] = {"cpu": {"value": 500.0, "source": "seed001"},
                                      "emc": {"value": 300.0, "source": "seed001"}}
    return parse_profile(json.loads(json.dumps(document)), where="nano-grid (benchmark only)")


def main() -> None:
    profile = variant()
    for network in ("zoo:mobilenet_v2", "zoo:resnet50"):
        mapped = edgeperf.map_graph(edgeperf.load_model(network), profile.mapping)
        times = []
        for _ in range(7):
            start = time.perf_counter()
            report = explore_dvfs(mapped, profile, precision="fp16")
            times.append(time.perf_counter() - start)
        median = statistics.median(times)
        print(f"{network} ({len(mapped.layers)} executed layers): {len(report.points)} points in {1e3 * median:.1f} ms "
              f"median ({len(report.points) / median:,.0f} points/s; min {1e3 * min(times):.1f}, max "
              f"{1e3 * max(times):.1f} ms), energy optimum {dict(report.energy_optimal.freq_mhz)}, "
              f"{report.energy_saving_vs_max_pct:.1f}% below max clocks")


if __name__ == "__main__":
    main()
