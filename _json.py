"""Strict JSON in and out: finite, bounded numbers only, nesting and size limits, one-line errors.

Python's json accepts ``NaN``, ``Infinity`` and ``1e400`` (read as infinity) by default and
writes non-finite floats as bare ``NaN``/``Infinity``, which is not JSON. Here numbers go
through the one number parser (``_numbers``), documents through the nesting limits
(``_limits``), files through the user-file reader (``_userfile``), and output refuses
non-finite values with an error instead of printing invalid JSON.
"""

from __future__ import annotations

import json

from ._errors import InputError
from ._limits import MAX_VALUES, check_tree
from ._numbers import json_number_hooks

__all__ = ["loads_finite", "read_json_file", "dumps_finite"]


def loads_finite(text: str, *, error=ValueError, where: str = "JSON", max_values: int = MAX_VALUES):
    """``json.loads`` that raises ``error`` on ``NaN``, ``Infinity``, out-of-range numbers and deep nesting.

    >>> loads_finite('{"a": 1.5}')
    {'a': 1.5}
    """
    try:
        document = json.loads(text, **json_number_hooks(error, where))
    except RecursionError:
        raise error(f"{where}: nested too deeply") from None
    check_tree(document, where=where, error=error, max_values=max_values)
    return document


def read_json_file(path, *, what: str, limit: int, error=InputError, hint: str = "", max_values: int = MAX_VALUES):
    """The JSON document in the user's file ``path`` (see ``_userfile`` for what is refused).

    Raises
    ------
    error
        One line naming the file: unreadable, too large, not UTF-8, not JSON (with line and
        column), a non-finite or out-of-range number, or nesting too deep.
    """
    from ._userfile import read_text

    text = read_text(path, what=what, limit=limit, error=error, hint=hint)
    try:
        return loads_finite(text, error=error, where=str(path), max_values=max_values)
    except json.JSONDecodeError as exc:
        raise error(f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); JSON expected "
                    f"for {what}") from None


def dumps_finite(document, **options) -> str:
    """``json.dumps`` refusing NaN and infinities (which would not be JSON) with an InputError.

    >>> dumps_finite({"a": float("inf")})
    Traceback (most recent call last):
    edgeperf._errors.InputError: the result holds a value that is not a finite number (an input at the edge of the \
allowed magnitudes overflowed); check the model's and profile's numbers
    """
    try:
        return json.dumps(document, allow_nan=False, **options)
    except ValueError as exc:
        if "not JSON compliant" not in str(exc):
            raise
        raise InputError("the result holds a value that is not a finite number (an input at the edge of the allowed "
                         "magnitudes overflowed); check the model's and profile's numbers") from None
