"""Numeric CSV traces (temperature logs, external power-analyzer exports), read with clear errors."""

from __future__ import annotations

import csv
import os

import numpy as np

from .._csvfile import dict_rows, open_csv
from .._errors import InputError
from .._messages import show
from .._numbers import parse_number
from .._userfile import user_path

__all__ = ["read_trace_csv", "read_sweep_rows", "MAX_TRACE_BYTES"]

#: Largest trace file read (bytes): about 10 million samples of a few columns.
MAX_TRACE_BYTES = 256 * 1024 * 1024


def read_trace_csv(path, columns: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Read the named numeric columns of a CSV file with a header line.

    Returns
    -------
    dict of str to numpy.ndarray
        One float array per requested column, in file order.

    Raises
    ------
    InputError
        Naming the file, line and column, for a missing file, missing column,
        non-numeric or non-finite value, or an empty trace.
    """
    path = user_path(path, what="trace")
    with open_csv(path, "a trace", limit=MAX_TRACE_BYTES,
                  hint=f"give a CSV trace with columns {', '.join(columns)}") as stream:
        reader = csv.reader(stream)
        header = next(reader, None)
        if header is None:
            raise InputError(f"{path}: empty file; expected a header line with {', '.join(columns)}")
        header = [h.strip() for h in header]
        missing = [c for c in columns if c not in header]
        if missing:
            raise InputError(f"{path}: missing column(s) {', '.join(missing)}; the header has {show(header)}")
        index = [header.index(c) for c in columns]
        values: list[list[float]] = [[] for _ in columns]
        for row in reader:
            if not row or all(not cell.strip() for cell in row):
                continue
            for k, (column, i) in enumerate(zip(columns, index)):
                cell = row[i] if i < len(row) else ""
                values[k].append(parse_number(cell, f"{path}: line {reader.line_num}: {column}"))
    if not values[0]:
        raise InputError(f"{path}: no data rows after the header")
    return {column: np.array(v) for column, v in zip(columns, values)}


def read_sweep_rows(path, columns: tuple[str, ...], what: str) -> list[dict]:
    """Rows (dicts) of a sweep CSV that must have ``columns``; a missing file has no rows.

    Raises
    ------
    InputError
        For a directory, a file without the columns (``what`` names the expected kind of file),
        text that is not UTF-8, or CSV that cannot be parsed.
    """
    path = user_path(path, what="sweep")
    try:
        os.stat(path)
    except FileNotFoundError:
        return []
    except OSError:
        pass                                       # open_csv reports it in one line
    with open_csv(path, "a sweep", hint="give a sweep .csv file") as stream:
        reader = csv.DictReader(stream)
        missing = [c for c in columns if c not in (reader.fieldnames or [])]
        if missing:
            raise InputError(f"{path}: not {what} (missing columns {show(missing)}); give a new path or the file "
                             "of an earlier run")
        return [row for _, row in dict_rows(reader, path)]
