"""How the error of a profile fitted to whole-network latencies falls with the number of training networks.

Uses the LatBench NB201 measurements in ../shared/external (BRP-NAS, Samsung; seconds): for each device
column and each training size n in 10, 25, 50, 100, 200, fits ``edgeperf fit``'s per-class step-linear
model on n random architectures and tests on a fixed held-out set, repeated over several seeds.
Prints the median over seeds of held-out MAPE, fraction within +-10 % and Spearman rho.

Run: ``python benchmarks/fit_learning_curve.py [--test 1000] [--seeds 3] [--columns ...]``
(building the graphs takes about 25 ms per architecture).
"""

from __future__ import annotations

import argparse
import csv
import random
import statistics
import sys
from pathlib import Path

import numpy as np

from edgeperf.profiles import NetworkSample, fit_from_networks, load_profile, network_features, prediction_metrics

DATA = Path(__file__).resolve().parents[2] / "shared" / "external" / "latbench_brpnas_nb201_latency_seconds.csv"
COLUMNS = {  # column -> (base profile, precision)
    "embedded-gpu-jetson-nano-fp16": ("jetson-nano", "fp16"),
    "embedded-gpu-jetson-nano-fp32": ("jetson-nano", "fp32"),
    "embedded-tpu-edge-tpu-int8": ("coral-edgetpu", "int8"),
    "mobile-cpu-snapdragon-855-kryo-485-int8": ("raspberry-pi-4", "fp32"),
}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--test", type=int, default=1000)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 25, 50, 100, 200])
    parser.add_argument("--columns", nargs="+", default=list(COLUMNS))
    args = parser.parse_args()
    if not DATA.is_file():
        print(f"skipped: {DATA} is not present", file=sys.stderr)
        return 0
    rows = [r for r in csv.DictReader(open(DATA)) if all(r[c] for c in args.columns)]
    random.Random(0).shuffle(rows)
    pool = rows[: args.test + max(args.sizes) * args.seeds]
    for column in args.columns:
        base_name, precision = COLUMNS[column]
        base = load_profile(base_name)
        samples = [NetworkSample(model="zoo:nb201-latbench:" + r["arch_str"], latency_ms=float(r[column]) * 1000)
                   for r in pool]
        x, classes, _, _ = network_features(samples, base, precision)  # features once; fits reuse them
        y = np.array([s.latency_ms for s in samples])
        test = np.arange(args.test)
        print(f"{column} (base {base_name}, {precision}), held-out n={args.test}")
        for size in args.sizes:
            scores = []
            for seed in range(args.seeds):
                train = args.test + seed * max(args.sizes) + np.arange(size)
                result = fit_from_networks([samples[i] for i in train], base, precision=precision, seed=seed)
                w = _weights(result, classes)
                scores.append(prediction_metrics(x[test] @ w, y[test]))
            median = {k: statistics.median(s[k] for s in scores) for k in ("mape", "within_10pct", "spearman")}
            print(f"  n={size:4d}: MAPE {100 * median['mape']:5.1f} %, within +-10 % {100 * median['within_10pct']:5.1f} %, "
                  f"Spearman {median['spearman']:.3f}")
    return 0


def _weights(result, classes) -> np.ndarray:
    """The fitted coefficients in the feature order of ``_features``."""
    w = []
    for op_class in classes:
        model = result.profile.layer_models.get(op_class)
        if model is None or model.form != "step_linear" or op_class not in result.fitted_classes:
            w += [0.0, 1.0, 1.0]  # a class the training set lacked keeps the base roofline (approximately)
        else:
            w += [model.params["overhead_ms"], model.params["compute_scale"], model.params["memory_scale"]]
    return np.array(w)


if __name__ == "__main__":
    sys.exit(main())
