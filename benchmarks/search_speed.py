"""Design-space search speed: exhaustive designs per second, and a 2,000-trial optuna study with 4 workers.

Run:  OMP_NUM_THREADS=1 python benchmarks/search_speed.py [--trials 2000 --workers 4]

Prints the figures; targets: exhaustive evaluation >= 10,000 designs/s on one core for a ~50-layer network;
a 2,000-trial study with 4 workers on a journal file completes with every trial stored once.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import edgeperf
from edgeperf.dse import DesignSpace, parse_spec, search

SPEC = {
    "name": "bench",
    "models": ["zoo:mobilenet_v2"],
    "platforms": ["jetson-nano", "jetson-tx2", "jetson-xavier-nx", "raspberry-pi-4"],
    "operating_points": "grid",
    "objectives": ["min latency_ms", "min energy_mj"],
    "constraints": {"latency_ms": {"max": 50}},
    "partition": {"server": "jetson-xavier-nx", "links": ["wifi", "lte", "ble", "lora-sf7"], "bits": [8, 6, 4, 2],
                  "compression_ratio": 0.5, "max_cut_tensors": 2},
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    spec = parse_spec(SPEC)
    graph = edgeperf.load_model("zoo:mobilenet_v2")
    mapped = edgeperf.map_graph(graph, edgeperf.load_profile("jetson-nano").mapping)
    print(f"network: mobilenet_v2, {len(graph.layers)} model layers, {len(mapped.layers)} executed layers on the Nano")
    rates, sizes = [], []
    for _ in range(args.repeats):
        start = time.perf_counter()
        space = DesignSpace(spec)          # model loading, mapping and cut finding included
        built = time.perf_counter()
        table = space.table()
        evaluated = time.perf_counter()
        from edgeperf.dse._result import build_result

        result = build_result(space, table, engine="exhaustive")
        done = time.perf_counter()
        sizes.append(result.n_evaluated)
        rates.append(result.n_evaluated / (done - start))
        print(f"  {result.n_evaluated} designs: setup {built - start:.3f} s, evaluate {evaluated - built:.3f} s, "
              f"constraints+Pareto {done - evaluated:.3f} s -> {result.n_evaluated / (done - start):,.0f} designs/s "
              f"end to end, {result.n_evaluated / (evaluated - built):,.0f} designs/s evaluation only; "
              f"{result.n_feasible} feasible, front {len(result.pareto)}")
    print(f"exhaustive: median {statistics.median(rates):,.0f} designs/s end to end over {args.repeats} runs "
          f"(min {min(rates):,.0f}, max {max(rates):,.0f})")

    with tempfile.TemporaryDirectory() as folder:
        journal = Path(folder) / "bench.journal"
        start = time.perf_counter()
        result = search(spec, trials=args.trials, workers=args.workers, storage=f"journal:{journal}",
                        study_name="bench", seed=0)
        elapsed = time.perf_counter() - start
        print(f"optuna ({result.engine}): {result.n_evaluated} trials with {args.workers} workers on a journal file in "
              f"{elapsed:.1f} s ({result.n_evaluated / elapsed:.1f} trials/s); {result.n_feasible} feasible, "
              f"front {len(result.pareto)}; journal {journal.stat().st_size / 1e6:.1f} MB")
        for note in result.notes:
            print(f"  note: {note}")


if __name__ == "__main__":
    main()
