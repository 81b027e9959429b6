"""Readers of vendor profiler output: per-layer ground truth that board owners already have.

onnxruntime's profiling JSON (``SessionOptions.enable_profiling``), TensorRT's
``trtexec --exportProfile``, OpenVINO's ``benchmark_app`` average counters and TFLite's
``benchmark_model --enable_op_profiling`` output all become :class:`NodeTime` lists.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._errors import InputError
from .._json import read_json_file
from .._messages import show
from .._numbers import parse_number
from .._userfile import read_text, user_path

__all__ = ["NodeTime", "kernel_node_names", "match_kernels", "match_layer_times", "read_onnxruntime_profile", "read_trtexec_profile", "read_openvino_counters",
           "read_tflite_op_profile", "read_layer_profile", "PROFILE_FORMATS"]

#: Largest profiler output read (JSON events become Python objects of several times the size).
_MAX_PROFILE_BYTES = 128 * 2**20


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeTime:
    """Median kernel time of one executed node over the profiled runs."""

    name: str
    op_type: str
    provider: str
    median_ms: float
    runs: int


_KERNEL_SUFFIXES = ("_nchwc", "_token", "_fused", "_kernel_time")


def kernel_node_names(name: str) -> list[str]:
    """Model node names a profiled kernel may stand for, as written, then with runtime decorations removed.

    onnxruntime names a fused kernel after its last node (``relu_0_nchwc``), TensorRT joins fused
    layers with `` + `` (``conv_0 + relu_0``), TFLite writes ``[a;b]:index``.

    >>> kernel_node_names("conv_0 + relu_0_nchwc")
    ['conv_0 + relu_0_nchwc', 'conv_0', 'relu_0']
    """
    result = [name]
    for part in (p.strip() for p in name.split(" + ")):
        part = re.sub(r"^\[(.*)\](?::\d+)?$", r"\1", part)         # TFLite: [name]:index
        for item in part.split(";"):                                # TFLite fused: [a;b;c]
            item = item.strip()
            for suffix in _KERNEL_SUFFIXES:
                if item.endswith(suffix):
                    item = item[: -len(suffix)]
            if item not in result:
                result.append(item)
    return result


def match_kernels(layer_nodes, node_times) -> list[int | None]:
    """The executed layer each profiled kernel ran, by index into ``layer_nodes`` (None: runtime-only).

    ``layer_nodes`` holds the model node names of each executed layer (``ExecLayer.nodes`` or
    ``LayerEstimate.nodes``); a kernel is matched through :func:`kernel_node_names`.

    >>> kernels = [NodeTime(name="relu_0_nchwc", op_type="Conv", provider="CPU", median_ms=1.0, runs=1),
    ...            NodeTime(name="reorder_1", op_type="Reorder", provider="CPU", median_ms=0.1, runs=1)]
    >>> match_kernels([("conv_0", "relu_0"), ("gemm_0",)], kernels)
    [0, None]
    """
    owner = {node: index for index, nodes in enumerate(layer_nodes) for node in nodes}
    return [next((owner[c] for c in kernel_node_names(node.name) if c in owner), None) for node in node_times]


def match_layer_times(graph, mapped, node_times) -> tuple[dict, list[str]]:
    """Measured time (ms) per executed layer index, and the names of kernels left unmatched."""
    times: dict[int, float] = {}
    unmatched = []
    for node, index in zip(node_times, match_kernels([layer.nodes for layer in mapped.layers], node_times)):
        if index is None:
            unmatched.append(node.name)
            continue
        times[index] = times.get(index, 0.0) + node.median_ms
    return times, unmatched


def read_onnxruntime_profile(path, *, skip_runs: int = 0) -> list[NodeTime]:
    """Per-node median kernel times from an onnxruntime profiling JSON file.

    Node events (``cat == "Node"``, name ending in ``_kernel_time``) are grouped by node; the
    first ``skip_runs`` occurrences of each node (warm-up runs) are dropped.

    Raises
    ------
    InputError
        If the file is missing, too large, not JSON, or holds no node events.
    """
    path = user_path(path, what="layer profile")
    events = read_json_file(path, what="an onnxruntime profile", limit=_MAX_PROFILE_BYTES, max_values=_MAX_PROFILE_BYTES)
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
            raise InputError(f"{path}: node event {show(name)} has no valid duration (dur in microseconds)")
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


def _read_text(path: Path, what: str) -> str:
    return read_text(path, what=f"a {what}", limit=_MAX_PROFILE_BYTES)


def read_trtexec_profile(path) -> list[NodeTime]:
    """Per-layer average times from ``trtexec --exportProfile=FILE`` (TensorRT).

    The file is a JSON list: ``{"count": N}`` (profiled runs) first, then one
    object per engine layer with ``name`` (fused layers joined by `` + ``) and
    ``averageMs`` (``timeMs``, ``medianMs`` and ``percentage`` are also present).

    Raises
    ------
    InputError
        For a missing file, other JSON, or a layer without a valid time.
    """
    path = user_path(path, what="layer profile")
    document = read_json_file(path, what="a trtexec profile", limit=_MAX_PROFILE_BYTES, max_values=_MAX_PROFILE_BYTES)
    if not isinstance(document, list) or not document or not isinstance(document[0], dict) \
            or "count" not in document[0]:
        raise InputError(f"{path}: not a trtexec --exportProfile file (a JSON list starting with {{\"count\": N}})")
    runs = document[0]["count"]
    if isinstance(runs, bool) or not isinstance(runs, int) or runs < 1:
        raise InputError(f"{path}: count must be a positive integer, got {show(runs)}")
    result = []
    for i, row in enumerate(document[1:], start=1):
        if not isinstance(row, dict) or not isinstance(row.get("name"), str):
            raise InputError(f"{path}: entry {i} has no layer name")
        value = row.get("medianMs", row.get("averageMs"))
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0 or value != value:
            raise InputError(f"{path}: layer {show(row['name'])} has no valid averageMs/medianMs, got {show(value)}")
        result.append(NodeTime(name=row["name"], op_type="", provider="TensorRT", median_ms=float(value), runs=runs))
    if not result:
        raise InputError(f"{path}: no layers in the trtexec profile")
    return result


def read_openvino_counters(path) -> list[NodeTime]:
    """Per-layer times from OpenVINO ``benchmark_app -report_type average_counters`` (``;``-separated CSV).

    Columns ``layerName;execStatus;layerType;execType;realTime (ms);cpuTime (ms)`` (newer
    versions add ``numaId``); layers ``NOT_RUN`` and the ``Total`` line are skipped.

    Raises
    ------
    InputError
        For a missing file, missing columns or a non-numeric time.
    """
    path = user_path(path, what="layer profile")
    lines = [line for line in _read_text(path, "OpenVINO counters report").splitlines() if line.strip()]
    if not lines:
        raise InputError(f"{path}: empty; expected benchmark_app's average_counters CSV")
    header = [h.strip() for h in lines[0].split(";")]
    for column in ("layerName", "execStatus", "layerType", "realTime (ms)"):
        if column not in header:
            raise InputError(f"{path}: missing column {show(column)}; expected benchmark_app -report_type "
                             "average_counters output (layerName;execStatus;layerType;execType;realTime (ms);...)")
    index = {name: i for i, name in enumerate(header)}
    result = []
    for number, line in enumerate(lines[1:], start=2):
        cells = [c.strip() for c in line.split(";")]
        if cells[0] in ("Total", "") or len(cells) <= index["realTime (ms)"]:
            continue
        if cells[index["execStatus"]] != "EXECUTED":
            continue
        value = parse_number(cells[index["realTime (ms)"]], f"{path}: line {number}: realTime (ms)", low=0.0)
        result.append(NodeTime(name=cells[0], op_type=cells[index["layerType"]], provider="OpenVINO",
                               median_ms=value, runs=1))
    if not result:
        raise InputError(f"{path}: no EXECUTED layers")
    return result


def read_tflite_op_profile(path) -> list[NodeTime]:
    """Per-operator average times from TFLite ``benchmark_model --enable_op_profiling=true`` output.

    Reads the ``Run Order`` table after ``Operator-wise Profiling Info for
    Regular Benchmark Runs:`` (columns ``[node type] [start]? [first] [avg ms] [%]
    [cdf%] [mem KB] [times called] [Name]``); a delegate partition appears as one
    row. The average covers all calls of the node in one run, times ``times called``.

    Raises
    ------
    InputError
        When the section is missing or a row cannot be read.
    """
    path = user_path(path, what="layer profile")
    lines = _read_text(path, "benchmark_model log").splitlines()
    start = next((i for i, line in enumerate(lines)
                  if "Operator-wise Profiling Info for Regular Benchmark Runs" in line), None)
    if start is None:
        raise InputError(f"{path}: no 'Operator-wise Profiling Info for Regular Benchmark Runs' section; run "
                         "benchmark_model with --enable_op_profiling=true")
    header_at = next((i for i in range(start, min(start + 5, len(lines))) if "[node type]" in lines[i]), None)
    if header_at is None:
        raise InputError(f"{path}: the op profile has no [node type] header line")
    columns = re.findall(r"\[([^\]]+)\]", lines[header_at])
    if "avg ms" not in columns or "Name" not in columns:
        raise InputError(f"{path}: op profile header lacks [avg ms] or [Name]: {show(lines[header_at].strip())}")
    numeric = len(columns) - 2          # between node type and Name
    row_re = re.compile(r"^\s*(?:INFO:\s*)?(.+?)\s+" + r"\s+".join([r"(-?[0-9.]+%?)"] * numeric) + r"\s+(.*)$")
    result = []
    for line in lines[header_at + 1:]:
        if not line.strip() or line.lstrip().startswith("="):
            break
        match = row_re.match(line)
        if match is None:
            raise InputError(f"{path}: cannot read op profile row {show(line.strip()[:80])}")
        values = dict(zip(columns[1:-1], match.groups()[1:-1]))
        avg = parse_number(values["avg ms"], f"{path}: op profile row {show(line.strip(), 40)}: avg ms", low=0.0)
        called = int(parse_number(values.get("times called", "1"), f"{path}: times called", low=0.0, high=1e12))
        result.append(NodeTime(name=match.group(numeric + 2).strip(), op_type=match.group(1).strip(),
                               provider="TFLite", median_ms=avg * max(called, 1), runs=1))
    if not result:
        raise InputError(f"{path}: the op profile has no rows")
    return result


#: Format name -> reader.
PROFILE_FORMATS = {"onnxruntime": read_onnxruntime_profile, "trtexec": read_trtexec_profile,
                   "openvino": read_openvino_counters, "tflite": read_tflite_op_profile}


def read_layer_profile(path, format: str = "auto") -> list[NodeTime]:
    """Read a vendor profile, detecting the format from the content when ``format`` is ``auto``.

    Raises
    ------
    InputError
        For an unknown format name or content no reader accepts.
    """
    if format != "auto":
        if format not in PROFILE_FORMATS:
            raise InputError(f"unknown profile format {show(format)}; known: auto, {', '.join(PROFILE_FORMATS)}")
        return PROFILE_FORMATS[format](path)
    text = _read_text(user_path(path, what="layer profile"), "layer profile")
    head = text[:4096]
    if "layerName;" in head:
        return read_openvino_counters(path)
    if "Operator-wise Profiling Info" in text:
        return read_tflite_op_profile(path)
    if '"count"' in head:
        return read_trtexec_profile(path)
    return read_onnxruntime_profile(path)
