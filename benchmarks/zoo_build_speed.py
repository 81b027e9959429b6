"""How fast the zoo builds graphs for estimation (no weights): ResNet-50 and search-space members.

Prints medians over repetitions. Run: ``python benchmarks/zoo_build_speed.py [--repeats N]``.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from edgeperf.estimator import load_model
from edgeperf.zoo import FBNET_CHOICES, random_nb201


def timed(reference: str) -> float:
    start = time.perf_counter()
    load_model("zoo:" + reference)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    rng = random.Random(0)
    rows = {
        "resnet50": [timed("resnet50") for _ in range(max(args.repeats // 5, 3))],
        "nb201 member": [timed(f"nb201:{random_nb201(rng)}") for _ in range(args.repeats)],
        "nb201-latbench member": [timed(f"nb201-latbench:{random_nb201(rng)}") for _ in range(args.repeats)],
        "fbnet member": [timed("fbnet:" + "-".join(str(rng.randrange(len(FBNET_CHOICES))) for _ in range(22)))
                         for _ in range(args.repeats)],
    }
    for name, times in rows.items():
        print(f"{name:24s} median {1e3 * statistics.median(times):7.1f} ms  (min {1e3 * min(times):6.1f}, "
              f"max {1e3 * max(times):6.1f}, n={len(times)})")


if __name__ == "__main__":
    main()
