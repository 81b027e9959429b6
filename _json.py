"""Strict JSON reading: NaN and Infinity, which Python's json accepts by default, are refused."""

from __future__ import annotations

import json

__all__ = ["loads_finite"]


def _reject_constant(token: str):
    raise ValueError(f"{token} is not allowed; numbers must be finite")


def loads_finite(text: str):
    """``json.loads`` that raises ValueError on ``NaN``, ``Infinity`` and ``-Infinity``.

    >>> loads_finite('{"a": 1.5}')
    {'a': 1.5}
    """
    return json.loads(text, parse_constant=_reject_constant)
