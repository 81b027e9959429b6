"""Per-device ceiling on the NB201 data: how well a flexible learner with 5,000 training architectures predicts.

The learner is a ridge regression of log-latency on the cell's operations (6 edges x 5 operations,
one-hot) and every pairwise interaction between two edges' operations (375 terms), with the ridge
strength chosen on a validation split. It knows nothing about layers or hardware: it is the
measurement-noise-limited ceiling the profile-refit issue asks edgeperf's per-layer profiles to
approach. Prints, per device column: held-out fraction within +-10 %, MAPE and Spearman rho, for
5,000 training architectures and for 100.

Run: ``python benchmarks/nb201_ceiling.py``
"""

from __future__ import annotations

import csv
import itertools
import random
import sys
from pathlib import Path

import numpy as np

from edgeperf.profiles import prediction_metrics
from edgeperf.zoo import NB201_OPS

EXTERNAL = Path(__file__).resolve().parents[2] / "shared" / "external"
FILES = {
    "latbench_brpnas_nb201_latency_seconds.csv": ("embedded-gpu-jetson-nano-fp16", "embedded-gpu-jetson-nano-fp32",
                                                  "embedded-tpu-edge-tpu-int8", "mobile-cpu-snapdragon-855-kryo-485-int8",
                                                  "mobile-gpu-snapdragon-855-adreno-640-int8",
                                                  "mobile-dsp-snapdragon-855-hexagon-690-int8"),
    "help_nb201_latency_ms.csv": ("raspi4", "pixel3"),
}


def features(arch: str) -> np.ndarray:
    ops = [token.split("~")[0] for token in arch.strip("|").replace("|+|", "|").split("|") if token]
    onehot = np.zeros((6, len(NB201_OPS)))
    for i, op in enumerate(ops):
        onehot[i, NB201_OPS.index(op)] = 1.0
    pairs = [np.outer(onehot[i], onehot[j]).ravel() for i, j in itertools.combinations(range(6), 2)]
    return np.concatenate([[1.0], onehot.ravel(), *pairs])


def ridge(x, y, lam):
    k = x.shape[1]
    return np.linalg.solve(x.T @ x + lam * np.eye(k), x.T @ y)


def evaluate(x, y, train, test, valid):
    best = min((10.0 ** e for e in range(-4, 3)),
               key=lambda lam: np.mean(np.abs(np.exp(x[valid] @ ridge(x[train], np.log(y[train]), lam)) - y[valid])
                                       / y[valid]))
    w = ridge(x[np.concatenate([train, valid])], np.log(y[np.concatenate([train, valid])]), best)
    return prediction_metrics(np.exp(x[test] @ w), y[test])


def main() -> int:
    for name, columns in FILES.items():
        path = EXTERNAL / name
        if not path.is_file():
            print(f"skipped: {path} is not present", file=sys.stderr)
            continue
        rows = list(csv.DictReader(open(path)))
        for column in columns:
            usable = [r for r in rows if r.get(column) and float(r[column]) > 0]
            random.Random(0).shuffle(usable)
            x = np.array([features(r["arch_str"]) for r in usable])
            y = np.array([float(r[column]) for r in usable])
            n = len(usable)
            test = np.arange(5500, n)
            big = evaluate(x, y, np.arange(0, 5000), test, np.arange(5000, 5500))
            small = evaluate(x, y, np.arange(0, 80), test, np.arange(80, 100))
            print(f"{column}: 5,000 training -> within 10 % {100 * big['within_10pct']:.0f} %, MAPE "
                  f"{100 * big['mape']:.1f} %, rho {big['spearman']:.3f}; 100 training -> "
                  f"{100 * small['within_10pct']:.0f} %, {100 * small['mape']:.1f} %, rho {small['spearman']:.3f} "
                  f"(held out: {len(test)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
