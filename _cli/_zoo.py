"""``edgeperf zoo list|export``: the reference networks with their sizes and accuracy, and ONNX files of them."""

from __future__ import annotations

import sys
from typing import List, Optional

import typer

from .._errors import InputError
from .._json import dumps_finite
from .._messages import show
from ._common import Command, Group, OutputFormat, console, csv_text, human
from ._progress import progress_bar

__all__ = ["register"]

zoo_app = typer.Typer(cls=Group, no_args_is_help=True, help="Reference networks and NAS search spaces, built in code.")


@zoo_app.command("list", cls=Command)
def zoo_list(
    catalog: List[str] = typer.Option([], "--catalog", help="Accuracy catalog JSON merged over the shipped one."),
    output_format: OutputFormat = typer.Option(OutputFormat.table, "--format", "-f", help="table, json or csv."),
) -> None:
    """List the zoo's networks: task, input, parameters, MACs and published accuracy."""
    from ..zoo import list_entries, list_spaces, load_catalog   # the zoo is imported by the commands that use it

    merged = load_catalog(*catalog)
    rows = [_summary(name, merged) for name in list_entries()]
    if output_format is OutputFormat.json:
        sys.stdout.write(dumps_finite({"networks": rows, "spaces": list(list_spaces())}, indent=2) + "\n")
        return
    if output_format is OutputFormat.csv:
        table = []
        for row in rows:
            acc = row["accuracy"] or {}
            table.append([row["name"], row["task"], row["input"], row["params"], row["macs"], acc.get("metric", ""),
                          acc.get("value", ""), acc.get("source", "")])
        sys.stdout.write(csv_text(["name", "task", "input", "params", "macs", "metric", "accuracy", "source"], table))
        return
    from rich.table import Table

    table = Table(title="zoo networks (zoo:NAME)", title_justify="left")
    table.add_column("name", no_wrap=True)
    for header, justify in (("task", "left"), ("input", "left"), ("params", "right"), ("MACs", "right"),
                            ("accuracy", "right")):
        table.add_column(header, justify=justify)
    for row in rows:
        acc = row["accuracy"]
        shown = f"{acc['value']:.2f} {acc['metric']}" if acc else "-"
        table.add_row(row["name"], row["task"], row["input"], human(row["params"]), human(row["macs"]), shown)
    out = console()
    out.print(table)
    out.print("search spaces (zoo:SPACE:ARCH): " + ", ".join(list_spaces()))


@zoo_app.command("export", cls=Command)
def zoo_export(
    reference: str = typer.Argument(..., help="NAME or SPACE:ARCH (with or without the zoo: prefix)."),
    output: str = typer.Option(..., "--output", "-o", help="The .onnx file to write."),
    input_size: Optional[str] = typer.Option(None, "--input-size", help="HxW (or T for sequences), e.g. 160x160."),
    batch: int = typer.Option(1, "--batch", min=1, help="Batch size."),
    seed: int = typer.Option(0, "--seed", help="Seed of the random weights."),
    num_classes: Optional[int] = typer.Option(None, "--num-classes", min=1, help="Classes of the head."),
    width: Optional[float] = typer.Option(None, "--width", min=0.05, max=4.0, help="Width multiplier (MobileNets)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Write a zoo network as ONNX with seeded random weights (architecture only)."""
    from ..zoo import export_model

    size = None
    if input_size is not None:
        try:
            size = tuple(int(d) for d in input_size.lower().split("x"))
        except ValueError:
            size = ()
        if not size or any(d <= 0 for d in size):
            raise InputError(f"--input-size {show(input_size)} is not HxW with positive integers; example: 160x160")
    with progress_bar(quiet=quiet, lines=False) as bar:
        export_model(reference, output, input_size=size, batch=batch, seed=seed, num_classes=num_classes, width=width,
                     progress=bar)
    console().print(f"wrote {output}")


def register(app: typer.Typer) -> None:
    app.add_typer(zoo_app, name="zoo")


def _summary(name: str, catalog) -> dict:
    """Name, task, default input, parameters, MACs and fp32 accuracy of a zoo network (a row of ``zoo list``)."""
    from ..estimator import load_model
    from ..zoo import ENTRIES, as_reference

    entry = ENTRIES[name]
    graph = load_model(as_reference(name))
    accuracy = catalog.accuracy(name)
    return {"name": name, "task": entry.task, "input": "x".join(str(d) for d in entry.input_shape),
            "params": graph.params, "macs": graph.macs,
            "accuracy": accuracy.to_dict() if accuracy is not None else None, "note": entry.note}
