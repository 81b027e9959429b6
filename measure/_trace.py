"""Numeric CSV traces (temperature logs, external power-analyzer exports), read with clear errors."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

from .._csvfile import csv_errors
from .._errors import InputError

__all__ = ["read_trace_csv", "read_sweep_rows", "MAX_TRACE_BYTES"]

#: Largest trace file read (bytes).
MAX_TRACE_BYTES = 512 * 1024 * 1024


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
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file; give a CSV trace with columns {', '.join(columns)}")
    if path.stat().st_size > MAX_TRACE_BYTES:
        raise InputError(f"{path}: larger than {MAX_TRACE_BYTES} bytes; split or downsample the trace")
    with csv_errors(path, "a trace"):
        with path.open(newline="", encoding="utf-8") as stream:
            reader = csv.reader(stream)
            header = next(reader, None)
            if header is None:
                raise InputError(f"{path}: empty file; expected a header line with {', '.join(columns)}")
            header = [h.strip() for h in header]
            missing = [c for c in columns if c not in header]
            if missing:
                raise InputError(f"{path}: missing column(s) {', '.join(missing)}; the header has {', '.join(header)}")
            index = [header.index(c) for c in columns]
            values: list[list[float]] = [[] for _ in columns]
            for line, row in enumerate(reader, start=2):
                if not row or all(not cell.strip() for cell in row):
                    continue
                for k, (column, i) in enumerate(zip(columns, index)):
                    cell = row[i] if i < len(row) else ""
                    try:
                        number = float(cell)
                    except ValueError:
                        raise InputError(f"{path}: line {line}: {column} {cell!r} is not a number") from None
                    if not math.isfinite(number):
                        raise InputError(f"{path}: line {line}: {column} must be finite, got {cell!r}")
                    values[k].append(number)
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
    path = Path(path)
    if not path.exists():
        return []
    if path.is_dir():
        raise InputError(f"{path}: is a directory; give a sweep .csv file")
    with csv_errors(path, "a sweep"):
        with open(path, newline="", encoding="utf-8") as stream:
            reader = csv.DictReader(stream)
            missing = [c for c in columns if c not in (reader.fieldnames or [])]
            if missing:
                raise InputError(f"{path}: not {what} (missing columns {missing}); give a new path or the file "
                                 "of an earlier run")
            return list(reader)
