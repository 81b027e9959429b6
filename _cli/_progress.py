"""Progress bars on stderr for the long commands (rich), off when stderr is not a terminal or with --quiet.

A bar is the library's progress sink (``edgeperf._progress.Progress``): lines it receives are
printed above the bar, finished items (``step``) move one bar per label with n/N, elapsed time
and the time left. Without a bar the lines go to stdout as before.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager

from .._terminal import printable

__all__ = ["progress_bar"]


class _Bar:
    """Draws one rich progress bar per label; lines go above the bars."""

    def __init__(self, live):
        self._live = live
        self._tasks: dict[str, int] = {}

    def __call__(self, message: str) -> None:
        self._live.console.print(message, markup=False, highlight=False)

    def step(self, done: int, total: int | None, label: str) -> None:
        task = self._tasks.get(label)
        if task is None:
            task = self._tasks[label] = self._live.add_task(printable(label, keep_layout=False), total=total,
                                                            completed=done)
        self._live.update(task, completed=done, total=total)


class _Lines:
    """No bar: lines to stdout, steps ignored (the callable a non-terminal run gets)."""

    def __init__(self, quiet_lines: bool):
        self._quiet = quiet_lines

    def __call__(self, message: str) -> None:
        if not self._quiet:
            from ._common import console

            console().print(message)


@contextmanager
def progress_bar(*, quiet: bool = False, lines: bool = True):
    """A progress sink for one command: bars on a terminal's stderr, else lines on stdout (or nothing).

    ``quiet`` turns the bar off (``--quiet``, or an output format that owns stdout); ``lines``
    says whether the library's lines are printed without a bar.
    """
    if quiet or not sys.stderr.isatty():
        yield _Lines(quiet_lines=quiet or not lines)
        return
    from .._terminal import console as printable_console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.progress import TimeRemainingColumn

    live = Progress(TextColumn("{task.description}", markup=False), BarColumn(), MofNCompleteColumn(), TextColumn("elapsed"),
                    TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn(),
                    console=printable_console(file=sys.stderr, highlight=False), transient=True)
    with live:
        yield _Bar(live)
