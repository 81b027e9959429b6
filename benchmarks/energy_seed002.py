"""Seed 002 reproduced: energy-optimal CPU x GPU clocks against the default governor on the Jetson Nano and Xavier NX.

Run:  OMP_NUM_THREADS=1 python benchmarks/energy_seed002.py

Six networks at seed 002's batches (tests/_seed002.py: the experiment as edgeperf runs it, with what it
assumes), each swept over the ``-pytorch`` profiles' CPU x GPU grid. Printed per sweep: the modelled
governor's energy per inference (maximum clocks, seed 002 l.73-78), the optimum and its clocks, the
saving, whether energy against the GPU clock has an interior minimum; then the targets of issue 14
(Nano 5-25 %, NX 2-20 %, NX/Nano 0.25-0.5) beside seed 002's own figures; where the energy per
inference goes at each board's optimum (``energy_parts``: one column per term of the operating model,
each term's NX/Nano ratio, the middle batch of each network) and the time per sweep.
"""

from __future__ import annotations

import statistics
import time

import numpy as np

from edgeperf.tests._seed002 import BOARDS, NETWORKS, parts_at, sweep

SEED_NANO = (9, 13, 15, 17, 17, 19)      # seed 002 l.134, order of networks not stated
SEED_NX = (2, 13, 15)                    # seed 002 l.144


def main() -> None:
    results, seconds = {}, []
    for board in BOARDS:
        print(f"== {board}")
        print(f"{'network':13s} {'B':>3s} {'gov mJ':>8s} {'opt mJ':>8s} {'saving':>7s} {'GPU/CPU MHz at optimum':>23s} "
              f"{'interior':>8s}")
        for network, (_, batches, _) in NETWORKS.items():
            for batch in batches:
                start = time.perf_counter()
                s = results[(board, network, batch)] = sweep(board, network, batch)
                seconds.append(time.perf_counter() - start)
                g, c = s.optimum
                print(f"{network:13s} {batch:3d} {s.governor_mj:8.2f} {s.optimum_mj:8.2f} {s.saving_pct:6.1f}% "
                      f"{s.gpu_mhz[g]:11.1f}/{s.cpu_mhz[c]:7.1f}      {'yes' if s.interior_gpu_minimum else 'NO':>8s}")
    print("\n== Targets (issue 14) and seed 002")
    for board, (low, high), seed in (("jetson-nano-pytorch", (5, 25), SEED_NANO), ("jetson-xavier-nx-pytorch", (2, 20), SEED_NX)):
        saving = [s.saving_pct for k, s in results.items() if k[0] == board]
        interior = sum(s.interior_gpu_minimum for k, s in results.items() if k[0] == board)
        ok = all(low <= v <= high for v in saving)
        print(f"  [{'PASS' if ok else 'MISS'}] {board}: saving {min(saving):.1f}-{max(saving):.1f} %, median "
              f"{statistics.median(saving):.1f} % (target {low}-{high} %; seed 002: {', '.join(map(str, seed))} %); "
              f"interior GPU minimum in {interior}/{len(saving)}")
        per_net = {n: statistics.median(results[(board, n, b)].saving_pct for b in NETWORKS[n][1]) for n in NETWORKS}
        print("       per network: " + ", ".join(f"{n} {v:.1f} %" for n, v in per_net.items()))
    ratio = {(n, b): results[(BOARDS[1], n, b)].optimum_mj / results[(BOARDS[0], n, b)].optimum_mj
             for n, (_, batches, _) in NETWORKS.items() for b in batches}
    median = statistics.median(ratio.values())
    print(f"  [{'PASS' if 0.25 <= median <= 0.5 else 'MISS'}] NX/Nano energy per inference at the optima: median "
          f"{median:.2f}, range {min(ratio.values()):.2f}-{max(ratio.values()):.2f} (target 0.25-0.5; seed 002: '2x-4x "
          "less'; the NX's busy power is fitted to its centre, so the median is not independent)")
    per_net = {n: statistics.median(ratio[(n, b)] for b in NETWORKS[n][1]) for n in NETWORKS}
    print("       per network: " + ", ".join(f"{n} {v:.2f}" for n, v in per_net.items()))
    print_parts(results)
    for board in BOARDS:
        rise = [s.energy_mj[s.optimum[0], 0] / s.optimum_mj for k, s in results.items() if k[0] == board]
        print(f"  {board}: energy at the lowest CPU clock / at the optimum (GPU at its optimum), median "
              f"{statistics.median(rise):.2f} (seed 002 l.146: the CPU's non-monotonic effect more prominent on the NX)")
    yolo = [3200 * results[("jetson-nano-pytorch", "YOLOv4-tiny", b)].optimum_mj / 1000 for b in NETWORKS["YOLOv4-tiny"][1]]
    print(f"  Nano YOLOv4-tiny, 3200 inputs at the optimum: {min(yolo):.0f}-{max(yolo):.0f} J over the batches "
          "(seed 002 l.129: minimum 916.7 J; not fitted)")
    print(f"  {len(seconds)} sweeps, median {1e3 * statistics.median(seconds):.1f} ms each "
          f"(network load and mapping included); grid sizes {np.unique([results[k].energy_mj.size for k in results])}")


#: columns of the energy breakdown: title, and the EnergyParts fields it adds up
_COLUMNS = (("latency", ("gpu_busy_ms", "cpu_wait_ms", "overhead_ms")), ("CPU wait", ("cpu_wait_ms",)),
            ("floor", ("floor_mj",)), ("EMC", ("emc_mj",)), ("leakage", ("gpu_leak_mj", "cpu_leak_mj")),
            ("CPU core", ("cpu_core_mj",)), ("GPU dyn", ("gpu_compute_mj", "gpu_waiting_mj")), ("DRAM", ("dram_mj",)),
            ("total", ("total_mj",)))


def print_parts(results: dict) -> None:
    """Per inference at each board's optimum (middle batch): ms, then mJ by the operating model's terms, and NX/Nano."""
    print("\n== Where the energy per inference goes at each board's optimum (ms, then mJ; middle batch)")
    print(f"  {'network':13s} {'':5s}" + "".join(f"{title:>9s}" for title, _ in _COLUMNS))
    for network, (_, batches, _) in NETWORKS.items():
        batch = batches[len(batches) // 2]
        rows = []
        for board in BOARDS:
            s = results[(board, network, batch)]
            g, c = s.optimum
            parts = parts_at(board, network, batch, float(s.gpu_mhz[g]), float(s.cpu_mhz[c]))
            rows.append([sum(getattr(parts, name) for name in names) for _, names in _COLUMNS])
        for label, row in zip(("Nano", "NX"), rows):
            print(f"  {network if label == 'Nano' else '':13s} {label:5s}" + "".join(f"{v:9.2f}" for v in row))
        print(f"  {'':13s} {'NX/N':5s}" + "".join(f"{b / a:9.2f}" if a else f"{'-':>9s}" for a, b in zip(*rows)))


if __name__ == "__main__":
    main()
