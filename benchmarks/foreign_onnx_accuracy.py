"""How well a calibrated profile predicts networks exported by other tools (e.g. torchvision's exporter).

Measures every ``*.onnx`` in a folder on this machine (onnxruntime, the measurement harness, in
interleaved passes, the median over passes of undisturbed measurements) and compares with the
profile's estimate: raw error per network, and the error after one common scale is removed (the
predictions multiplied by the geometric mean of measured / predicted over all networks), with the
median and worst |error| of each. A network whose every pass stayed disturbed is reported as such.

The folder is not part of the project: export the models with your own tools (for instance
torchvision's ``torch.onnx.export`` in a separate environment) and pass its path. Without a
folder, or with an empty one, the benchmark says so and exits 0.

Run: ``python benchmarks/foreign_onnx_accuracy.py --onnx-dir DIR --platform calibrated.json [--passes 3]``;
give ``--platform`` more than once to compare profiles on the same measurements.
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--onnx-dir", help="Folder of .onnx files exported by other tools.")
    parser.add_argument("--platform", action="append", help="A calibrated profile to check (repeat to compare).")
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    folder = Path(args.onnx_dir) if args.onnx_dir else None
    models = sorted(folder.glob("*.onnx")) if folder and folder.is_dir() else []
    if not models or not args.platform:
        print("skipped: give --onnx-dir with .onnx files exported by other tools and --platform PROFILE.json")
        return 0
    import edgeperf
    from edgeperf.measure import Harness, OnnxRuntimeRunner, ceilings, cpu_timing, device_info, graph_floor_ms

    profiles = [edgeperf.load_profile(platform) for platform in args.platform]
    runner = OnnxRuntimeRunner(threads=args.threads)
    ceiling = ceilings(runner.settings(), device_info())
    harness = Harness(rounds=5, round_s=0.06, warmup_s=0.1, **cpu_timing(runner.settings()))
    loaded = {path: runner.load(path) for path in models}
    floors = {path: graph_floor_ms(edgeperf.load_model(path, on_unknown="roofline"), ceiling=ceiling)
              for path in models}
    measured: dict[Path, list[float]] = {path: [] for path in models}
    for index in range(args.passes):
        order = list(models)
        random.Random(args.seed + index).shuffle(order)           # interleaved: a slow phase hits all alike
        for path in order:
            timing = harness.measure(loaded[path].run, floor_ms=floors[path])
            if not timing.disturbed:
                measured[path].append(timing.median_ms)
    for profile in profiles:
        _report(profile, models, measured, args.passes)
    return 0


def _report(profile, models, measured: dict, passes: int) -> None:
    import edgeperf

    rows = []
    for path in models:
        predicted = edgeperf.estimate(path, profile).total_latency_ms
        value = statistics.median(measured[path]) if measured[path] else None
        rows.append((path.stem, value, predicted))
    ratios = [m / p for _, m, p in rows if m]
    scale = math.exp(statistics.fmean(math.log(r) for r in ratios)) if ratios else float("nan")
    print(f"profile {profile.name}; {passes} interleaved passes; common scale (geometric mean of "
          f"measured/predicted) {scale:.3f}")
    print(f"{'network':24s} {'measured ms':>12s} {'predicted ms':>13s} {'error':>8s} {'scaled':>8s}")
    raw_errors, scaled_errors = [], []
    for name, value, predicted in rows:
        if value is None:
            print(f"{name:24s} {'disturbed':>12s} {predicted:13.2f}")
            continue
        raw, scaled = (predicted - value) / value, (scale * predicted - value) / value
        raw_errors.append(abs(raw))
        scaled_errors.append(abs(scaled))
        print(f"{name:24s} {value:12.2f} {predicted:13.2f} {100 * raw:+7.1f}% {100 * scaled:+7.1f}%")
    if scaled_errors:
        print(f"raw |error| median {100 * statistics.median(raw_errors):.1f} %, worst {100 * max(raw_errors):.1f} %; "
              f"after the common scale median {100 * statistics.median(scaled_errors):.1f} %, worst "
              f"{100 * max(scaled_errors):.1f} % (targets 10 % and 20 %)")


if __name__ == "__main__":
    sys.exit(main())
