"""Reading CSV files with one-line errors: undecodable text and malformed CSV become InputError."""

from __future__ import annotations

import csv
from contextlib import contextmanager

from ._errors import InputError

__all__ = ["csv_errors"]


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
