"""What every command shares: the console, option types and parsers, CSV text, and writing output."""

from __future__ import annotations

import csv
import io
import re
import sys
from enum import Enum

from .._atomic import write_text_atomic
from .._errors import InputError
from ..estimator import parse_input_shape

__all__ = ["console", "csv_text", "emit", "deliver", "OutputFormat", "OnUnknown", "Choice", "parse_freqs",
           "parse_shapes", "parse_providers", "PROVIDERS_HELP", "human", "first_sentence"]


def console():
    """A rich console for tables and messages (160 columns wide when stdout is not a terminal)."""
    from rich.console import Console

    return Console(highlight=False, markup=False, width=None if sys.stdout.isatty() else 160)


class OutputFormat(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"


class OnUnknown(str, Enum):
    error = "error"
    roofline = "roofline"


class Choice(str, Enum):
    """yes, no, or auto (decided from the data)."""

    auto = "auto"
    yes = "yes"
    no = "no"

    @property
    def flag(self) -> bool | None:
        return None if self is Choice.auto else self is Choice.yes


def csv_text(header: list[str], rows) -> str:
    """CSV text with a header line (the one writer setup every command's --format csv uses)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def emit(text: str, output: str | None) -> None:
    """``text`` to the file ``output`` (atomically), or to stdout."""
    if output:
        write_text_atomic(output, text)
    else:
        sys.stdout.write(text)


def deliver(fmt: str, output, plot, *, json_text, csv_text, table) -> None:
    """Write json/csv (to ``output`` or stdout) or print the table, and say where the plot went."""
    if fmt == "json":
        emit(json_text(), output)
    elif fmt == "csv":
        emit(csv_text(), output)
    else:
        if output:
            raise InputError("--output needs --format json or csv")
        table()
        if plot:
            console().print(f"wrote {plot}")


def parse_freqs(values: list[str]) -> dict[str, float]:
    """``["gpu=640"]`` -> ``{"gpu": 640.0}``.

    >>> parse_freqs(["gpu=640", "emc=1600"])
    {'gpu': 640.0, 'emc': 1600.0}
    """
    freqs = {}
    for text in values:
        domain, sep, value = text.partition("=")
        try:
            mhz = float(value)
        except ValueError:
            mhz = -1.0
        if not sep or not domain or mhz <= 0:
            raise InputError(f"--freq {text!r} is not DOMAIN=MHZ; example: --freq gpu=640")
        freqs[domain] = mhz
    return freqs


def parse_shapes(texts: list[str]) -> dict:
    """``--input-shape`` values as ``{name: shape}``."""
    return dict(parse_input_shape(text) for text in texts)


PROVIDERS_HELP = ("onnxruntime execution providers, comma-separated, first preferred "
                  "(CUDAExecutionProvider, TensorrtExecutionProvider where installed).")


def parse_providers(text: str) -> tuple[str, ...]:
    names = tuple(p.strip() for p in text.split(",") if p.strip())
    if not names:
        raise InputError("--providers needs at least one execution provider, e.g. CPUExecutionProvider")
    return names


def human(count: float) -> str:
    """A count with a k/M/G suffix, two decimals.

    >>> human(119_530), human(12)
    ('119.53k', '12')
    """
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(count) >= size:
            return f"{count / size:.2f}{unit}"
    return f"{count:.0f}"


def first_sentence(text: str) -> str:
    """Up to the first full stop that ends a sentence (not the point of a number such as 4.8 %).

    >>> first_sentence("MAPE 4.8 %, rho 0.97. Peaks from the datasheet.")
    'MAPE 4.8 %, rho 0.97'
    """
    return re.split(r"\.(?:\s|$)", text, maxsplit=1)[0]
