"""One writer per file: a lock file holding the writer's process id, taken over when that process is gone."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from ._errors import InputError

__all__ = ["exclusive"]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def exclusive(path):
    """Hold ``PATH.lock`` while writing ``path``; refuse when a live process holds it.

    A lock left by a killed process (its pid no longer runs) is taken over, so
    a sweep killed with SIGKILL resumes without manual clean-up.

    Raises
    ------
    InputError
        When another live process is writing the same file.
    """
    target = Path(path)
    lock = target.with_name(target.name + ".lock")
    for _ in range(2):
        try:
            handle = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                pid = int(lock.read_text().strip() or "0")
            except (OSError, ValueError):
                pid = 0
            if pid and _alive(pid):
                raise InputError(f"{target}: another edgeperf process (pid {pid}) is writing it; wait for it to "
                                 f"finish, or remove {lock} if that process is gone") from None
            lock.unlink(missing_ok=True)     # stale: its writer was killed
            continue
        except FileNotFoundError:
            raise InputError(f"{target}: folder {target.parent} does not exist") from None
        with os.fdopen(handle, "w") as stream:
            stream.write(str(os.getpid()))
        break
    else:
        raise InputError(f"{target}: cannot take the lock {lock}")
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)
