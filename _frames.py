"""Tidy pandas frames of result values, with pandas imported only when a frame is asked for.

pandas is an optional extra (``pip install 'edgeperf[pandas]'``): results are frozen dataclasses
and numpy arrays inside edgeperf, and a frame is made at the edge, for the caller, from the
records a value lists (one dict per row, unit-suffixed column names).
"""

from __future__ import annotations

from ._errors import InputError
from ._messages import show

__all__ = ["frame", "short_repr"]


def frame(records, columns=None):
    """A :class:`pandas.DataFrame` of ``records`` (dicts), columns in ``columns`` order when given.

    Raises
    ------
    InputError
        When pandas is not installed (one line saying how to install it).
    """
    try:
        import pandas
    except ImportError:
        raise InputError("to_frame() needs pandas: pip install 'edgeperf[pandas]' (or pip install pandas)") from None
    return pandas.DataFrame.from_records(list(records), columns=columns)


def short_repr(value, *fields: str, **counts: int) -> str:
    """``Name(field=value, ..., layers=<54>)``: the identifying fields of a large value, and sizes of its parts.

    >>> class Point:
    ...     x, y = 1.5, "a"
    >>> short_repr(Point(), "x", "y", points=3)
    "Point(x=1.5, y='a', points=<3>)"
    """
    shown = [f"{name}={show(getattr(value, name))}" for name in fields]
    shown += [f"{name}=<{count}>" for name, count in counts.items()]
    return f"{type(value).__name__}({', '.join(shown)})"
