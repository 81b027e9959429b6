"""``edgeperf search``: constrained design-space search over a YAML/TOML spec; the Pareto front and best designs."""

from __future__ import annotations

from typing import Optional

import typer

from .._api import search as run_search
from .._atomic import write_text_atomic
from .._errors import InputError
from .._json import dumps_finite
from ._common import Command, OutputFormat, console, emit, sig
from ._progress import progress_bar

__all__ = ["register"]


def search(
    spec: str = typer.Argument(..., help="Search spec, .yaml or .toml (see examples/traffic_light.yaml)."),
    trials: Optional[int] = typer.Option(None, "--trials", "-n",
                                         help="Sample N designs with optuna (default: evaluate all)."),
    workers: int = typer.Option(1, "--workers", "-w", help="Processes sharing the optuna study."),
    storage: Optional[str] = typer.Option(None, "--storage",
                                          help="journal:PATH (default journal:NAME.journal) or an optuna RDB URL."),
    study_name: Optional[str] = typer.Option(None, "--study-name", help="Study name (default: the spec's name)."),
    sampler: str = typer.Option("auto", "--sampler", help="auto, tpe, nsga2 or random."),
    seed: int = typer.Option(0, "--seed", help="Sampler seed."),
    output_format: OutputFormat = typer.Option(OutputFormat.table, "--format", "-f",
                                               help="table, json (Pareto front) or csv (every design)."),
    output: Optional[str] = typer.Option(None, "--output", "-o", help="Write json/csv to this file."),
    designs_csv: Optional[str] = typer.Option(None, "--csv", help="Also write every design to this CSV file."),
    plot: Optional[str] = typer.Option(None, "--plot", help="Write the front of the first two objectives (PNG)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Find the Pareto front of designs meeting the spec's constraints."""
    with progress_bar(quiet=quiet, lines=False) as bar:
        result = run_search(spec, trials=trials, workers=workers, storage=storage, study_name=study_name,
                            sampler=sampler, seed=seed, progress=bar)
    if designs_csv:
        write_text_atomic(designs_csv, result.designs_csv())
    if plot:
        _plot(result, plot)
    if output_format is OutputFormat.table:
        if output:
            raise InputError("--output needs --format json or csv")
        _print(result, console())
        for path, what in ((designs_csv, "every design"), (plot, "the front")):
            if path:
                console().print(f"wrote {what} to {path}")
        return
    emit(dumps_finite(result.to_dict(), indent=2) + "\n" if output_format is OutputFormat.json else result.designs_csv(),
         output)


def register(app: typer.Typer) -> None:
    app.command(cls=Command)(search)


def _plot(result, path: str) -> None:
    from ._plots import plot_pareto

    if len(result.objectives) < 2:
        raise InputError("--plot needs at least two objectives in the spec")
    (x, _), (y, _) = result.objectives[:2]
    rows = range(result.columns["latency_ms"].size)
    designs = [{"feasible": bool(result.feasible[i]), x: float(result.columns[x][i]), y: float(result.columns[y][i]),
                "model": "", "platform": ""} for i in rows]
    pareto = [{x: getattr(d, x), y: getattr(d, y), "model": d.model, "platform": d.platform} for d in result.pareto]
    plot_pareto(designs, pareto, x, y, path, f"{result.name}: {result.n_feasible} of {result.n_evaluated} feasible")


def _point(design) -> str:
    op = design.operating_point
    clocks = ",".join(f"{k}={v:g}" for k, v in op.freq_mhz.items())
    return f"{op.power_mode} {clocks}" if op.power_mode else clocks


def _split(design) -> str:
    p = design.partition
    if p is None:
        return "-"
    return f"after {p.cut_after} via {p.link} {p.bits}b ({p.transfer_bytes:.0f} B, {p.transfer_ms:.1f} ms)"


def _fmt(value, digits=4) -> str:
    return "-" if value is None else sig(value, digits)


def _print(result, console) -> None:
    from rich.table import Table

    objectives = ", ".join(f"{d} {m}" for m, d in result.objectives)
    counted = (f"{result.n_trials} trials sampled {result.n_evaluated} distinct designs" if result.n_trials is not None
               else f"{result.n_evaluated} designs evaluated")
    console.print(f"{result.name}: {counted} ({result.engine}), {result.n_feasible} feasible; objectives: {objectives}")
    if result.infeasible_by:
        console.print("ruled out by: " + ", ".join(f"{k} {v}" for k, v in result.infeasible_by.items()))
    table = Table(title=f"Pareto front ({len(result.pareto)} designs)", title_justify="left")
    for header in ("model", "platform", "prec", "operating point", "partition", "latency ms", "energy mJ",
                   "accuracy", "cost EUR"):
        numeric = header in ("latency ms", "energy mJ", "accuracy", "cost EUR")
        table.add_column(header, justify="right" if numeric else "left", overflow="fold")
    for d in result.pareto[:40]:
        table.add_row(d.model, d.platform, d.precision, _point(d), _split(d), _fmt(d.latency_ms), _fmt(d.energy_mj),
                      _fmt(d.accuracy), _fmt(d.cost_eur))
    if len(result.pareto) > 40:
        table.add_row(f"... {len(result.pareto) - 40} more (--format json)", "", "", "", "", "", "", "", "")
    console.print(table)
    for best in result.best:
        design = best.design
        if design is not None:
            console.print(f"best {best.metric} ({best.direction}): {design.model} on {design.platform} "
                          f"{design.precision}, {_point(design)}, split {_split(design)}: {sig(design.latency_ms)} ms, "
                          f"{sig(design.energy_mj)} mJ, accuracy {_fmt(design.accuracy)}, cost {_fmt(design.cost_eur)} EUR")
    for note in result.notes:
        console.print(f"note: {note}")
