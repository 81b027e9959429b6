"""Text from files (node names, titles, spec names, paths) made safe to show on a terminal.

A model or spec may carry escape sequences that clear the screen, set the window
title or reorder text (bidirectional overrides). Everything edgeperf prints that
came from user data passes :func:`printable` first: control and bidi-format
characters become visible escapes such as ``\\x1b``; the rest is unchanged.
"""

from __future__ import annotations

import re

__all__ = ["printable", "one_line", "console"]

#: C0 controls except tab and newline, DEL, C1 controls, and the Unicode bidi/format controls that
#: can reorder or hide text (LRM/RLM, ALM, LRE..RLO, LRI..PDI).
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_UNSAFE_WITH_LAYOUT = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str, *, keep_layout: bool = True) -> str:
    """``text`` with terminal control characters shown as escapes.

    ``keep_layout`` keeps tabs and newlines (for multi-line output).

    >>> printable("conv\\x1b[2J")
    'conv\\\\x1b[2J'
    >>> printable("a\\nb", keep_layout=False)
    'a\\\\x0ab'
    """
    pattern = _UNSAFE if keep_layout else _UNSAFE_WITH_LAYOUT
    return pattern.sub(_escape, str(text))


def one_line(text: str, *, limit: int = 600) -> str:
    """``text`` as one printable line of at most ``limit`` characters (whitespace runs collapsed).

    >>> one_line("bad\\n  value\\x07")
    'bad value\\\\x07'
    >>> len(one_line("x" * 5000, limit=50))
    50
    """
    flat = " ".join(str(text)[: limit * 4].split())
    flat = printable(flat, keep_layout=False)
    if len(flat) > limit:
        flat = flat[: limit - 3] + "..."
    return flat


def console(**options):
    """A ``rich`` console whose every string (printed text, table titles, headers and cells) passes
    :func:`printable` before rich renders it; rich's own styling is kept."""
    from rich.console import Console

    class _PrintableConsole(Console):
        def render_str(self, text: str, **kwargs):
            return super().render_str(printable(text), **kwargs)

    return _PrintableConsole(**options)
