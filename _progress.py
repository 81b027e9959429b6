"""Progress of long work, reported by the library and drawn by the command line.

The library never prints (house style): a long function takes ``progress``, a callable that
receives lines worth keeping (``progress("roofline: 12.3 GFLOP/s")``). A caller that draws
progress bars passes an object that also has ``step(done, total, label)``; the library then
reports each finished item there instead of a line per item. :func:`step` is that rule, once.
"""

from __future__ import annotations

from typing import Callable, Protocol, runtime_checkable

__all__ = ["Progress", "draws_bars", "step", "silent"]


@runtime_checkable
class Progress(Protocol):
    """A progress sink that draws bars: lines go to ``__call__``, finished items to ``step``."""

    def __call__(self, message: str) -> None: ...

    def step(self, done: int, total: int | None, label: str) -> None: ...


def silent(message: str) -> None:
    """The progress sink that ignores everything (the default of long functions)."""


def draws_bars(progress: Callable) -> bool:
    """True when ``progress`` takes ``step`` reports (a bar), False for a plain callable of lines."""
    return callable(getattr(progress, "step", None))


def step(progress: Callable, done: int, total: int | None, label: str, line: str | None = None) -> None:
    """Report that ``done`` of ``total`` items of ``label`` are finished.

    To ``progress.step`` where it draws bars; otherwise ``line`` (when given) as a line, so a
    plain callable keeps its one line per item.

    >>> lines = []
    >>> step(lines.append, 3, 10, "networks", line="resnet18: 12.3 ms")
    >>> lines
    ['resnet18: 12.3 ms']
    """
    if draws_bars(progress):
        progress.step(done, total, label)
    elif line is not None:
        progress(line)
