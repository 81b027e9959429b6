"""``edgeperf estimate``: per-layer and total latency and energy of one model, as a table, JSON or CSV."""

from __future__ import annotations

import json
from typing import List, Optional

import typer

from .._api import estimate as run_estimate
from .._errors import InputError
from ..estimator import Estimate
from ._common import OnUnknown, OutputFormat, console, csv_text, emit, human, parse_freqs, parse_shapes

__all__ = ["register"]

_SHORT_OPS = {"BatchNormalization": "BN", "QuantizeLinear": "Q", "DequantizeLinear": "DQ",
              "GlobalAveragePool": "GAP", "LayerNormalization": "LN", "HardSwish": "HSwish"}
_CSV_COLUMNS = ["name", "op_type", "op_class", "output_shape", "macs", "flops", "params", "bytes", "precision",
                "cost_model", "bound", "compute_ms", "memory_ms", "latency_ms", "power_mw", "energy_mj", "share", "nodes"]


def estimate(
    model: str = typer.Argument(..., help="An .onnx or .tflite file, or zoo:NAME."),
    platform: str = typer.Option(..., "--platform", "-p", help="Shipped profile name or profile .json path."),
    precision: Optional[str] = typer.Option(None, help="fp32, fp16 or int8 (default: the platform's)."),
    power_mode: Optional[str] = typer.Option(None, "--power-mode", help="Named power mode, e.g. 5W or MAXN."),
    freq: List[str] = typer.Option([], "--freq", help="Clock of a domain, DOMAIN=MHZ (repeatable), e.g. gpu=640."),
    input_shape: List[str] = typer.Option([], "--input-shape", help="NAME=1x3x224x224 for dynamic inputs (repeatable)."),
    on_unknown: OnUnknown = typer.Option(OnUnknown.error, "--on-unknown", help="error, or roofline for unknown ops."),
    top: Optional[int] = typer.Option(None, "--top", min=1, help="Show only the N slowest layers."),
    output_format: OutputFormat = typer.Option(OutputFormat.table, "--format", "-f", help="table, json or csv."),
    output: Optional[str] = typer.Option(None, "--output", "-o", help="Write json/csv to this file (atomically)."),
) -> None:
    """Predict per-layer and total latency and energy of MODEL on a platform."""
    result = run_estimate(model, platform, precision=precision, power_mode=power_mode, freq_mhz=parse_freqs(freq),
                          input_shapes=parse_shapes(input_shape), on_unknown=on_unknown.value)
    if output_format is OutputFormat.table:
        if output:
            raise InputError("--output needs --format json or csv")
        _print_table(result, top)
        return
    emit(_render_json(result, top) if output_format is OutputFormat.json else _render_csv(result, top), output)


def register(app: typer.Typer) -> None:
    app.command()(estimate)


def _short_op(op_type: str) -> str:
    return "+".join(_SHORT_OPS.get(op, op) for op in op_type.split("+"))


def _shape(shape) -> str:
    return "x".join(str(d) for d in shape) if shape else "-"


def _ordered_layers(est: Estimate, top: int | None):
    if top is None:
        return list(est.layers)
    return sorted(est.layers, key=lambda layer: layer.latency_ms, reverse=True)[:top]


def _render_csv(est: Estimate, top: int | None) -> str:
    rows = []
    for layer in _ordered_layers(est, top):
        row = layer.to_dict()
        row["output_shape"] = _shape(layer.output_shape)
        row["nodes"] = ";".join(layer.nodes)
        rows.append([row[c] for c in _CSV_COLUMNS])
    return csv_text(_CSV_COLUMNS, rows)


def _render_json(est: Estimate, top: int | None) -> str:
    document = est.to_dict()
    if top is not None:
        document["layers"] = [layer.to_dict() for layer in _ordered_layers(est, top)]
    return json.dumps(document, indent=2) + "\n"


def _print_table(est: Estimate, top: int | None) -> None:
    from rich.table import Table

    out = console()
    point = ", ".join(f"{d}={f:g} MHz" for d, f in est.operating_point.freq_mhz.items())
    mode = f"power mode {est.operating_point.power_mode}, " if est.operating_point.power_mode else ""
    table = Table(title=f"{est.model} on {est.platform} ({est.precision}, {mode}{point})", title_justify="left")
    for header, justify in (("#", "right"), ("layer", "left"), ("op", "left"), ("output", "left"),
                            ("MACs", "right"), ("bytes", "right"), ("bound", "left"), ("ms", "right"),
                            ("mJ", "right"), ("share", "right")):
        table.add_column(header, justify=justify, overflow="fold")
    index = {layer.name: i for i, layer in enumerate(est.layers)}
    shown = _ordered_layers(est, top)
    for layer in shown:
        flag = " [unknown-op]" if "unknown-op" in layer.flags else ""
        table.add_row(str(index[layer.name]), layer.name, _short_op(layer.op_type) + flag, _shape(layer.output_shape),
                      human(layer.macs), human(layer.bytes_), layer.bound, f"{layer.latency_ms:.4f}",
                      f"{layer.energy_mj:.4f}", f"{100 * layer.share:.1f}%")
    hidden = len(est.layers) - len(shown)
    if hidden:
        rest = sum(layer.latency_ms for layer in est.layers) - sum(layer.latency_ms for layer in shown)
        table.add_row("", f"... {hidden} more layers", "", "", "", "", "", f"{rest:.4f}", "", "")
    if est.inference_overhead_ms:
        overhead = est.inference_overhead_ms
        table.add_row("", "per-inference overhead", "(runtime)", "", "", "", "", f"{overhead:.4f}", "",
                      f"{100 * overhead / est.total_latency_ms:.1f}%")
    table.add_section()
    table.add_row("", "total", f"{len(est.layers)} layers", "", human(est.total_macs), "", "",
                  f"{est.total_latency_ms:.3f}", f"{est.total_energy_mj:.3f}", "100%")
    out.print(table)
    out.print(f"params {human(est.total_params)}, {est.elided_nodes} shape-only nodes elided, "
              f"profile {est.platform} {est.profile_version}")
    for note in est.notes:
        out.print(f"note: {note}")
