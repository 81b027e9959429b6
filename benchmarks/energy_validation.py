"""Energy: predicted against measured, wherever ../shared holds a measurement (docs/accuracy.md, 'Energy').

Run:  OMP_NUM_THREADS=1 python benchmarks/energy_validation.py          (about a minute)

1. HW-NAS-Bench TX2 FBNet blocks (../shared/external/hwnasbench_fbnet_block_lut.csv): the 71 blocks that
   ``benchmarks/refit_public_profiles.py`` holds out (Random(0) shuffle, first third), measured block energy
   against jetson-tx2-fbnet's prediction, and two baselines on the same blocks.
2. Seed 001's average board power while executing DNNs: each board profile's predicted average power
   (energy / latency) for the networks seed 001 ran; which figures are inputs of the profile is said.
3. Seed 002's curves and minima: savings of the energy-optimal clocks and the YOLOv4-tiny minimum
   (benchmarks/energy_seed002.py prints every sweep).
4. Seed 000's sustained Coral runs: throttling of Inception v1 and v4 over 70,000 inferences (no energy
   was measured there; the predicted energy is printed for reference).
"""

from __future__ import annotations

import csv
import random
import statistics
from pathlib import Path

import numpy as np

import edgeperf
from edgeperf.tests._seed002 import BOARDS, NETWORKS, sweep

BLOCKS = Path(__file__).resolve().parents[2] / "shared" / "external" / "hwnasbench_fbnet_block_lut.csv"
#: Seed 001 l.748-749: idle and average power while executing DNNs (W).
SEED001 = {"jetson-nano": (1.25, 4.58), "jetson-tx2": (1.90, 9.65), "coral-edgetpu": (3.24, 4.14),
           "raspberry-pi-3": (1.33, 2.73)}
SEED001_NETS = ("resnet18", "resnet50", "mobilenet_v2", "inception_v4", "alexnet", "vgg16")


def mape(predicted, measured) -> float:
    predicted, measured = np.asarray(predicted, float), np.asarray(measured, float)
    return float(100 * np.mean(np.abs(predicted - measured) / measured))


def hwnas_blocks() -> None:
    rows = [r for r in csv.DictReader(open(BLOCKS)) if float(r["edgegpu_latency"] or 0) > 0]
    random.Random(0).shuffle(rows)
    test, train = rows[: len(rows) // 3], rows[len(rows) // 3:]
    profile = edgeperf.load_profile("jetson-tx2-fbnet")
    est = [edgeperf.estimate(f"zoo:fbnet-block:{r['key']}", profile) for r in test]
    energy = np.array([float(r["edgegpu_energy"]) for r in test])
    latency = np.array([float(r["edgegpu_latency"]) for r in test])
    predicted = np.array([e.total_energy_mj for e in est])
    predicted_ms = np.array([e.total_latency_ms for e in est])
    power_train = statistics.median(float(r["edgegpu_energy"]) / float(r["edgegpu_latency"]) for r in train)
    p = profile.power
    print(f"1. HW-NAS-Bench TX2 FBNet blocks, {len(test)} held out ({len(train)} trained on): energy MAPE "
          f"{mape(predicted, energy):.1f} % (target < 25 %), within 10 % {100 * np.mean(np.abs(predicted / energy - 1) <= 0.1):.0f} %, "
          f"latency MAPE {mape(predicted_ms, latency):.1f} %")
    print(f"   model: E = {p.idle_mw / 1000:.2f} W x T + {p.pj_per_flop:.1f} pJ/FLOP + {p.pj_per_byte:.0f} pJ/byte "
          "(fitted on the training blocks' measured energy)")
    print(f"   baselines on the same blocks: median training power {power_train / 1:.2f} W x predicted latency "
          f"{mape(power_train * predicted_ms, energy):.1f} %; the same split with the measured latency "
          f"{mape(p.idle_mw / 1000 * latency + (predicted - p.idle_mw / 1000 * predicted_ms), energy):.1f} % "
          "(the measured latency in place of the predicted, coefficients unchanged: the energy split alone); the previous per-class active-power fit: 25.1 % (profile of 2026-11-22)")
    for name, fmt in (("worst", np.argmax), ("best", np.argmin)):
        i = int(fmt(np.abs(predicted / energy - 1)))
        print(f"   {name} block {test[i]['key']}: predicted {predicted[i]:.3f} mJ, measured {energy[i]:.3f} mJ")


def seed001_power() -> None:
    print("\n2. Seed 001 average board power while executing DNNs (W): predicted average power = energy / latency")
    for name, (idle, busy) in SEED001.items():
        profile = edgeperf.load_profile(name)
        powers = []
        for net in SEED001_NETS:
            est = edgeperf.estimate(f"zoo:{net}", profile)
            powers.append(est.total_energy_mj / est.total_latency_ms)
        model = profile.operating
        rests = (f"operating model {model.name}: busy {model.busy_mw / 1000:.2f} W and floor {model.floor_mw / 1000:.2f} W "
                 "are seed 001's own figures (inputs)" if model is not None else
                 f"profile power: idle {profile.power.idle_mw / 1000:.2f} W + active "
                 f"{profile.power.active_for('conv') / 1000:.2f} W from seed 001 (inputs)")
        print(f"   {name:15s} measured idle {idle:.2f} / average {busy:.2f}; predicted {min(powers):.2f}-{max(powers):.2f}, "
              f"median {statistics.median(powers):.2f} over {', '.join(SEED001_NETS)}; {rests}")
    print("   (a consistency check, not a validation: seed 001's averages are what the profiles were built from)")


def seed002() -> None:
    print("\n3. Seed 002 curves and minima (PyTorch fp32, profiles jetson-nano-pytorch / jetson-xavier-nx-pytorch)")
    results = {(board, n, b): sweep(board, n, b) for board in BOARDS for n, (_, batches, _) in NETWORKS.items()
               for b in batches}
    for board, seed in ((BOARDS[0], "9-19 % (13/19/15/9/17/17)"), (BOARDS[1], "2-15 % (2/13/15)")):
        saving = [s.saving_pct for k, s in results.items() if k[0] == board]
        interior = sum(s.interior_gpu_minimum for k, s in results.items() if k[0] == board)
        print(f"   {board}: saving at the optimum against the governor {min(saving):.1f}-{max(saving):.1f} %, median "
              f"{statistics.median(saving):.1f} % (measured {seed}); interior GPU-clock minimum {interior}/{len(saving)}")
    yolo = results[(BOARDS[0], "YOLOv4-tiny", 16)]
    joules = 3200 * yolo.optimum_mj / 1000
    print(f"   Nano YOLOv4-tiny (yolov3_tiny stand-in, 5.6 of 6.9 GFLOPs), 3200 inputs at the optimum, batch 16: "
          f"{joules:.0f} J against 916.7 J measured ({100 * (joules / 916.7 - 1):+.0f} %; scaled by FLOPs "
          f"{joules * 6.9 / 5.6:.0f} J, {100 * (joules * 6.9 / 5.6 / 916.7 - 1):+.0f} %)")
    ratio = [results[(BOARDS[1], n, b)].optimum_mj / results[(BOARDS[0], n, b)].optimum_mj
             for n, (_, batches, _) in NETWORKS.items() for b in batches]
    print(f"   NX/Nano energy per inference: median {statistics.median(ratio):.2f}, {min(ratio):.2f}-{max(ratio):.2f} "
          "(seed 002: 2x-4x less, i.e. 0.25-0.5; the NX busy power is fitted to the centre)")


def seed000() -> None:
    print("\n4. Seed 000 sustained runs, Coral dev board, 70,000 inferences (measured: I_v1 never throttles; I_v4 "
          "throttles 10 times, max 65.55 C; no energy measured)")
    host_ms = 17.97 - edgeperf.estimate("zoo:googlenet", "coral-edgetpu").total_latency_ms
    for net, label in (("googlenet", "Inception v1"), ("inception_v4", "Inception v4")):
        run = edgeperf.simulate(f"zoo:{net}", "coral-edgetpu", inferences=70000, gap_ms=host_ms)
        print(f"   {label}: {len(run.throttle_events)} throttle events, max {run.max_temp_c:.2f} C, "
              f"{run.total_time_s:.0f} s, predicted energy {run.energy_j:.0f} J")


def main() -> None:
    hwnas_blocks()
    seed001_power()
    seed002()
    seed000()


if __name__ == "__main__":
    main()
