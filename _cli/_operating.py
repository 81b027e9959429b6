"""``edgeperf dvfs`` and ``edgeperf simulate``: a model over its platform's clock grid, and over a sustained run."""

from __future__ import annotations

from typing import List, Optional

import numpy as np
import typer

from .._api import dvfs as run_dvfs
from .._api import simulate as run_simulate
from .._json import dumps_finite
from ._common import Command, OutputFormat, console, csv_text, deliver, parse_shapes, sig

__all__ = ["register"]


def dvfs(
    model: str = typer.Argument(..., help="An .onnx or .tflite file, or zoo:NAME."),
    platform: str = typer.Option(..., "--platform", "-p", help="Shipped profile name or profile .json path."),
    precision: Optional[str] = typer.Option(None, help="fp32, fp16 or int8 (default: the platform's)."),
    power_mode: Optional[str] = typer.Option(None, "--power-mode", help="Power mode whose caps bound the grid."),
    max_latency_ms: Optional[float] = typer.Option(None, "--max-latency-ms",
                                                   help="Also report the lowest-energy point within this latency."),
    input_shape: List[str] = typer.Option([], "--input-shape", help="NAME=1x3x224x224 for dynamic inputs."),
    output_format: OutputFormat = typer.Option(OutputFormat.table, "--format", "-f", help="table, json or csv."),
    output: Optional[str] = typer.Option(None, "--output", "-o", help="Write json/csv to this file."),
    plot: Optional[str] = typer.Option(None, "--plot", help="Write energy and latency against clock to this PNG."),
) -> None:
    """Latency, power and energy per inference over the whole frequency grid; optimal operating points."""
    report = run_dvfs(model, platform, precision=precision, power_mode=power_mode, max_latency_ms=max_latency_ms,
                      input_shapes=parse_shapes(input_shape))
    if plot:
        from ._plots import plot_dvfs

        plot_dvfs(report, plot)
    names = list(report.points[0].freq_mhz)
    deliver(output_format.value, output, plot,
            json_text=lambda: dumps_finite(report.to_dict(), indent=2) + "\n",
            csv_text=lambda: csv_text([f"{n}_mhz" for n in names] + ["latency_ms", "power_mw", "energy_mj"],
                                      ([p.freq_mhz[n] for n in names] + [p.latency_ms, p.power_mw, p.energy_mj]
                                       for p in report.points)),
            table=lambda: _print_dvfs(report, console()))


def simulate(
    model: str = typer.Argument(..., help="An .onnx or .tflite file, or zoo:NAME."),
    platform: str = typer.Option(..., "--platform", "-p", help="Profile with a thermal model (coral-edgetpu)."),
    inferences: int = typer.Option(..., "--inferences", "-n", help="Number of back-to-back inferences."),
    ambient_c: Optional[float] = typer.Option(None, "--ambient-c", help="Ambient temperature (default: the profile's)."),
    gap_ms: float = typer.Option(0.0, "--gap-ms", help="Idle host time after each inference (ms)."),
    precision: Optional[str] = typer.Option(None, help="fp32, fp16 or int8 (default: the platform's)."),
    power_mode: Optional[str] = typer.Option(None, "--power-mode", help="Named power mode."),
    output_format: OutputFormat = typer.Option(OutputFormat.table, "--format", "-f",
                                               help="table, json or csv (per-inference trace)."),
    output: Optional[str] = typer.Option(None, "--output", "-o", help="Write json/csv to this file."),
    plot: Optional[str] = typer.Option(None, "--plot", help="Write temperature and latency over time to this PNG."),
) -> None:
    """Simulate a sustained run: temperature, throttling, per-inference latency, total time and energy."""
    result = run_simulate(model, platform, inferences=inferences, precision=precision, power_mode=power_mode,
                          ambient_c=ambient_c, gap_ms=gap_ms)
    if plot:
        from ._plots import plot_simulation

        plot_simulation(result, plot)
    deliver(output_format.value, output, plot,
            json_text=lambda: dumps_finite(result.to_dict()) + "\n",
            csv_text=lambda: result.check_exportable() or csv_text(["inference", "latency_ms", "temp_c", "clock_mhz"],
                                      zip(range(result.inferences), result.latency_ms_trace.tolist(),
                                          result.temp_c_trace.tolist(), result.clock_mhz_trace.tolist())),
            table=lambda: _print_simulation(result, console()))


def register(app: typer.Typer) -> None:
    app.command(cls=Command)(dvfs)
    app.command(cls=Command)(simulate)


def _freq_text(freq_mhz) -> str:
    return ", ".join(f"{name}={mhz:g}" for name, mhz in freq_mhz.items())


def _print_dvfs(report, console) -> None:
    from rich.table import Table

    table = Table(title=f"{report.model} on {report.platform} ({report.precision}, power mode {report.power_mode}): "
                        f"{len(report.points)} operating points", title_justify="left")
    for header in ("clocks (MHz)", "latency ms", "power mW", "energy mJ", "optimum"):
        table.add_column(header, justify="left" if header in ("clocks (MHz)", "optimum") else "right")
    limit = report.best_under_limit
    for point in report.points:
        tags = [t for p, t in ((report.energy_optimal, "min energy"), (report.latency_optimal, "min latency"),
                               (limit, "best within limit")) if p is point]
        table.add_row(_freq_text(point.freq_mhz), sig(point.latency_ms), f"{point.power_mw:.0f}",
                      sig(point.energy_mj), ", ".join(tags))
    console.print(table)
    console.print(f"energy-optimal {_freq_text(report.energy_optimal.freq_mhz)}: {report.energy_optimal.energy_mj:.3f} mJ, "
                  f"{report.energy_saving_vs_max_pct:.1f}% below max clocks "
                  f"({report.energy_saving_vs_governor_pct:.1f}% below the default governor)")
    if report.max_latency_ms is not None:
        if limit is None:
            console.print(f"no operating point meets {report.max_latency_ms:g} ms")
        else:
            console.print(f"within {report.max_latency_ms:g} ms: {_freq_text(limit.freq_mhz)}, "
                          f"{limit.latency_ms:.3f} ms, {limit.energy_mj:.3f} mJ")
    for note in report.notes:
        console.print(f"note: {note}")


def _print_simulation(result, console) -> None:
    lat = result.latency_ms_trace
    console.print(f"{result.model} on {result.platform} ({result.precision}), {result.inferences} inferences at "
                  f"{result.ambient_c:g} C ambient, {result.gap_ms:g} ms idle between inferences")
    console.print(f"total time {result.total_time_s:.2f} s, energy {result.energy_j:.2f} J, "
                  f"max temperature {result.max_temp_c:.2f} C")
    console.print(f"latency: first {lat[0]:.2f} ms, median {float(np.median(lat)):.2f} ms, max after the first "
                  f"{float(lat[1:].max()) if lat.size > 1 else float(lat[0]):.2f} ms")
    events = result.throttle_events
    console.print(f"throttle events: {len(events)}" + (
        f" (first at {events[0].time_s:.1f} s, {events[0].temp_c:.2f} C, capped to {events[0].cap_mhz:g} MHz)"
        if events else ""))
    for note in result.notes:
        console.print(f"note: {note}")
