"""Per-device ceiling on the NB201 data: how well a flexible learner with 5,000 training architectures predicts.

The learner is a ridge regression of log-latency on the cell's operations, one-hot per edge, and all
pairwise interactions between two edges' operations, computed twice: on the cell as written and on
the cell as LatBench executes it (after its rewriting: operations on zero nodes and off every
input-output path removed, see ``edgeperf.zoo._nas.latbench_vertices``), plus each vertex's fan-in;
the ridge strength is chosen on a validation split. It knows nothing about layers or hardware: it
is the measurement-noise-limited ceiling the profile-refit issue asks edgeperf's per-layer profiles
to approach. Architectures whose cell output is disconnected are left out, as in the refits.
Prints, per device column: held-out fraction within +-10 %, MAPE and Spearman rho, for 5,000
training architectures and for 100, on the same held-out architectures (everything after the first
5,500 of a seeded shuffle).

Run: ``python benchmarks/nb201_ceiling.py`` (about a minute)
"""

from __future__ import annotations

import csv
import itertools
import random
import sys
from pathlib import Path

import numpy as np

from edgeperf.fitting import prediction_metrics
from edgeperf.zoo import NB201_OPS
from edgeperf.zoo._nas import latbench_vertices, parse_nb201

EXTERNAL = Path(__file__).resolve().parents[2] / "shared" / "external"
FILES = {
    "latbench_brpnas_nb201_latency_seconds.csv": ("embedded-gpu-jetson-nano-fp16", "embedded-gpu-jetson-nano-fp32",
                                                  "embedded-tpu-edge-tpu-int8", "mobile-cpu-snapdragon-855-kryo-485-int8",
                                                  "mobile-gpu-snapdragon-855-adreno-640-int8",
                                                  "mobile-dsp-snapdragon-855-hexagon-690-int8"),
    "help_nb201_latency_ms.csv": ("raspi4", "pixel3"),
}


def _onehot_and_pairs(ops: list[str]) -> list[np.ndarray]:
    onehot = np.zeros((6, len(NB201_OPS)))
    for i, op in enumerate(ops):
        onehot[i, NB201_OPS.index(op)] = 1.0
    return [onehot.ravel()] + [np.outer(onehot[i], onehot[j]).ravel() for i, j in itertools.combinations(range(6), 2)]


def features(arch: str) -> np.ndarray:
    cell = parse_nb201(arch)
    written = [op for node in cell for op, _ in node]
    vertices = latbench_vertices(cell) or {}
    executed = [vertices[k + 1][0] if k + 1 in vertices else ("skip_connect" if op == "skip_connect" else "none")
                for k, op in enumerate(written)]
    fan_in = np.zeros(8)
    for vertex, (_, preds) in vertices.items():
        fan_in[vertex] = len(preds)
    return np.concatenate([[1.0], *_onehot_and_pairs(written), *_onehot_and_pairs(executed), fan_in])


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
        rows = [r for r in csv.DictReader(open(path)) if latbench_vertices(parse_nb201(r["arch_str"])) is not None]
        for column in columns:
            usable = [r for r in rows if r.get(column) and float(r[column]) > 0]
            random.Random(0).shuffle(usable)
            x = np.array([features(r["arch_str"]) for r in usable])
            y = np.array([float(r[column]) for r in usable])
            n = len(usable)
            test = np.arange(5500, n)
            big = evaluate(x, y, np.arange(0, 5000), test, np.arange(5000, 5500))
            small = evaluate(x, y, np.arange(0, 80), test, np.arange(80, 100))
            print(f"{column}: 5,000 training -> within 10 % {100 * big['within_10pct']:.1f} %, MAPE "
                  f"{100 * big['mape']:.1f} %, rho {big['spearman']:.3f}; 100 training -> "
                  f"{100 * small['within_10pct']:.1f} %, {100 * small['mape']:.1f} %, rho {small['spearman']:.3f} "
                  f"(held out: {len(test)})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
