"""Per-device ceiling on the public NAS data: how well a flexible learner with thousands of training architectures predicts.

NB201 columns (LatBench's 8, HELP's 8): ridge regression of log-latency on the cell's operations,
one-hot per edge, and all pairwise interactions between two edges' operations, computed twice: on
the cell as written and on the cell as LatBench executes it (after its rewriting: operations on
zero nodes and off every input-output path removed, see ``edgeperf.zoo._nas.latbench_vertices``),
plus each vertex's fan-in; 5,000 training architectures, the ridge strength chosen on the next
500, tested on everything after the first 5,500 of a seeded shuffle. Architectures whose cell
output is disconnected are left out, as in the refits.

FBNet columns (HELP's 4 and the Jetson TX2 column summed from HW-NAS-Bench's block table, see
lodo_data.py): the same recipe on the 22 positions' block choices, one-hot per position plus the
interactions of neighbouring positions (all pairs would be 18,711 terms); the space has 5,000
measured architectures, so 3,500 train, 500 choose the ridge strength and the last 1,000 test.
These columns are sums of per-block table entries, so one-hot terms alone can represent them
exactly: their ceiling is near 100 %.

The learner knows nothing about layers or hardware: it is the measurement-noise-limited ceiling
that edgeperf's per-layer profiles are compared with. Prints, per device column: held-out fraction
within +-10 %, MAPE and Spearman rho with the large training set and with 100 networks.

Run: ``python benchmarks/nb201_ceiling.py [--only COLUMN...]`` (about two minutes)
"""

from __future__ import annotations

import argparse
import itertools
import sys

import numpy as np
from lodo_data import DEVICES, available, latencies, rows

from edgeperf.fitting import prediction_metrics
from edgeperf.zoo import FBNET_CHOICES, NB201_OPS
from edgeperf.zoo._nas import latbench_vertices, parse_fbnet, parse_nb201


def _onehot_and_pairs(ops: list[str]) -> list[np.ndarray]:
    onehot = np.zeros((6, len(NB201_OPS)))
    for i, op in enumerate(ops):
        onehot[i, NB201_OPS.index(op)] = 1.0
    return [onehot.ravel()] + [np.outer(onehot[i], onehot[j]).ravel() for i, j in itertools.combinations(range(6), 2)]


def features(arch: str) -> np.ndarray:
    """NB201 learner features of one cell."""
    cell = parse_nb201(arch)
    written = [op for node in cell for op, _ in node]
    vertices = latbench_vertices(cell) or {}
    executed = [vertices[k + 1][0] if k + 1 in vertices else ("skip_connect" if op == "skip_connect" else "none")
                for k, op in enumerate(written)]
    fan_in = np.zeros(8)
    for vertex, (_, preds) in vertices.items():
        fan_in[vertex] = len(preds)
    return np.concatenate([[1.0], *_onehot_and_pairs(written), *_onehot_and_pairs(executed), fan_in])


def fbnet_features(arch: str) -> np.ndarray:
    """FBNet learner features: one-hot block choice per position and neighbouring positions' interactions."""
    onehot = np.zeros((22, len(FBNET_CHOICES)))
    for i, choice in enumerate(parse_fbnet(arch)):
        onehot[i, FBNET_CHOICES.index(choice)] = 1.0
    pairs = [np.outer(onehot[i], onehot[i + 1]).ravel() for i in range(21)]
    return np.concatenate([[1.0], onehot.ravel(), *pairs])


def ridge(x, y, lam):
    k = x.shape[1]
    return np.linalg.solve(x.T @ x + lam * np.eye(k), x.T @ y)


def learner(x, y, train, valid):
    """Predictor of the log-latency ridge, its strength chosen on ``valid``.

    The log-latencies are centred on the training mean, so that the unit of the latencies does not
    matter (the ridge would otherwise penalise the intercept, which a table in seconds needs large).
    """
    def fit(rows, lam):
        centre = float(np.mean(np.log(y[rows])))
        w = ridge(x[rows], np.log(y[rows]) - centre, lam)
        return lambda where: np.exp(x[where] @ w + centre)

    best = min((10.0 ** e for e in range(-4, 3)),
               key=lambda lam: np.mean(np.abs(fit(train, lam)(valid) - y[valid]) / y[valid]))
    return fit(np.concatenate([train, valid]), best)


def evaluate(x, y, train, test, valid):
    return prediction_metrics(learner(x, y, train, valid)(test), y[test])


def design(dataset: str, table: list[dict]) -> np.ndarray:
    make = fbnet_features if dataset == "help-fbnet" else features
    return np.array([make(r["arch"]) for r in table])


def sizes(dataset: str, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Training, validation and test rows of the large-training ceiling."""
    if dataset == "help-fbnet":
        return np.arange(0, 3500), np.arange(3500, 4000), np.arange(4000, n)
    return np.arange(0, 5000), np.arange(5000, 5500), np.arange(5500, n)


def ceilings(only=None, test_rows=None, log=None) -> dict:
    """Per device name: metrics of the large-training learner on ``test_rows`` (default: all held-out rows)."""
    out, cache = {}, {}
    for device in DEVICES:
        if only and device.name not in only and device.column not in only:
            continue
        if device.dataset not in cache:
            table = rows(device.dataset)
            cache[device.dataset] = (table, design(device.dataset, table))
        table, x = cache[device.dataset]
        y = latencies(device, table)
        train, valid, test = sizes(device.dataset, len(table))
        predict = learner(x, y, train, valid)
        held = test if test_rows is None else np.asarray(test_rows[device.dataset])
        out[device.name] = {**prediction_metrics(predict(held), y[held]).to_dict(), "train": len(train) + len(valid)}
        if log:
            small = evaluate(x, y, np.arange(0, 80), held, np.arange(80, 100)).to_dict()
            big = out[device.name]
            log(f"{device.name} ({device.column}): {len(train):,} training -> within 10 % "
                f"{100 * big['within_10pct']:.1f} %, MAPE {100 * big['mape']:.1f} %, rho {big['spearman']:.3f}; "
                f"100 training -> {100 * small['within_10pct']:.1f} %, {100 * small['mape']:.1f} %, "
                f"rho {small['spearman']:.3f} (held out: {len(held)})")
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", nargs="+", help="device names (see lodo_data.DEVICES) or column names")
    args = parser.parse_args()
    if not available():
        print("skipped: ../shared/external lacks the measurement files", file=sys.stderr)
        return 0
    ceilings(args.only, log=lambda line: print(line, flush=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
