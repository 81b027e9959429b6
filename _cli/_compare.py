"""The comparison matrix of ``edgeperf estimate MODEL... -p A -p B --precision P...``: table and CSV.

Rows are models, columns board x precision; a cell shows latency, throughput, energy per
inference, the interval where the profile gives one, and flags a latency that is only a bound.
"""

from __future__ import annotations

from ..estimator import Comparison, ComparisonCell
from ._common import csv_text, sig

__all__ = ["comparison_csv", "print_comparison"]

_CSV_COLUMNS = ["model", "platform", "precision", "latency_ms", "latency_ms_low", "latency_ms_high",
                "interval_coverage", "throughput_per_s", "energy_mj", "latency_is_bound", "skipped"]


def comparison_csv(comparison: Comparison) -> str:
    """One row per cell (model, platform, precision), empty fields where a value is unknown."""
    rows = []
    for cell in comparison.cells:
        record = cell.to_dict()
        rows.append(["" if record[c] is None else record[c] for c in _CSV_COLUMNS])
    return csv_text(_CSV_COLUMNS, rows)


def _column_label(platform: str, precision: str | None) -> str:
    return platform if precision is None else f"{platform}\n{precision}"


def _cell_text(cell: ComparisonCell, intervals: bool) -> str:
    est = cell.estimate
    if est is None:
        return "-"
    bound = ">= " if est.latency_is_bound else ""
    lines = [f"{bound}{sig(est.total_latency_ms)} ms" + (" *" if est.latency_is_bound else ""),
             f"{bound}{sig(est.throughput_per_s)} /s", f"{sig(est.total_energy_mj)} mJ"]
    if intervals:
        interval = cell.interval_ms
        lines.append(f"[{sig(interval[0], 3)}, {sig(interval[1], 3)}] ms" if interval else "no interval")
    if cell.precision is None:
        lines.append(est.precision)
    return "\n".join(lines)


def print_comparison(comparison: Comparison, console) -> None:
    """The matrix, leaving out columns no model runs in (they are listed below it), then what the flags mean."""
    from rich.table import Table

    kept = [(p, q) for p, q in comparison.columns
            if any(c.estimate is not None for c in comparison.cells if (c.platform, c.precision) == (p, q))]
    intervals = comparison.has_intervals
    what = "latency, throughput, energy per inference" + (", interval" if intervals else "")
    table = Table(title=f"{len(comparison.models)} models x {len(kept)} board/precision columns ({what})",
                  title_justify="left", show_lines=True)
    table.add_column("model", overflow="fold")
    for platform, precision in kept:
        table.add_column(_column_label(platform, precision), justify="right", overflow="fold")
    for model in comparison.models:
        table.add_row(model, *(_cell_text(comparison.cell(model, p, q), intervals) for p, q in kept))
    console.print(table)
    if any(c.estimate is not None and c.estimate.latency_is_bound for c in comparison.cells):
        console.print("* a datasheet roofline: the latency is an optimistic lower bound, not a prediction "
                      "(throughput an upper bound)")
    skipped = sorted({c.skipped for c in comparison.cells if c.skipped and (c.platform, c.precision) not in kept})
    for reason in skipped:
        console.print(f"not run: {reason}")
    if any(c.estimate is not None and c.estimate.total_energy_mj is None for c in comparison.cells):
        console.print("energy unknown where a profile has no power model")
