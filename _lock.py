"""One writer per file: a lock file that is created with its owner in one step and dies with its owner.

``PATH.lock`` is made by writing the owner's pid into a private temporary file, taking an
``flock`` on it, and ``link()``-ing it into place: the lock appears atomically, already holding
its owner's pid and already locked, so a racer never sees an empty or unlocked lock file.

Whether the owner is alive is asked of the kernel, not guessed from the pid: the ``flock``
is released when the owning process ends, however it ends (SIGKILL included), and a pid
reused by an unrelated process cannot keep a dead writer's lock alive. A stale lock is
taken over by renaming a new locked file over it while holding the stale file's ``flock``,
and only after checking that the path still names that stale file; so of several
processes racing for a stale lock exactly one gets it. Every change of the path (create,
take over, release) is made by a process holding the ``flock`` of the file the path names
at that moment, or by ``link()``, which fails if the path exists.

Lock files of earlier versions (a bare pid, no ``flock``) are honoured while that pid runs.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import tempfile
from pathlib import Path

from ._errors import InputError
from ._userfile import os_error_message, user_path

__all__ = ["exclusive"]

_MARK = "edgeperf-lock/2"
_ATTEMPTS = 50


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except (OverflowError, ValueError):
        return False
    return True


def _owner(fd: int) -> tuple[int, bool]:
    """The pid recorded in an open lock file, and whether it is a current (flock) lock."""
    try:
        text = os.pread(fd, 256, 0).decode("ascii", "replace")
    except OSError:
        return 0, True
    lines = text.split()
    try:
        pid = int(lines[0]) if lines else 0
    except ValueError:
        pid = 0
    return pid, _MARK in text


def _same_file(fd: int, path: Path) -> bool:
    try:
        here, there = os.fstat(fd), os.stat(path)
    except FileNotFoundError:
        return False
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)


def _busy(target: Path, lock: Path, pid: int) -> InputError:
    who = f"another edgeperf process (pid {pid})" if pid else "another edgeperf process"
    return InputError(f"{target}: {who} is writing it; wait for it to finish, or remove {lock} if that process "
                      "is gone")


def _mine(lock: Path) -> tuple[int, str]:
    """A new temporary lock file beside ``lock``: our pid written, flock held. Returns (fd, path)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{lock.name[:200]}.", suffix=".tmp", dir=lock.parent)
    try:
        os.fchmod(fd, 0o644)
        os.write(fd, f"{os.getpid()}\n{_MARK}\n".encode())
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)     # nobody else knows this file: never blocks
    except BaseException:
        os.close(fd)
        os.unlink(tmp)
        raise
    return fd, tmp


def _acquire(target: Path, lock: Path) -> int:
    """Take the lock; return the descriptor whose flock holds it."""
    fd, tmp = _mine(lock)
    try:
        for _ in range(_ATTEMPTS):
            try:
                os.link(tmp, lock)                  # fresh: appears whole, owned and locked
                return fd
            except FileExistsError:
                pass
            try:
                other = os.open(lock, os.O_RDONLY | os.O_CLOEXEC)
            except FileNotFoundError:
                continue                            # released meanwhile: try to create it again
            try:
                try:
                    fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    pid, _ = _owner(other)
                    if _same_file(other, lock):
                        raise _busy(target, lock, pid) from None
                    continue                        # the path moved on to another file: look again
                pid, current = _owner(other)
                if not current and pid and pid != os.getpid() and _alive(pid):
                    raise _busy(target, lock, pid)  # an earlier version's lock, its writer still runs
                if not _same_file(other, lock):
                    continue
                os.rename(tmp, lock)                # take the stale lock over: we hold its flock
                return fd
            finally:
                os.close(other)
        raise InputError(f"{target}: cannot take the lock {lock}: it keeps changing; retry")
    except BaseException:
        os.close(fd)
        raise
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


@contextlib.contextmanager
def exclusive(path):
    """Hold ``PATH.lock`` while writing ``path``; refuse when a live process holds it.

    A lock left by a killed process is taken over, so a sweep killed with SIGKILL
    resumes without manual clean-up.

    Raises
    ------
    InputError
        When another live process is writing the same file, or the lock cannot be made
        (missing or unwritable folder).
    """
    target = user_path(path, what="output")
    lock = target.with_name(target.name + ".lock")
    user_path(lock, what="lock")
    try:
        fd = _acquire(target, lock)
    except FileNotFoundError:
        raise InputError(f"{target}: folder {target.parent} does not exist; create it or write elsewhere") from None
    except OSError as exc:
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC):
            raise InputError(os_error_message(exc, lock, action="write")) from None
        raise InputError(os_error_message(exc, lock, action="create")) from None
    try:
        yield
    finally:
        try:
            if _same_file(fd, lock):
                os.unlink(lock)
        finally:
            os.close(fd)
