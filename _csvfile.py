"""Reading CSV files with one-line errors: undecodable text, malformed CSV and ragged rows become InputError.

Files are opened through the one user-file reader (``_userfile.open_text``: regular files only,
capped size, every OS error one line); :func:`dict_rows` reads rows by header name and refuses
a row with more cells than the header has columns (``csv.DictReader`` would put the extra cells
under the key None).
"""

from __future__ import annotations

import csv
from contextlib import contextmanager

from ._errors import InputError

__all__ = ["csv_errors", "open_csv", "dict_rows", "MAX_CSV_BYTES"]

#: Largest CSV file read (tables, traces, sweeps).
MAX_CSV_BYTES = 256 * 2**20


@contextmanager
def csv_errors(path, what: str):
    """Turn a UnicodeDecodeError or csv.Error raised while reading ``path`` into an InputError.

    ``what`` names the kind of file in the message (``"a power table"``).

    >>> with csv_errors("t.csv", "a table"):
    ...     b"\\xff".decode("utf-8")
    Traceback (most recent call last):
    edgeperf._errors.InputError: t.csv: not UTF-8 text; a table is a CSV file
    """
    try:
        yield
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 text; {what} is a CSV file") from None
    except csv.Error as exc:
        raise InputError(f"{path}: not a valid CSV file ({exc})") from None


@contextmanager
def open_csv(path, what: str, *, limit: int = MAX_CSV_BYTES, hint: str = ""):
    """A text stream over the CSV file ``path`` (``what`` names it in messages), inside :func:`csv_errors`."""
    from ._userfile import open_text

    with csv_errors(path, what):
        with open_text(path, what=what, limit=limit, hint=hint) as stream:
            yield stream


def dict_rows(reader: csv.DictReader, path):
    """``(line, row)`` for each row of ``reader``; a row with more cells than the header is refused.

    Missing trailing cells read as empty strings.
    """
    for row in reader:
        if None in row:
            extra = row[None]
            raise InputError(f"{path}:{reader.line_num}: {len(row) - 1 + len(extra)} cells, but the header has "
                             f"{len(reader.fieldnames or [])} columns; remove the extra cells or name their column")
        yield reader.line_num, {k: (v if v is not None else "") for k, v in row.items()}
