"""``edgeperf fit``, ``fit-power``, ``fit-thermal`` and ``validate``: make a profile from measurements, and check one.

``fit`` reads a layer sweep, a table of measured networks or a vendor layer profile; ``fit-power``
a table of board power; ``fit-thermal`` a temperature trace. ``validate`` compares a profile's
predictions with a table, or with models measured on this device.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional

import typer

from .._errors import InputError
from .._json import dumps_finite
from ..profiles import load_profile, write_profile_file
from ._common import Command, PROVIDERS_HELP, Choice, OutputFormat, console, csv_text, parse_providers, parse_shapes
from ._progress import progress_bar

__all__ = ["register"]


def fit(
    sweep_file: Optional[str] = typer.Argument(None, metavar="SWEEP", help="A layer sweep from `edgeperf sweep`."),
    networks: Optional[str] = typer.Option(None, "--networks", help="CSV with columns model, latency_ms[, energy_mj]."),
    out: str = typer.Option(..., "--out", "-o", help="The fitted profile .json to write."),
    base: str = typer.Option("jetson-nano", "--base", help="With --networks: profile supplying fusion rules, peaks "
                                                             "and clocks."),
    name: Optional[str] = typer.Option(None, "--name", help="Name of the fitted profile."),
    precision: Optional[str] = typer.Option(None, help="Precision the networks were measured at."),
    input_shape: List[str] = typer.Option([], "--input-shape", help="NAME=1x3x224x224 for dynamic inputs."),
    layer_profile: Optional[str] = typer.Option(None, "--layer-profile",
                                                help="A vendor per-layer profile (onnxruntime, trtexec, OpenVINO, "
                                                     "TFLite benchmark_model) of --model, measured on the board."),
    model: Optional[str] = typer.Option(None, "--model", help="With --layer-profile: the profiled model."),
    merge_siblings: Choice = typer.Option(Choice.auto, "--merge-siblings",
                                          help="With --networks: run convolutions that share their input as one kernel "
                                               "(TensorRT's horizontal fusion); auto: whichever cross-validates better."),
    split_memory: Choice = typer.Option(Choice.auto, "--split-memory",
                                        help="With --networks: weights and outputs get memory coefficients of their "
                                             "own; auto: whichever cross-validates better."),
    network_term: Choice = typer.Option(Choice.auto, "--network-term",
                                        help="With --networks: a power law on the network's layer sum or a critical-path "
                                             "term (overlapped branches); auto: kept when cross-validation gains more "
                                             "than its noise."),
    signature_residuals: Choice = typer.Option(Choice.auto, "--signature-residuals",
                                               help="With --networks: one fitted correction per exact layer signature "
                                                    "(kernels the per-class model misses); auto: kept when "
                                                    "cross-validation gains more than its noise."),
    prior: str = typer.Option("shipped", "--prior",
                              help="With --networks: other devices' coefficients to shrink toward as far as "
                                   "cross-validation wants: shipped, none, or a prior .json file."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Fit a profile to a layer sweep (SWEEP), measured whole networks (--networks) or a vendor layer profile."""
    from ..fitting import fit_from_networks, load_prior, read_network_table   # fitting is imported when used

    given = [x for x in (sweep_file, networks, layer_profile) if x is not None]
    if len(given) != 1:
        raise InputError("give one of: a SWEEP file (from edgeperf sweep), --networks TABLE.csv, or "
                         "--layer-profile FILE --model MODEL")
    what = "networks"
    with progress_bar(quiet=quiet) as bar:
        if sweep_file is not None:
            from ..measure import fit_sweep

            result, what = fit_sweep(sweep_file, name=name or Path(sweep_file).stem, progress=bar), "layers"
        elif layer_profile is not None:
            from ..measure import fit_from_layer_times, read_layer_profile

            if model is None:
                raise InputError("--layer-profile needs --model, the model that was profiled")
            result = fit_from_layer_times(model, read_layer_profile(layer_profile), load_profile(base),
                                          name=name or f"{load_profile(base).name}-layers", source=layer_profile,
                                          precision=precision)
            what = "profiled layers"
        else:
            reference = None if prior == "none" else load_prior(None if prior == "shipped" else prior)
            result = fit_from_networks(read_network_table(networks), load_profile(base), name=name,
                                       precision=precision, source=networks, input_shapes=parse_shapes(input_shape),
                                       merge_siblings=merge_siblings.flag, memory_split=split_memory.flag,
                                       progress=bar, network_term=network_term.flag, prior=reference,
                                       signature_residuals=signature_residuals.flag)
    write_profile_file(result.profile, out)
    _print_fit(result, out, what)


def _print_fit(result, out: str, what: str) -> None:
    from ..fitting import format_rho

    screen = console()
    cv = result.cross_validation
    screen.print(f"wrote {out}: {cv.n} {what}, cross-validated MAPE {100 * cv.mape:.1f} %, "
                  f"{100 * cv.within_10pct:.0f} % within +-10 %, Spearman {format_rho(cv.spearman)}; "
                  f"fitted classes: {', '.join(result.fitted_classes)}")
    merge, terms = result.profile.provenance.sibling_merge, result.profile.provenance.memory_terms
    if merge or terms:
        screen.print("chosen by cross-validation:"
                      + (f" sibling convolutions merged: {'yes' if merge.chosen else 'no'};" if merge else "")
                      + (f" memory terms: {terms.chosen}" if terms else ""))
    _print_network_choices(screen, result.profile)


def _print_network_choices(screen, profile) -> None:
    """The network term and the prior's use, as the fit recorded them."""
    term, leaned = profile.provenance.network_term, profile.provenance.details.get("prior")
    if term is not None:
        kept = profile.network_term.describe() if profile.network_term is not None else "none"
        errors = ", ".join(f"{100 * mape:.1f} % {option}" for option, mape in term.cv_mape.items())
        screen.print(f"network term: {kept} (cross-validated MAPE: {errors})")
    signatures = profile.provenance.signature_residuals
    if signatures is not None:
        kept = profile.signature_residuals.describe() if profile.signature_residuals is not None else "none"
        errors = ", ".join(f"{100 * mape:.1f} % {option}" for option, mape in signatures.cv_mape.items())
        screen.print(f"signature residuals: {kept} (cross-validated MAPE: {errors})")
    if leaned is not None:
        screen.print(f"prior ({leaned['references']} reference devices): "
                     + (f"used, strength {leaned['strength']:g}, lean {leaned['lean']:.2f}" if leaned.get("chosen")
                        else f"not used ({leaned.get('reason') or 'cross-validation preferred the data alone'})"))


def fit_power_command(
    table: Path = typer.Argument(..., help="CSV: state (idle|busy), power_mw, <domain>_mhz columns."),
    base: str = typer.Option(..., "--base", "-p", help="Profile whose power model is fitted."),
    out: str = typer.Option(..., "--out", "-o", help="The profile .json to write."),
) -> None:
    """Fit idle, per-class and per-domain dynamic power to board power measured at several operating points."""
    from ..fitting import fit_power_model, read_power_table

    profile = fit_power_model(read_power_table(table), load_profile(base), source=str(table))
    write_profile_file(profile, out)
    fit = profile.provenance.power_fit
    coefficients = ", ".join(f"{d} {v:.1f} mW" for d, v in fit.coefficients_mw.items())
    console().print(f"wrote {out}: {fit.busy_points} busy and {fit.idle_points} idle points; idle "
                    f"{profile.power.idle_mw:.1f} mW ({fit.idle_from}), dynamic at reference "
                    f"clocks: {coefficients}; largest residual {fit.max_abs_residual_mw:.1f} mW")


def fit_thermal_command(
    trace: Path = typer.Argument(..., help="CSV with columns time_s, temp_c, power_mw (equal time steps)."),
    base: Optional[str] = typer.Option(None, "--base", "-p", help="Profile whose thermal section takes the fit "
                                                                  "(it keeps its throttling policy)."),
    out: Optional[str] = typer.Option(None, "--out", "-o", help="With --base: the profile .json to write."),
) -> None:
    """Fit the RC thermal model (idle base, resistance, time constant) to a recorded temperature trace."""
    from ..measure import read_trace_csv
    from ..fitting import fit_thermal, with_thermal_fit

    if (base is None) != (out is None):
        raise InputError("--base and --out go together: the profile to update and the file to write")
    columns = read_trace_csv(trace, ("time_s", "temp_c", "power_mw"))
    fit = fit_thermal(columns["time_s"], columns["temp_c"], columns["power_mw"])
    if base is not None:
        write_profile_file(with_thermal_fit(load_profile(base), fit, source=str(trace)), out)
        console().print(f"wrote {out}: {load_profile(base).name} with the fitted thermal model")
    console().print(f"{trace}: {len(columns['time_s'])} samples")
    console().print(f"base temperature (zero power): {fit.base_c:.2f} C")
    console().print(f"thermal resistance: {fit.resistance_c_per_w:.3f} C/W")
    console().print(f"time constant: {fit.time_constant_s:.1f} s (heat capacity {fit.heat_capacity_j_per_c:.1f} J/K)")


def validate(
    models: Optional[List[str]] = typer.Argument(None, metavar="MODEL",
                                                 help="Models to measure on this device (files or zoo:NAME)."),
    table: Optional[str] = typer.Option(None, "--table", help="CSV with columns model, latency_ms (no device needed)."),
    platform: str = typer.Option(..., "--platform", "-p", help="Profile to validate."),
    precision: Optional[str] = typer.Option(None, help="Precision the networks were measured at."),
    input_shape: List[str] = typer.Option([], "--input-shape", help="NAME=1x3x224x224 for dynamic inputs "
                                                                     "(repeatable)."),
    layers: bool = typer.Option(False, "--layers", help="With MODELs: also compare layer by layer (ORT profiler)."),
    threads: int = typer.Option(1, "--threads", min=1, help="With MODELs: intra-op threads."),
    providers: str = typer.Option("CPUExecutionProvider", "--providers", help=PROVIDERS_HELP),
    output_format: OutputFormat = typer.Option(OutputFormat.table, "--format", "-f", help="table, json or csv."),
    budget_minutes: float = typer.Option(2.0, "--budget-minutes", min=0.0,
                                         help="With MODELs: time allowed for re-measuring what other load disturbed."),
    plot: Optional[str] = typer.Option(None, "--plot", help="Write measured against predicted (log-log, +-10 % "
                                                            "band) to this PNG."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Compare a profile's predictions with measurements: a table of them, or MODELs measured on this device."""
    from ..fitting import read_network_table, validate_table

    if bool(models) == bool(table):
        raise InputError("give MODEL... to measure on this device or --table TABLE.csv, not both or neither")
    profile = load_profile(platform)
    shapes = parse_shapes(input_shape) or None
    quiet = quiet or output_format is not OutputFormat.table
    device = None
    with progress_bar(quiet=quiet) as bar:
        if models:
            from ..measure import Harness, OnnxRuntimeRunner, cpu_timing, validate_on_device

            runner = OnnxRuntimeRunner(threads=threads, providers=parse_providers(providers))
            device = validate_on_device(models, profile, runner=runner,
                                        harness=Harness(rounds=7, round_s=0.1, warmup_s=0.2,
                                                        retry_budget_s=60.0 * budget_minutes,
                                                        **cpu_timing(runner.settings())), precision=precision,
                                        layers=layers, progress=bar, input_shapes=shapes)
            report = device.report
        else:
            report = validate_table(read_network_table(table), profile, precision=precision, input_shapes=shapes,
                                    progress=bar)
    if plot:
        from ._plots import plot_validation

        plot_validation(report, plot)
    if output_format is OutputFormat.json:
        sys.stdout.write(dumps_finite(device.to_dict() if device else report.to_dict(), indent=2) + "\n")
    elif output_format is OutputFormat.csv:
        sys.stdout.write(csv_text(["model", "measured_ms", "predicted_ms", "error"],
                                  ([r.model, r.measured_ms, r.predicted_ms, r.error] for r in report.rows)))
    else:
        _print_validation(report, device, console())
        if plot:
            console().print(f"wrote {plot}")


def _print_validation(report, device, screen) -> None:
    from rich.table import Table

    from ..fitting import format_rho

    table_view = Table(title=f"validation of {report.platform}", title_justify="left")
    for header, justify in (("model", "left"), ("measured ms", "right"), ("predicted ms", "right"), ("error", "right")):
        table_view.add_column(header, justify=justify, overflow="fold")
    for row in report.rows:
        table_view.add_row(row.model, f"{row.measured_ms:.4g}", f"{row.predicted_ms:.4g}", f"{100 * row.error:+.1f}%")
    screen.print(table_view)
    if device is not None and device.layers:
        layer_view = Table(title="layer by layer (onnxruntime profiler)", title_justify="left")
        for header in ("model", "layer", "op", "measured ms", "predicted ms", "error"):
            layer_view.add_column(header, justify="right" if "ms" in header or header == "error" else "left",
                                  overflow="fold")
        for c in device.layers:
            layer_view.add_row(c.model, c.layer, c.op_type, f"{c.measured_ms:.4f}",
                               f"{c.predicted_ms:.4f}" if c.predicted_ms is not None else "-",
                               f"{100 * c.error:+.0f}%" if c.error is not None else "runtime-only")
        screen.print(layer_view)
    summary = report.summary
    screen.print(f"n {summary.n}, MAPE {100 * summary.mape:.1f} %, within +-10 % "
                 f"{100 * summary.within_10pct:.0f} %, Spearman {format_rho(summary.spearman)}")
    if device is not None and device.flagged:
        screen.print("flagged measurements: " + ", ".join(f"{k} {v}" for k, v in device.flagged.items()))

def register(app: typer.Typer) -> None:
    app.command(cls=Command)(fit)
    app.command("fit-power", cls=Command)(fit_power_command)
    app.command("fit-thermal", cls=Command)(fit_thermal_command)
    app.command(cls=Command)(validate)
