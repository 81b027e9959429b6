"""``edgeperf estimate``: per-layer and total latency and energy of one model, or a comparison of several.

One model on one platform at one precision gives the per-layer table (JSON, CSV); more models,
platforms (``-p A -p B``) or precisions give the comparison matrix (``_compare``).
"""

from __future__ import annotations

from typing import List, Optional

import typer

from .._api import compare as run_compare
from .._api import estimate as run_estimate
from .._errors import InputError
from .._json import dumps_finite
from ..estimator import Estimate
from ._common import Command, OnUnknown, OutputFormat, console, csv_text, deliver, human, parse_freqs, parse_shapes, sig
from ._compare import comparison_csv, print_comparison

__all__ = ["register"]

_SHORT_OPS = {"BatchNormalization": "BN", "QuantizeLinear": "Q", "DequantizeLinear": "DQ",
              "GlobalAveragePool": "GAP", "LayerNormalization": "LN", "HardSwish": "HSwish"}
_CSV_COLUMNS = ["name", "op_type", "op_class", "output_shape", "macs", "flops", "params", "bytes", "precision",
                "cost_model", "bound", "compute_ms", "memory_ms", "latency_ms", "power_mw", "energy_mj", "share", "nodes"]


def estimate(
    models: List[str] = typer.Argument(..., metavar="MODEL", help="An .onnx or .tflite file, or zoo:NAME; several "
                                                                "compare them."),
    platforms: List[str] = typer.Option(..., "--platform", "-p", help="Shipped profile name or profile .json path; "
                                                                      "repeat it to compare boards."),
    precisions: List[str] = typer.Option([], "--precision", help="fp32, fp16 or int8 (default: the platform's); "
                                                                 "repeat it to compare precisions."),
    power_mode: Optional[str] = typer.Option(None, "--power-mode", help="Named power mode, e.g. 5W or MAXN."),
    freq: List[str] = typer.Option([], "--freq", help="Clock of a domain, DOMAIN=MHZ (repeatable), e.g. gpu=640."),
    input_shape: List[str] = typer.Option([], "--input-shape", help="NAME=1x3x224x224 for dynamic inputs (repeatable)."),
    on_unknown: OnUnknown = typer.Option(OnUnknown.error, "--on-unknown", help="error, or roofline for unknown ops."),
    top: Optional[int] = typer.Option(None, "--top", min=1, help="Show only the N slowest layers."),
    output_format: OutputFormat = typer.Option(OutputFormat.table, "--format", "-f", help="table, json or csv."),
    output: Optional[str] = typer.Option(None, "--output", "-o", help="Write json/csv to this file (atomically)."),
    plot: Optional[str] = typer.Option(None, "--plot", help="Write a PNG: per-layer latency and roofline of one "
                                                            "estimate, or the comparison's bars."),
) -> None:
    """Predict per-layer and total latency and energy of MODEL on a platform, or compare models, boards and precisions."""
    shapes = parse_shapes(input_shape)
    if len(models) > 1 or len(platforms) > 1 or len(precisions) > 1:
        if freq or top:
            raise InputError(f"{'--freq' if freq else '--top'} applies to one estimate (one model, platform and "
                             "precision); a comparison shows totals at each board's default clocks")
        result = run_compare(models, platforms, precisions=precisions or None, power_mode=power_mode,
                             input_shapes=shapes, on_unknown=on_unknown.value)
        if plot:
            from ._plots import plot_comparison

            plot_comparison(result, plot)
        deliver(output_format.value, output, plot, json_text=lambda: dumps_finite(result.to_dict(), indent=2) + "\n",
                csv_text=lambda: comparison_csv(result), table=lambda: print_comparison(result, console()))
        return
    result = run_estimate(models[0], platforms[0], precision=precisions[0] if precisions else None,
                          power_mode=power_mode, freq_mhz=parse_freqs(freq), input_shapes=shapes,
                          on_unknown=on_unknown.value)
    if plot:
        from ._plots import plot_estimate

        plot_estimate(result, plot, top=top)
    deliver(output_format.value, output, plot, json_text=lambda: _render_json(result, top),
            csv_text=lambda: _render_csv(result, top), table=lambda: _print_table(result, top))


def register(app: typer.Typer) -> None:
    app.command(cls=Command)(estimate)


def _short_op(op_type: str) -> str:
    return "+".join(_SHORT_OPS.get(op, op) for op in op_type.split("+"))


def _shape(shape) -> str:
    return "x".join(str(d) for d in shape) if shape else "-"


def _ordered_layers(est: Estimate, top: int | None):
    if top is None:
        return list(est.layers)
    return sorted(est.layers, key=lambda layer: layer.latency_ms, reverse=True)[:top]


def _render_csv(est: Estimate, top: int | None) -> str:
    """One row per layer, then the layers --top left out, the per-inference overhead and the total: the
    ``latency_ms`` column sums to the total (every row names the model and platform)."""
    rows = []
    shown = _ordered_layers(est, top)
    for layer in shown:
        row = layer.to_dict()
        row["output_shape"] = _shape(layer.output_shape)
        row["nodes"] = ";".join(layer.nodes)
        rows.append([est.model, est.platform] + [row[c] for c in _CSV_COLUMNS])
    summary = []
    hidden = _hidden(est, shown)
    if hidden:
        summary.append(_summary_row(f"{len(hidden)} other layers", "other", sum(l.latency_ms for l in hidden),
                                    _sum_energy(hidden), est))
    if est.inference_overhead_ms:
        summary.append(_summary_row("per-inference overhead", "overhead", est.inference_overhead_ms,
                                    est.overhead_energy_mj, est))
    summary.append(_summary_row("total", "total", est.total_latency_ms, est.total_energy_mj, est))
    rows += [[est.model, est.platform] + [row.get(c, "") for c in _CSV_COLUMNS] for row in summary]
    return csv_text(["model", "platform"] + _CSV_COLUMNS, rows)


def _hidden(est: Estimate, shown: list) -> list:
    """The layers --top leaves out, in network order."""
    kept = {id(layer) for layer in shown}
    return [layer for layer in est.layers if id(layer) not in kept]


def _sum_energy(layers) -> float | None:
    energies = [layer.energy_mj for layer in layers]
    return None if any(e is None for e in energies) else sum(energies)


def _summary_row(name: str, kind: str, latency_ms: float, energy_mj: float | None, est: Estimate) -> dict:
    """A CSV row that is not a layer: its name, ``op_type`` saying what it is, latency, energy and share."""
    return {"name": name, "op_type": kind, "latency_ms": latency_ms, "energy_mj": "" if energy_mj is None else energy_mj,
            "share": latency_ms / est.total_latency_ms if est.total_latency_ms > 0 else 0.0,
            "precision": est.precision, "macs": est.total_macs if kind == "total" else ""}


def _render_json(est: Estimate, top: int | None) -> str:
    document = est.to_dict()
    if top is not None:
        document["layers"] = [layer.to_dict() for layer in _ordered_layers(est, top)]
    return dumps_finite(document, indent=2) + "\n"


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
        flags = "".join(f" [{flag}]" for flag in layer.flags)
        table.add_row(str(index[layer.name]), layer.name, _short_op(layer.op_type) + flags, _shape(layer.output_shape),
                      human(layer.macs), human(layer.bytes_), layer.bound, sig(layer.latency_ms),
                      sig(layer.energy_mj), f"{100 * layer.share:.1f}%")
    hidden = _hidden(est, shown)
    if hidden:
        rest = sum(layer.latency_ms for layer in hidden)
        table.add_row("", f"... {len(hidden)} more layers", "", "", "", "", "", sig(rest), sig(_sum_energy(hidden)),
                      f"{100 * rest / est.total_latency_ms:.1f}%" if est.total_latency_ms > 0 else "")
    if est.inference_overhead_ms:
        overhead = est.inference_overhead_ms
        table.add_row("", "per-inference overhead", "(runtime)", "", "", "", "", sig(overhead),
                      sig(est.overhead_energy_mj), f"{100 * overhead / est.total_latency_ms:.1f}%")
    table.add_section()
    bound = ">= " if est.latency_is_bound else ""
    table.add_row("", "total" + (" (a lower bound)" if est.latency_is_bound else ""), f"{len(est.layers)} layers", "",
                  human(est.total_macs), "", "", bound + sig(est.total_latency_ms), sig(est.total_energy_mj), "100%")
    out.print(table)
    if est.total_latency_ms_low is not None:
        out.print(f"latency {sig(est.total_latency_ms)} ms, {100 * est.interval_coverage:.0f} % interval "
                  f"{sig(est.total_latency_ms_low)}-{sig(est.total_latency_ms_high)} ms (from the profile's held-out "
                  "fit residuals)")
    throughput = est.throughput_per_s
    out.print(f"throughput {bound}{sig(throughput)} inferences/s at batch {est.batch}"
              + (" (a bound, like the latency)" if est.latency_is_bound else "")
              + f"; params {human(est.total_params)}, {est.elided_nodes} nodes elided, "
              f"profile {est.platform} {est.profile_version}")
    for note in est.notes:
        out.print(f"note: {note}")
