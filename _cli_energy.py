"""CLI commands for operating points and sustained runs: ``dvfs``, ``simulate``, ``fit-thermal``.

Registered on the main typer app by ``cli.py``; thin like the rest of the CLI.
"""

import json
import sys
from pathlib import Path
from typing import List, Optional

import numpy as np
import typer

from ._atomic import write_text_atomic
from ._errors import InputError

__all__ = ["register"]


def _emit(text: str, output: Optional[str]) -> None:
    if output:
        write_text_atomic(output, text)
    else:
        sys.stdout.write(text)


def _deliver(fmt: str, output, plot, console, *, json_text, csv_text, table) -> None:
    """Write json/csv (to ``output`` or stdout) or print the table, and say where the plot went."""
    if fmt == "json":
        _emit(json_text(), output)
    elif fmt == "csv":
        _emit(csv_text(), output)
    else:
        if output:
            raise InputError("--output needs --format json or csv")
        table()
        if plot:
            console().print(f"wrote {plot}")


def _freq_text(freq_mhz) -> str:
    return ", ".join(f"{name}={mhz:g}" for name, mhz in freq_mhz.items())


def register(app: typer.Typer, *, console, csv_text, parse_shapes, formats) -> None:
    """Add the commands to ``app``; helpers come from ``cli.py`` so output looks the same everywhere."""

    @app.command()
    def dvfs(
        model: str = typer.Argument(..., help="An .onnx or .tflite file, or zoo:NAME."),
        platform: str = typer.Option(..., "--platform", "-p", help="Shipped profile name or profile .json path."),
        precision: Optional[str] = typer.Option(None, help="fp32, fp16 or int8 (default: the platform's)."),
        power_mode: Optional[str] = typer.Option(None, "--power-mode", help="Power mode whose caps bound the grid."),
        max_latency_ms: Optional[float] = typer.Option(None, "--max-latency-ms",
                                                       help="Also report the lowest-energy point within this latency."),
        input_shape: List[str] = typer.Option([], "--input-shape", help="NAME=1x3x224x224 for dynamic inputs."),
        output_format: formats = typer.Option(formats.table, "--format", "-f", help="table, json or csv."),
        output: Optional[str] = typer.Option(None, "--output", "-o", help="Write json/csv to this file."),
        plot: Optional[str] = typer.Option(None, "--plot", help="Write energy and latency against clock to this PNG."),
    ) -> None:
        """Latency, power and energy per inference over the whole frequency grid; optimal operating points."""
        from . import dvfs as run_dvfs

        report = run_dvfs(model, platform, precision=precision, power_mode=power_mode, max_latency_ms=max_latency_ms,
                          input_shapes=parse_shapes(input_shape))
        if plot:
            from ._plots import plot_dvfs

            plot_dvfs(report, plot)
        names = list(report.points[0].freq_mhz)
        _deliver(formats(output_format).value, output, plot, console,
                 json_text=lambda: json.dumps(report.to_dict(), indent=2) + "\n",
                 csv_text=lambda: csv_text([f"{n}_mhz" for n in names] + ["latency_ms", "power_mw", "energy_mj"],
                                           ([p.freq_mhz[n] for n in names] + [p.latency_ms, p.power_mw, p.energy_mj]
                                            for p in report.points)),
                 table=lambda: _print_dvfs(report, console()))

    @app.command()
    def simulate(
        model: str = typer.Argument(..., help="An .onnx or .tflite file, or zoo:NAME."),
        platform: str = typer.Option(..., "--platform", "-p", help="Profile with a thermal model (coral-edgetpu)."),
        inferences: int = typer.Option(..., "--inferences", "-n", help="Number of back-to-back inferences."),
        ambient_c: Optional[float] = typer.Option(None, "--ambient-c", help="Ambient temperature (default: the profile's)."),
        gap_ms: float = typer.Option(0.0, "--gap-ms", help="Idle host time after each inference (ms)."),
        precision: Optional[str] = typer.Option(None, help="fp32, fp16 or int8 (default: the platform's)."),
        power_mode: Optional[str] = typer.Option(None, "--power-mode", help="Named power mode."),
        output_format: formats = typer.Option(formats.table, "--format", "-f", help="table, json or csv (per-inference trace)."),
        output: Optional[str] = typer.Option(None, "--output", "-o", help="Write json/csv to this file."),
        plot: Optional[str] = typer.Option(None, "--plot", help="Write temperature and latency over time to this PNG."),
    ) -> None:
        """Simulate a sustained run: temperature, throttling, per-inference latency, total time and energy."""
        from . import simulate as run_simulate

        result = run_simulate(model, platform, inferences=inferences, precision=precision, power_mode=power_mode,
                              ambient_c=ambient_c, gap_ms=gap_ms)
        if plot:
            from ._plots import plot_simulation

            plot_simulation(result, plot)
        _deliver(formats(output_format).value, output, plot, console,
                 json_text=lambda: json.dumps(result.to_dict()) + "\n",
                 csv_text=lambda: csv_text(["inference", "latency_ms", "temp_c", "clock_mhz"],
                                           zip(range(result.inferences), result.latency_ms_trace.tolist(),
                                               result.temp_c_trace.tolist(), result.clock_mhz_trace.tolist())),
                 table=lambda: _print_simulation(result, console()))

    @app.command("fit-power")
    def fit_power_command(
        table: Path = typer.Argument(..., help="CSV: state (idle|busy), power_mw, <domain>_mhz columns."),
        base: str = typer.Option(..., "--base", "-p", help="Profile whose power model is fitted."),
        out: str = typer.Option(..., "--out", "-o", help="The profile .json to write."),
    ) -> None:
        """Fit idle, per-class and per-domain dynamic power to board power measured at several operating points."""
        from .profiles import fit_power_model, load_profile, read_power_table, write_profile_file

        profile = fit_power_model(read_power_table(table), load_profile(base), source=str(table))
        write_profile_file(profile, out)
        fit = profile.provenance.power_fit
        coefficients = ", ".join(f"{d} {v:.1f} mW" for d, v in fit.coefficients_mw.items())
        console().print(f"wrote {out}: {fit.busy_points} busy and {fit.idle_points} idle points; idle "
                        f"{profile.power.idle_mw:.1f} mW ({fit.idle_from}), dynamic at reference "
                        f"clocks: {coefficients}; largest residual {fit.max_abs_residual_mw:.1f} mW")

    @app.command("fit-thermal")
    def fit_thermal_command(
        trace: Path = typer.Argument(..., help="CSV with columns time_s, temp_c, power_mw (equal time steps)."),
    ) -> None:
        """Fit the RC thermal model (idle base, resistance, time constant) to a recorded temperature trace."""
        from .operating import fit_thermal
        from .measure import read_trace_csv

        columns = read_trace_csv(trace, ("time_s", "temp_c", "power_mw"))
        base, resistance, tau = fit_thermal(columns["time_s"], columns["temp_c"], columns["power_mw"])
        console().print(f"{trace}: {len(columns['time_s'])} samples")
        console().print(f"base temperature (zero power): {base:.2f} C")
        console().print(f"thermal resistance: {resistance:.3f} C/W")
        console().print(f"time constant: {tau:.1f} s (heat capacity {tau / resistance:.1f} J/K)")


def _print_dvfs(report, console) -> None:
    from rich.table import Table

    table = Table(title=f"{report.model} on {report.platform} ({report.precision}, power mode {report.power_mode}): "
                        f"{len(report.points)} operating points", title_justify="left")
    for header in ("clocks (MHz)", "latency ms", "power mW", "energy mJ", ""):
        table.add_column(header, justify="left" if header.startswith("clocks") or not header else "right")
    limit = report.best_under_limit
    for point in report.points:
        tags = [t for p, t in ((report.energy_optimal, "min energy"), (report.latency_optimal, "min latency"),
                               (limit, "best within limit")) if p is point]
        table.add_row(_freq_text(point.freq_mhz), f"{point.latency_ms:.3f}", f"{point.power_mw:.0f}",
                      f"{point.energy_mj:.3f}", ", ".join(tags))
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
