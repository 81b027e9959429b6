"""``edgeperf calibrate`` and ``edgeperf sweep``: measure this device through onnxruntime.

``calibrate`` measures whole networks, fits a profile and validates it on held-out networks;
``sweep`` measures single layers into a resumable sweep file that ``edgeperf fit`` fits.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .._atomic import write_text_atomic
from .._errors import InputError
from .._json import dumps_finite
from .._messages import show
from ._common import Command, PROVIDERS_HELP, console, parse_providers
from ._progress import progress_bar

__all__ = ["register"]


def calibrate(
    name: str = typer.Option(..., "--name", help="Name of the new profile."),
    out: str = typer.Option(..., "--out", "-o", help="The profile .json to write (the report goes beside it)."),
    runtime: str = typer.Option("onnxruntime", "--runtime", help="Runtime to measure through (onnxruntime)."),
    threads: int = typer.Option(1, "--threads", min=1, help="Intra-op threads."),
    providers: str = typer.Option("CPUExecutionProvider", "--providers", help=PROVIDERS_HELP),
    budget_minutes: float = typer.Option(10.0, "--budget-minutes", help="Time budget for the measurements."),
    sweep: Optional[str] = typer.Option(None, "--sweep", help="Sweep file (default OUT without .json + .sweep.csv); "
                                                             "a rerun resumes from it."),
    power: str = typer.Option("auto", "--power", help="Power source: auto (discover), none, ina3221, rapl, nvml, "
                                                      "vcgencmd."),
    max_temp_c: Optional[float] = typer.Option(None, "--max-temp-c",
                                               help="Wait before each measurement until the hottest zone is below this."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar, no line per measurement."),
) -> None:
    """Measure this device, fit a profile to it and validate it on held-out networks."""
    from ..measure import OnnxRuntimeRunner, calibrate as run_calibration
    from ..measure import open_power_source, open_temperature
    from ..profiles import write_profile_file

    if runtime != "onnxruntime":
        raise InputError(f"--runtime {show(runtime)} is not supported yet; supported: onnxruntime")
    target = Path(out)
    sweep_path = Path(sweep) if sweep else target.with_suffix("").with_suffix(".sweep.csv")
    screen = console()
    source = open_power_source(power)
    screen.print(f"power source: {source.describe()['source']}"
                  + ("" if source.describe().get("power") else " (energy will not be calibrated)"))
    with progress_bar(quiet=quiet) as bar:
        result = run_calibration(name, runner=OnnxRuntimeRunner(threads=threads, providers=parse_providers(providers)),
                                 sweep_path=sweep_path, budget_minutes=budget_minutes, progress=bar,
                                 power=source if source.describe().get("power") else None,
                                 max_temp_c=max_temp_c, temperature_c=open_temperature() if max_temp_c else None)
    write_profile_file(result.profile, target)
    report_path = target.with_suffix("").with_suffix(".validation.json")
    write_text_atomic(report_path, dumps_finite(result.validation.to_dict() if result.validation else {}, indent=2)
                      + "\n")
    provenance = result.profile.provenance
    held_out = provenance.validation
    screen.print(f"wrote {target} and {report_path}: {result.measurements} measurements "
                  f"({result.reused} reused from {sweep_path}); cross-validated MAPE "
                  f"{100 * provenance.cross_validation.mape:.1f} %; held-out median |error| "
                  f"{100 * (held_out.median_abs_error if held_out else float('nan')):.1f} %, worst "
                  f"{100 * (held_out.max_abs_error if held_out else float('nan')):.1f} %")
    contended = provenance.details.get("contended", 0)
    if contended > result.measurements / 2:
        screen.print(f"note: {contended} of {result.measurements} measurements ran beside other load (contended): "
                     "relative costs hold, absolute latencies may be slow; calibrate on an idle machine for those")


def sweep(
    out: str = typer.Option(..., "--out", "-o", help="The sweep CSV (a rerun resumes it; SWEEP.meta.json beside it)."),
    threads: int = typer.Option(1, "--threads", min=1, help="Intra-op threads."),
    providers: str = typer.Option("CPUExecutionProvider", "--providers", help=PROVIDERS_HELP),
    budget_minutes: float = typer.Option(3.0, "--budget-minutes", help="Sizes the coarse plan."),
    refine_rounds: int = typer.Option(2, "--refine-rounds", min=0, max=20, help="Adaptive refinement rounds."),
    power: str = typer.Option("auto", "--power", help="Power source: auto, none, ina3221, rapl, nvml, vcgencmd."),
    seed: int = typer.Option(0, "--seed", help="Seed of the plan and the refinement."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar, no line per measurement."),
) -> None:
    """Measure single layers on this device (sparse plan, adaptive refinement) into a resumable sweep file."""
    from ..measure import OnnxRuntimeRunner, open_power_source, plan_sweep, run_sweep

    source = open_power_source(power)
    measures_power = bool(source.describe().get("power"))
    plan = plan_sweep(budget_minutes, seed=seed)
    plan = type(plan)(points=plan.points, refine_rounds=refine_rounds, seed=seed)
    screen = console()
    screen.print(f"{len(plan.points)} coarse layers x {plan.passes} passes, {refine_rounds} refinement rounds; "
                  f"power source: {source.describe()['source']}")
    with progress_bar(quiet=quiet) as bar:
        records = run_sweep(OnnxRuntimeRunner(threads=threads, providers=parse_providers(providers)), out, plan=plan,
                            power=source if measures_power else None, progress=bar,
                            retry_budget_s=0.25 * 60.0 * budget_minutes)
    screen.print(f"wrote {out}: {len(records)} measurements of {len({r.reference for r in records})} layers; "
                  f"fit it with: edgeperf fit {out} --out PROFILE.json")


def register(app: typer.Typer) -> None:
    app.command(cls=Command)(calibrate)
    app.command(cls=Command)(sweep)
