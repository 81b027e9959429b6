"""Worker processes that end with their parent, however the parent ends, and stop promptly on Ctrl-C.

A worker calls :func:`tie_to_parent` first thing. On Linux the kernel then sends it SIGTERM
when the parent dies (``prctl(PR_SET_PDEATHSIG)``), SIGKILL of the parent included; a
watchdog thread that notices the worker being re-parented is the fallback elsewhere (and
covers a parent that died before the worker asked). The first SIGTERM or SIGINT in a
worker raises KeyboardInterrupt, so the work in progress unwinds (files closed, locks
released), and later ones are ignored so that they cannot break that clean-up; a worker
that does not stop within :data:`GRACE_S` exits hard.

The parent runs its workers with :func:`run_workers`: when it is interrupted (Ctrl-C,
or SIGTERM turned into KeyboardInterrupt by the CLI) it stops them at once instead of
waiting for them to finish their share, then re-raises.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
import threading
import time

__all__ = ["tie_to_parent", "run_workers", "GRACE_S"]

#: Seconds a worker (or the workers of an interrupted parent) get to stop before being killed.
GRACE_S = 10.0
_PR_SET_PDEATHSIG = 1
_POLL_S = 0.25


def _interrupt(signum, frame):
    # one interrupt per worker: Ctrl-C reaches the whole process group and the launcher then sends SIGTERM
    # too; a second KeyboardInterrupt would break the first one's clean-up (a trial being marked failed)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise KeyboardInterrupt


def _ask_kernel(signum: int) -> bool:
    """``prctl(PR_SET_PDEATHSIG, signum)``; False where it is not available."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return libc.prctl(_PR_SET_PDEATHSIG, signum, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _watch(parent_pid: int) -> None:
    while os.getppid() == parent_pid:
        time.sleep(_POLL_S)
    os.kill(os.getpid(), signal.SIGTERM)          # unwind like the kernel's signal would
    time.sleep(GRACE_S)
    os._exit(1)                                   # still here: stuck in C code; end hard


def tie_to_parent(parent_pid: int) -> None:
    """Make this process end when process ``parent_pid`` (its parent) ends; call it first in a worker.

    Must run in the worker's main thread (it installs a SIGTERM handler).
    """
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    _ask_kernel(signal.SIGTERM)
    if os.getppid() != parent_pid:                # the parent died before we asked: nobody waits for us
        os._exit(1)
    threading.Thread(target=_watch, args=(parent_pid,), name="edgeperf-parent-watch", daemon=True).start()


def _stop(processes, grace_s: float) -> None:
    for process in processes:
        if process.is_alive():
            process.terminate()                   # SIGTERM: the worker unwinds as on Ctrl-C
    deadline = time.monotonic() + grace_s
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
    for process in processes:
        if process.is_alive():
            process.kill()
            process.join(1.0)


def run_workers(processes, *, grace_s: float = GRACE_S, tick=None, every_s: float = 1.0) -> None:
    """Start ``processes`` (multiprocessing.Process), wait for all; stop them all when interrupted.

    ``tick()``, if given, is called about every ``every_s`` seconds while they run (progress).
    If this process is interrupted while waiting (KeyboardInterrupt, or any exception), the
    workers get SIGTERM, then SIGKILL after ``grace_s`` seconds, and the exception is re-raised.
    """
    try:
        for process in processes:
            process.start()
        alive = list(processes)
        while alive:
            alive[0].join(timeout=every_s if tick is not None else None)
            alive = [process for process in alive if process.is_alive()]
            if tick is not None:
                tick()
    except BaseException:
        _stop(processes, grace_s)
        raise
