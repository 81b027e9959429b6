"""One number parser for every format: CSV cells, JSON, YAML, TOML, options and Python values.

Whatever the source, a number edgeperf accepts is finite, of bounded magnitude (at
most :data:`MAX_MAGNITUDE`; magnitudes below :data:`MIN_MAGNITUDE` count as 0, so a
divisor such as a peak throughput of 5e-324, which must be > 0, is refused; products
and quotients of a few accepted numbers stay finite), and parsed without int-to-float
overflow or Python's integer digit limit. Text longer than
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
    >>> number_problem("5e-324", positive=True)[1]
    "must be > 0, got '5e-324'"
    >>> number_problem(10 ** 5000, integer=True)[1]
    'must be at most 1e+30 in magnitude, got <an integer of about 5000 digits>'
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
                return None, f"must be at most {MAX_MAGNITUDE:g} in magnitude, got {show(value)}"
            number = int(text)
        elif integer:
            return None, f"{show(value)} is not {kind}"
        else:
            try:
                number = float(text)
            except ValueError:
                return None, f"{show(value)} is not {kind}"
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
    if magnitude > (_BIG if isinstance(number, int) else MAX_MAGNITUDE):
        return None, f"must be at most {MAX_MAGNITUDE:g} in magnitude, got {show(value)}"
    if 0 < magnitude < MIN_MAGNITUDE:
        number = 0.0                      # below any physical meaning: 0 (a divisor must be > 0 and is refused)
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
    """``parse_float``/``parse_int``/``parse_constant`` for :func:`json.loads` (and TOML's ``parse_float``).

    They refuse what would otherwise turn into a wrong value or a foreign exception while
    parsing: ``NaN``/``Infinity`` constants, floats that overflow to infinity (``1e400``) and
    integers of more than :data:`MAX_CHARS` digits (Python's digit limit would raise ValueError).
    Magnitudes are bounded later, by the validator that knows the key (``number_problem``).

    >>> import json
    >>> json.loads("[1, 2.5]", **json_number_hooks())
    [1, 2.5]
    >>> json.loads("[1e400]", **json_number_hooks())
    Traceback (most recent call last):
    edgeperf._errors.InputError: JSON: the number 1e400 overflows (it is beyond 1.8e308); numbers must be finite
    """
    def parse_float(text: str):
        if len(text) > MAX_CHARS:
            raise error(f"{where}: a number of {len(text)} characters; at most {MAX_CHARS}")
        number = float(text)
        if not math.isfinite(number):
            raise error(f"{where}: the number {show(text, 30)[1:-1]} overflows (it is beyond 1.8e308); numbers must "
                        "be finite")
        return number

    def parse_int(text: str):
        if len(text) > MAX_CHARS:
            raise error(f"{where}: an integer of {len(text)} digits; at most {MAX_CHARS}")
        return int(text)

    def constant(token: str):
        raise error(f"{where}: {token} is not allowed; numbers must be finite")

    return {"parse_float": parse_float, "parse_int": parse_int, "parse_constant": constant}
