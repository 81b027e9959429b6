"""Calibrate this machine twice, back to back, and report accuracy and repeatability.

For each calibration: measured, predicted and error on the 12 held-out ImageNet CNNs at 224x224,
median and worst |error|. Then how far the two calibrated profiles' predictions of the same
networks differ (target: within 5 %). Needs onnxruntime. Takes about 2 x 7 minutes at the
default budget on a 2-core machine.

Run: ``python benchmarks/calibration_accuracy.py [--budget-minutes 10] [--threads 1] [--keep DIR]``
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

import edgeperf
from edgeperf.measure import OnnxRuntimeRunner, calibrate
from edgeperf.fitting import format_rho
from edgeperf.profiles import write_profile_file


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--budget-minutes", type=float, default=10.0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--keep", help="Keep the sweep files and profiles in this folder (default: a temporary one).")
    args = parser.parse_args()
    profiles = []
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.keep or scratch
        Path(folder).mkdir(parents=True, exist_ok=True)
        for run in (1, 2):
            result = calibrate(f"run{run}", runner=OnnxRuntimeRunner(threads=args.threads),
                               sweep_path=Path(folder) / f"run{run}.csv", budget_minutes=args.budget_minutes)
            profiles.append(result.profile)
            if args.keep:
                write_profile_file(result.profile, Path(folder) / f"run{run}.json")
            rows = result.validation.rows
            print(f"calibration {run}: {result.measurements} measurements, "
                  f"{result.profile.provenance.details['excluded_unstable']} excluded as unstable")
            print(f"  {'network':24s} {'measured ms':>12s} {'predicted ms':>13s} {'error':>8s}")
            for row in rows:
                print(f"  {row.model[4:]:24s} {row.measured_ms:12.2f} {row.predicted_ms:13.2f} {100 * row.error:+7.1f}%")
            errors = [abs(row.error) for row in rows]
            print(f"  median |error| {100 * statistics.median(errors):.1f} %, worst {100 * max(errors):.1f} %, "
                  f"Spearman {format_rho(result.validation.summary.spearman)}")
    names = [row.model for row in rows]
    gaps = []
    for name in names:
        first, second = (edgeperf.estimate(name, profile).total_latency_ms for profile in profiles)
        gaps.append(abs(first - second) / ((first + second) / 2))
    print(f"repeatability: the two profiles' predictions differ by median {100 * statistics.median(gaps):.1f} %, "
          f"at most {100 * max(gaps):.1f} % (target: within 5 %)")


if __name__ == "__main__":
    main()
