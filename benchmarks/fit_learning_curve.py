"""How the error of a profile fitted to whole-network latencies falls with the number of training networks.

For each device column of the public NB201 measurements (the refit devices of
refit_public_profiles.py) and each training size n in 10, 20, 25, 50, 100, 200: fits ``edgeperf
fit``'s per-class step-linear model (sibling merge chosen by cross-validation) on n random
architectures and tests it on a fixed held-out set, repeated over several training draws. Prints
the median over draws of held-out MAPE, fraction within +-10 % and Spearman rho.

Run: ``python benchmarks/fit_learning_curve.py [--test 1000] [--seeds 3] [--only NAME...]``
(building the graphs takes about 12 ms per architecture; the whole run about 5 minutes).
"""

from __future__ import annotations

import argparse
import statistics
import sys

import numpy as np
from refit_public_profiles import DEVICES, HELP, LATBENCH, predict, snapdragon_base, usable_rows

from edgeperf.fitting import NetworkSample, fit_from_networks, prediction_metrics
from edgeperf.profiles import load_profile


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--test", type=int, default=1000)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 20, 25, 50, 100, 200])
    parser.add_argument("--only", nargs="+", default=[name for name in DEVICES])
    args = parser.parse_args()
    if not LATBENCH.is_file() or not HELP.is_file():
        print("skipped: ../shared/external lacks the measurement files", file=sys.stderr)
        return 0
    graphs: dict = {}
    for name in args.only:
        dataset, column, seconds, space, base_name, precision, title = DEVICES[name]
        base = load_profile(base_name) if base_name else snapdragon_base(name, title)
        rows, _ = usable_rows(dataset, column)
        scale = 1000.0 if seconds else 1.0
        samples = [NetworkSample(model=f"zoo:{space}:{r['arch_str']}", latency_ms=float(r[column]) * scale)
                   for r in rows[: args.test + max(args.sizes) * args.seeds]]
        test = samples[: args.test]
        measured = np.array([s.latency_ms for s in test])
        print(f"{name} ({column}, base {base.name}, {precision}), held-out n={len(test)}", flush=True)
        for size in args.sizes:
            scores = []
            for seed in range(args.seeds):
                start = args.test + seed * max(args.sizes)
                fit = fit_from_networks(samples[start: start + size], base, precision=precision, seed=seed,
                                        merge_siblings=None, memory_split=None, graphs=graphs)
                scores.append(prediction_metrics(predict(fit.profile, test, precision, graphs), measured))
            median = {k: statistics.median(s[k] for s in scores) for k in ("mape", "within_10pct", "spearman")}
            draws = ", ".join(f"{score['spearman']:.3f}" for score in scores)
            print(f"  n={size:4d}: MAPE {100 * median['mape']:5.1f} %, within +-10 % {100 * median['within_10pct']:5.1f} %, "
                  f"Spearman {median['spearman']:.3f} (draws: {draws})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
