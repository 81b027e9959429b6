"""Readers of vendor profiler output: per-layer ground truth that board owners already have.

onnxruntime's profiling JSON (``SessionOptions.enable_profiling``) is read here; TensorRT's
``trtexec --exportProfile``, OpenVINO's ``benchmark_app`` counters and TFLite's
``benchmark_model`` op profiles follow the same :class:`NodeTime` shape.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._errors import InputError

__all__ = ["NodeTime", "read_onnxruntime_profile"]

_MAX_PROFILE_BYTES = 512 * 2**20


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeTime:
    """Median kernel time of one executed node over the profiled runs."""

    name: str
    op_type: str
    provider: str
    median_ms: float
    runs: int


def read_onnxruntime_profile(path, *, skip_runs: int = 0) -> list[NodeTime]:
    """Per-node median kernel times from an onnxruntime profiling JSON file.

    Node events (``cat == "Node"``, name ending in ``_kernel_time``) are grouped by node; the
    first ``skip_runs`` occurrences of each node (warm-up runs) are dropped.

    Raises
    ------
    InputError
        If the file is missing, too large, not JSON, or holds no node events.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such onnxruntime profile")
    if path.stat().st_size > _MAX_PROFILE_BYTES:
        raise InputError(f"{path}: larger than {_MAX_PROFILE_BYTES} bytes; profile fewer runs")
    try:
        events = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: not an onnxruntime profile (JSON expected: {exc})") from None
    if not isinstance(events, list):
        raise InputError(f"{path}: not an onnxruntime profile (a JSON list of events expected)")
    durations: dict[str, list[float]] = defaultdict(list)
    meta: dict[str, tuple[str, str]] = {}
    for event in events:
        if not isinstance(event, dict) or event.get("cat") != "Node":
            continue
        name = str(event.get("name", ""))
        if not name.endswith("_kernel_time"):
            continue
        duration = event.get("dur")
        if not isinstance(duration, (int, float)) or duration < 0:
            raise InputError(f"{path}: node event {name!r} has no valid duration (dur in microseconds)")
        node = name[: -len("_kernel_time")]
        durations[node].append(float(duration))
        args = event.get("args") if isinstance(event.get("args"), dict) else {}
        meta[node] = (str(args.get("op_name", "")), str(args.get("provider", "")))
    if not durations:
        raise InputError(f"{path}: no node events; profile with SessionOptions.enable_profiling")
    result = []
    for node, values in durations.items():
        kept = values[skip_runs:] or values
        op_type, provider = meta[node]
        result.append(NodeTime(name=node, op_type=op_type, provider=provider,
                               median_ms=float(np.median(kept)) / 1000.0, runs=len(kept)))
    return result
