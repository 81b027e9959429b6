"""Time and peak memory of the CLI on the resource attacks of issue 15, and on graphs at the node limit.

Each case runs ``edgeperf`` in a child process limited to 4 GB of address space; the table gives
the exit code, the median wall time over ``--repeat`` runs (interleaved: case A, B, ..., A, B, ...)
and the largest peak resident memory of the case's runs (``wait4`` rusage of each child). The promise: every case
ends within 30 s and 4 GB, with exit 0 (legitimate input) or exit 2. Timing on a busy machine
swings; quote the medians of one run.

Run: ``python benchmarks/hostile_inputs.py [--repeat 3]``
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from onnx import TensorProto, helper, numpy_helper

LIMIT = 4 * 2**30


def _model(nodes, inputs, outputs, inits=(), domains=()):
    graph = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(inits))
    opsets = [helper.make_opsetid("", 17)] + [helper.make_opsetid(d, 1) for d in domains]
    return helper.make_model(graph, opset_imports=opsets).SerializeToString()


def _chain(op: str, n: int, domain: str = "") -> bytes:
    vi = helper.make_tensor_value_info
    nodes = [helper.make_node(op, [f"t{i}"], [f"t{i + 1}"], domain=domain) for i in range(n)]
    return _model(nodes, [vi("t0", TensorProto.FLOAT, [1, 8])], [vi(f"t{n}", TensorProto.FLOAT, None)],
                  domains=[domain] if domain else [])


def _cases(folder: Path) -> dict:
    vi = helper.make_tensor_value_info
    scalar = lambda name, v: numpy_helper.from_array(np.array(v, np.int64), name)  # noqa: E731
    (folder / "range.onnx").write_bytes(_model(
        [helper.make_node("Range", ["s", "l", "d"], ["r"]), helper.make_node("Cast", ["r"], ["rf"], to=1),
         helper.make_node("Add", ["x", "rf"], ["y"])], [vi("x", TensorProto.FLOAT, [1])], [vi("y", TensorProto.FLOAT, None)],
        [scalar("s", 0), scalar("l", 2**25), scalar("d", 1)]))
    (folder / "gelu10000.onnx").write_bytes(_chain("Gelu", 10_000, "com.microsoft"))
    (folder / "relu50k.onnx").write_bytes(_chain("Relu", 50_000))
    (folder / "relu200k.onnx").write_bytes(_chain("Relu", 200_000))
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 9)]
    (folder / "bomb.yaml").write_text("\n".join(lines) + "\nmodels: [zoo:resnet18]\nplatforms: [jetson-nano]\n"
                                      "operating_points: *a8\n")
    (folder / "dotted.toml").write_text("models = ['zoo:resnet18']\n" + ".".join(["a"] * 300_000) + " = 1\n")
    (folder / "t10k.csv").write_text("model,latency_ms\n" + "zoo:mobilenet_v2,10\nzoo:resnet18,20\n" * 5000)
    return {
        "Range(0, 2**25) as data": ["estimate", "range.onnx", "-p", "jetson-nano", "-f", "json"],
        "10,000 com.microsoft:Gelu": ["estimate", "gelu10000.onnx", "-p", "jetson-nano", "-f", "json"],
        "50,000-node Relu chain": ["estimate", "relu50k.onnx", "-p", "jetson-nano", "-f", "json"],
        "200,000-node Relu chain": ["estimate", "relu200k.onnx", "-p", "jetson-nano", "-f", "json"],
        "YAML alias bomb": ["search", "bomb.yaml"],
        "TOML 300,000-part key": ["search", "dotted.toml"],
        "validate 10,000 rows": ["validate", "--table", "t10k.csv", "-p", "jetson-nano", "-f", "json"],
        "simulate -n 20 M -f json": ["simulate", "zoo:mobilenet_v2", "-p", "coral-edgetpu", "-n", "20000000", "-f",
                                     "json"],
        "simulate -n 2 M -f json": ["simulate", "zoo:mobilenet_v2", "-p", "coral-edgetpu", "-n", "2000000", "-f",
                                    "json"],
    }


def _run(args, folder: Path) -> tuple[int, float, float]:
    """Exit code, wall seconds and peak resident MB of one CLI run (rusage of that child alone, via wait4)."""
    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (LIMIT, LIMIT))

    import os

    start = time.monotonic()
    process = subprocess.Popen([sys.executable, "-m", "edgeperf.cli", *args], cwd=folder, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, preexec_fn=limit)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return process.returncode, time.monotonic() - start, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        cases = _cases(folder)
        times = {name: [] for name in cases}
        codes, peaks = {}, {}
        for _ in range(args.repeat):
            for name, command in cases.items():
                code, seconds, peak_mb = _run(command, folder)
                times[name].append(seconds)
                codes[name] = code
                peaks.setdefault(name, []).append(peak_mb)
        print(f"{'case':28s} {'exit':>4s} {'median s':>9s} {'max s':>6s} {'peak MB':>8s}  (4 GB address space per run)")
        for name in cases:
            print(f"{name:28s} {codes[name]:4d} {statistics.median(times[name]):9.1f} {max(times[name]):6.1f} "
                  f"{max(peaks[name]):8.0f}")


if __name__ == "__main__":
    main()
