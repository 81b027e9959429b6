"""Processes as /proc shows them (Linux): the process tests' view of a launcher and its workers, without psutil."""

from __future__ import annotations

from pathlib import Path

__all__ = ["children", "descendants", "cmdline", "running"]


def children(pid: int) -> list[int]:
    """The child processes of ``pid`` (from /proc: Linux)."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return found


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:                       # exited meanwhile
        return ""


def running(pids) -> list[int]:
    """The processes still running (a zombie has ended: it only waits to be reaped)."""
    alive = []
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state not in ("Z", "X"):
            alive.append(pid)
    return alive


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (children, their children, ...)."""
    found, queue = [], children(pid)
    while queue:
        child = queue.pop()
        found.append(child)
        queue += children(child)
    return found
