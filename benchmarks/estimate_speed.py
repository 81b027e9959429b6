"""Speed and memory of estimation (issue: estimate per-layer latency and energy).

Prints, with medians over interleaved repetitions (this machine's speed drifts
by up to 30 % between minutes, so compared figures are measured side by side):

1. in-process estimate of a parsed ResNet-50 graph (map + estimate), target <= 5 ms;
2. CLI wall time on a ~100 MB ONNX file (ResNet-50 with weights), target <= 1.5 s,
   next to the CLI on a 0.5 MB file to show the fixed start-up cost;
3. peak resident memory of that CLI run, target <= 1.5x the file size.

Run: ``python benchmarks/estimate_speed.py [--repeats N]``.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import onnx

import edgeperf
from edgeperf.estimator import estimate_mapped, load_model, map_graph, resolve_operating_point
from edgeperf.zoo import build_model

ROOT = Path(__file__).resolve().parent.parent


def in_process(repeats: int) -> dict:
    graph = load_model("zoo:resnet50")
    profile = edgeperf.load_profile("jetson-nano")
    point = resolve_operating_point(profile)
    full, mapping_only, estimate_only = [], [], []
    mapped = map_graph(graph, profile.mapping)
    for _ in range(repeats):
        start = time.perf_counter()
        mapped = map_graph(graph, profile.mapping)
        middle = time.perf_counter()
        estimate_mapped(mapped, profile, precision="fp16", point=point)
        end = time.perf_counter()
        mapping_only.append(middle - start)
        estimate_only.append(end - middle)
        start = time.perf_counter()
        edgeperf.estimate(graph, profile)
        full.append(time.perf_counter() - start)
    return {"layers": len(graph.layers), "executed": len(mapped.layers),
            "map_ms": 1e3 * statistics.median(mapping_only), "estimate_ms": 1e3 * statistics.median(estimate_only),
            "api_ms": 1e3 * statistics.median(full)}


def cli_run(model: Path) -> tuple[float, float]:
    """Wall time (s) and peak RSS (MiB) of one CLI process."""
    code = (
        "import sys, time\n"
        "t = time.perf_counter()\n"
        "from edgeperf.cli import main\n"
        f"rc = main(['estimate', {str(model)!r}, '-p', 'jetson-nano', '-f', 'json', '-o', os.devnull])\n"
        "dt = time.perf_counter() - t\n"
        # VmHWM belongs to this address space; ru_maxrss would carry the parent's peak across exec
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1]\n"
        "print(dt, int(hwm) / 1024, rc)\n"
    )
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", "import os\n" + code], capture_output=True, text=True, check=True)
    wall = time.perf_counter() - start
    _, rss, rc = out.stdout.split()
    assert rc == "0", out.stderr
    return wall, float(rss)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()

    result = in_process(max(args.repeats * 10, 50))
    print(f"in-process, ResNet-50 ({result['layers']} layers -> {result['executed']} executed, jetson-nano):")
    print(f"  map_graph {result['map_ms']:.2f} ms, estimate_mapped {result['estimate_ms']:.2f} ms, "
          f"edgeperf.estimate(graph) {result['api_ms']:.2f} ms (median; target <= 5 ms)")

    with tempfile.TemporaryDirectory() as folder:
        big = Path(folder) / "resnet50_weights.onnx"
        onnx.save(build_model("resnet50", weights=True, seed=0), big)
        size_mib = big.stat().st_size / 2**20
        small = ROOT / "examples" / "conv3dense1.onnx"
        walls_big, walls_small, rss_big, rss_small = [], [], [], []
        for _ in range(args.repeats):
            wall, rss = cli_run(big)
            walls_big.append(wall)
            rss_big.append(rss)
            wall, rss = cli_run(small)
            walls_small.append(wall)
            rss_small.append(rss)
    print(f"CLI wall time, `edgeperf estimate FILE -p jetson-nano -f json` ({args.repeats} interleaved runs):")
    print(f"  {size_mib:.1f} MiB ResNet-50 with weights: median {statistics.median(walls_big):.3f} s "
          f"(min {min(walls_big):.3f}, max {max(walls_big):.3f}; target <= 1.5 s)")
    print(f"  0.5 MiB example model:               median {statistics.median(walls_small):.3f} s "
          f"(start-up cost; ratio {statistics.median(walls_big) / statistics.median(walls_small):.2f})")
    peak = max(rss_big)
    print(f"peak RSS: {peak:.0f} MiB on the {size_mib:.1f} MiB file = {peak / size_mib:.2f}x the file size "
          f"(target <= 1.5x); {max(rss_small):.0f} MiB on the 0.5 MiB file (interpreter and libraries)")


if __name__ == "__main__":
    main()
