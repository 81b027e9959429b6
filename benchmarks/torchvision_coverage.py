"""Operator coverage on every torchvision classification model, exported by torch at several opsets.

Not part of the test suite: it needs torch and torchvision, which edgeperf never depends on.
Run it in a separate environment that has both, with edgeperf installed there too::

    python -m venv /tmp/tv && /tmp/tv/bin/pip install torch torchvision onnx && /tmp/tv/bin/pip install -e .
    /tmp/tv/bin/python benchmarks/torchvision_coverage.py --opsets 13 18 [--models resnet18 ...]

For each model and opset it exports with the TorchScript exporter (random weights; weights of
models above 150 M parameters are left out of the file to save time and disk, which changes
nothing for the estimator), loads the file with edgeperf, estimates it on jetson-nano, and prints
one line per model: MACs as edgeperf counts them, executed layers, and any failure. The summary
line counts failures; the exit code is 1 if there was any.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import warnings
from pathlib import Path


def main() -> int:
    import torch
    import torchvision

    import edgeperf

    parser = argparse.ArgumentParser()
    parser.add_argument("--opsets", type=int, nargs="+", default=[13, 18])
    parser.add_argument("--models", nargs="*")
    parser.add_argument("--shard", default="0/1", help="i/n: run every n-th model starting at i")
    parser.add_argument("--jsonl", help="append one JSON record per model and opset")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    names = args.models or torchvision.models.list_models(module=torchvision.models)
    index, count = (int(v) for v in args.shard.split("/"))
    names = names[index::count]
    failures = 0
    with tempfile.TemporaryDirectory() as folder:
        for name in names:
            model = torchvision.models.get_model(name, weights=None).eval()
            size = 299 if name == "inception_v3" else 224
            params = sum(p.numel() for p in model.parameters())
            for opset in args.opsets:
                path = Path(folder) / f"{name}_{opset}.onnx"
                record = {"model": name, "opset": opset, "params_torch": params}
                start = time.perf_counter()
                try:
                    # with gradients enabled, nn.MultiheadAttention avoids its fused fast path,
                    # which the TorchScript exporter cannot export (ViT)
                    torch.onnx.export(model, (torch.randn(1, 3, size, size),), str(path), opset_version=opset,
                                      dynamo=False, export_params=params < 150_000_000)
                except Exception as exc:  # the exporter's problem, not edgeperf's: reported, not counted
                    record["export_error"] = f"{type(exc).__name__}: {str(exc)[:200]}"
                    line = json.dumps(record)
                    print(line, flush=True)
                    if args.jsonl:
                        with open(args.jsonl, "a") as stream:
                            stream.write(line + "\n")
                    continue
                record["export_s"] = round(time.perf_counter() - start, 1)
                try:
                    est = edgeperf.estimate(path, "jetson-nano")
                    record.update(macs=est.total_macs, executed_layers=len(est.layers), params=est.total_params,
                                  latency_ms=round(est.total_latency_ms, 3))
                except edgeperf.EdgeperfError as exc:
                    failures += 1
                    record["error"] = str(exc)[:300]
                path.unlink(missing_ok=True)
                line = json.dumps(record)
                print(line, flush=True)
                if args.jsonl:
                    with open(args.jsonl, "a") as stream:
                        stream.write(line + "\n")
    print(f"{len(names)} models x {len(args.opsets)} opsets: {failures} edgeperf failures", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
