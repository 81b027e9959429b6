"""What every command shares: the console, option types and parsers, CSV text, and writing output."""

from __future__ import annotations

import csv
import io
import math
import re
import sys
from enum import Enum

from typer.core import TyperArgument, TyperCommand, TyperGroup

from .._atomic import write_text_atomic
from .._errors import InputError
from .._messages import show
from .._terminal import console as printable_console
from ..estimator import parse_input_shape

__all__ = ["Command", "Group", "console", "csv_text", "emit", "deliver", "OutputFormat", "OnUnknown", "Choice", "parse_freqs",
           "parse_shapes", "parse_providers", "PROVIDERS_HELP", "human", "sig", "first_sentence"]


def _plain_params(params: list) -> list:
    """Flags and counters take no value: their help shows no ``<bool>``/``<int>`` (typer's default does)."""
    for param in params:
        if getattr(param, "is_flag", False) or getattr(param, "count", False):
            param.display_type_rich = lambda ctx: None
    return params


def _usage(command, ctx) -> list[str]:
    """``[OPTIONS] MODEL [SWEEP] [MODEL]...``: upper-case names, brackets only around optional arguments."""
    pieces = [command.options_metavar] if command.options_metavar else []
    for param in command.get_params(ctx):
        if isinstance(param, TyperArgument):
            name = (param.metavar or param.name).strip("[]").rstrip(".").upper()
            name = name if param.required else f"[{name}]"
            pieces.append(name + ("..." if param.nargs != 1 else ""))
    return pieces


class Command(TyperCommand):
    """A typer command whose help reads plainly (``MODEL``, not ``{model}``; ``[SWEEP]``, not ``[[SWEEP]]``)."""

    def get_params(self, ctx) -> list:
        return _plain_params(super().get_params(ctx))

    def collect_usage_pieces(self, ctx) -> list[str]:
        return _usage(self, ctx)


class Group(TyperGroup):
    """The app and its sub-apps (``zoo``, ``profiles``), with :class:`Command`'s plain help."""

    def get_params(self, ctx) -> list:
        return _plain_params(super().get_params(ctx))

    def collect_usage_pieces(self, ctx) -> list[str]:
        return _usage(self, ctx) + [self.subcommand_metavar]


def console():
    """A rich console for tables and messages (160 columns wide when stdout is not a terminal); text from
    files passes the terminal sanitiser (``_terminal``) on its way."""
    return printable_console(highlight=False, markup=False, width=None if sys.stdout.isatty() else 160)


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
            raise InputError(f"--freq {show(text)} is not DOMAIN=MHZ; example: --freq gpu=640")
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


def sig(value: float | None, digits: int = 4) -> str:
    """``value`` to ``digits`` significant figures, never ``0.0000`` for a small non-zero number; ``unknown`` for None.

    >>> sig(17.2654), sig(0.000012345), sig(0.0), sig(None), sig(123456.7)
    ('17.27', '1.234e-05', '0', 'unknown', '123457')
    """
    if value is None:
        return "unknown"
    if value == 0:
        return "0"
    magnitude = abs(float(f"{value:.{digits}g}"))      # rounded first: 9.99999 has the magnitude of 10
    if magnitude < 1e-3 or magnitude >= 1e7:
        return f"{value:.{digits - 1}e}"
    decimals = max(digits - 1 - int(math.floor(math.log10(magnitude))), 0)
    return f"{value:.{decimals}f}"


def first_sentence(text: str) -> str:
    """Up to the first full stop that ends a sentence (not the point of a number such as 4.8 %).

    >>> first_sentence("MAPE 4.8 %, rho 0.97. Peaks from the datasheet.")
    'MAPE 4.8 %, rho 0.97'
    """
    return re.split(r"\.(?:\s|$)", text, maxsplit=1)[0]
