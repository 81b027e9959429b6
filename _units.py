"""Unit conversions, written once.

Canonical units: milliseconds (``_ms``), millijoules (``_mj``), milliwatts
(``_mw``), megahertz (``_mhz``), bytes (``_bytes``), bits per second (``_bps``).
"""

from __future__ import annotations

__all__ = [
    "BITS_PER_ELEMENT",
    "bytes_per_element",
    "mw_ms_to_mj",
    "s_to_ms",
    "PRECISIONS",
]

#: Storage width of one tensor element at each supported precision.
BITS_PER_ELEMENT: dict[str, int] = {
    "fp32": 32,
    "fp16": 16,
    "bf16": 16,
    "int8": 8,
}

PRECISIONS: tuple[str, ...] = tuple(BITS_PER_ELEMENT)


def bytes_per_element(precision: str) -> float:
    """Bytes occupied by one element at ``precision``.

    >>> bytes_per_element("fp16")
    2.0
    """
    return BITS_PER_ELEMENT[precision] / 8.0


def mw_ms_to_mj(power_mw, latency_ms):
    """Energy in mJ of ``power_mw`` sustained for ``latency_ms``.

    mW x ms = uJ, so divide by 1000. Works element-wise on numpy arrays.

    >>> mw_ms_to_mj(2000.0, 10.0)
    20.0
    """
    return power_mw * latency_ms / 1000.0


def s_to_ms(seconds):
    """Seconds to milliseconds.

    >>> s_to_ms(0.25)
    250.0
    """
    return seconds * 1000.0
