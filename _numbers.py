"""One number parser for every format: CSV cells, JSON, YAML, TOML, options and Python values.

Whatever the source, a number edgeperf accepts is finite, of bounded magnitude
(nonzero values between :data:`MIN_MAGNITUDE` and :data:`MAX_MAGNITUDE`, so that
products and quotients of a few of them stay finite), and parsed without
int-to-float overflow or Python's integer digit limit. Text longer than
:data:`MAX_CHARS` is refused before any conversion.
"""

from __future__ import annotations

import math
import numbers
import re

from ._errors import InputError
from ._messages import show

__all__ = ["number_problem", "parse_number", "json_number_hooks", "MAX_MAGNITUDE", "MIN_MAGNITUDE", "MAX_CHARS"]

#: Largest magnitude of any number read from the user.
MAX_MAGNITUDE = 1e30
#: Smallest magnitude of a nonzero number read from the user (5e-324 would make 1/x infinite).
MIN_MAGNITUDE = 1e-30
#: Longest text read as one number.
MAX_CHARS = 64
_INTEGER = re.compile(r"[+-]?[0-9](?:_?[0-9])*")
_BIG = 10 ** 30


def _bounds_text(low, high, positive: bool) -> str:
    if positive and high is None:
        return "> 0"
    if positive:
        return f"in (0, {high:g}]"
    if low is not None and high is not None:
        return f"in [{low:g}, {high:g}]"
    return f">= {low:g}" if low is not None else f"<= {high:g}"


def number_problem(value, *, low=None, high=None, positive: bool = False, integer: bool = False):
    """``(number, None)`` for an acceptable value, else ``(None, problem)``.

    ``value`` may be a Python or numpy number or text (surrounding spaces ignored).
    ``problem`` completes a sentence that starts with the value's name, e.g. ``'abc' is
    not a number`` or ``must be > 0, got -1``. Integers come back as ``int`` when ``integer``, else
    every number as ``float``.

    >>> number_problem("2.5")
    (2.5, None)
    >>> number_problem("1e-400")[1]
    "must be a number between 1e-30 and 1e+30 in magnitude (or 0), got '1e-400'"
    >>> number_problem(10 ** 5000, integer=True)[1]
    'must be a number between 1e-30 and 1e+30 in magnitude (or 0), got <an integer of about 5000 digits>'
    """
    kind = "an integer" if integer else "a number"
    if isinstance(value, bool):
        return None, f"{show(value)} is not {kind}"
    if isinstance(value, str):
        text = value.strip()
        if not text or len(text) > MAX_CHARS:
            return None, f"{show(value)} is not {kind}"
        if _INTEGER.fullmatch(text):
            if len(text.lstrip("+-").replace("_", "").lstrip("0")) > 31:
                return None, (f"must be a number between {MIN_MAGNITUDE:g} and {MAX_MAGNITUDE:g} in magnitude "
                              f"(or 0), got {show(value)}")
            number = int(text)
        elif integer:
            return None, f"{show(value)} is not {kind}"
        else:
            try:
                number = float(text)
            except ValueError:
                return None, f"{show(value)} is not {kind}"
            if number == 0 and any(c in "123456789" for c in text.lower().split("e")[0]):
                number = MIN_MAGNITUDE / 2                   # underflowed to 0: refused as too small below
    elif isinstance(value, numbers.Integral):
        number = int(value)
    elif isinstance(value, numbers.Real):
        try:
            number = float(value)
        except (OverflowError, ValueError, TypeError):
            return None, f"{show(value)} is not {kind}"
        if integer and math.isfinite(number) and not number.is_integer():
            return None, f"{show(value)} is not {kind}"
    else:
        return None, f"must be {kind}, got {type(value).__name__} {show(value)}"
    if isinstance(number, float) and not math.isfinite(number):
        return None, f"must be finite, got {show(value)}"
    magnitude = abs(number)
    if magnitude > (_BIG if isinstance(number, int) else MAX_MAGNITUDE) or (0 < magnitude < MIN_MAGNITUDE):
        return None, (f"must be a number between {MIN_MAGNITUDE:g} and {MAX_MAGNITUDE:g} in magnitude (or 0), "
                      f"got {show(value)}")
    if positive and number <= 0:
        return None, f"must be > 0, got {show(value)}"
    if (low is not None and number < low) or (high is not None and number > high):
        return None, f"must be {_bounds_text(low, high, positive)}, got {show(value)}"
    return (int(number) if integer else float(number)), None


def parse_number(value, where: str, *, low=None, high=None, positive: bool = False, integer: bool = False,
                 error=InputError):
    """The number in ``value``, or ``error("WHERE PROBLEM")`` (see :func:`number_problem`).

    >>> parse_number(" 3 ", "threads", integer=True, positive=True)
    3
    >>> parse_number("nan", "latency_ms")
    Traceback (most recent call last):
    edgeperf._errors.InputError: latency_ms must be finite, got 'nan'
    """
    number, problem = number_problem(value, low=low, high=high, positive=positive, integer=integer)
    if problem is not None:
        raise error(f"{where} {problem}")
    return number


def json_number_hooks(error=InputError, where: str = "JSON") -> dict:
    """``parse_float``/``parse_int``/``parse_constant`` for :func:`json.loads` that apply the bounds above.

    >>> import json
    >>> json.loads("[1, 2.5]", **json_number_hooks())
    [1, 2.5]
    """
    def parse(text: str, integer: bool):
        number, problem = number_problem(text, integer=integer)
        if problem is not None:
            raise error(f"{where}: number {problem}")
        return number

    def constant(token: str):
        raise error(f"{where}: {token} is not allowed; numbers must be finite")

    return {"parse_float": lambda text: parse(text, False), "parse_int": lambda text: parse(text, True),
            "parse_constant": constant}
