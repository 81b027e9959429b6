"""Where output may go: the checks every written file passes before a byte is written.

:func:`output_target` decides, for a path the user named (``-o``, ``--csv``, ``--plot``,
``--out``, a sweep file, a journal), how it is written:

- a regular file (or a new name in an existing folder) is replaced atomically by
  ``_atomic.write_atomic``, keeping the old file's permission bits; a file without
  write permission for its owner (``chmod 0444``) is refused, not silently replaced;
- a pipe (``-o >(gzip > x)``, a FIFO with a reader), a terminal and ``/dev/null`` are
  written in place; a FIFO that nobody reads is refused after :data:`FIFO_WAIT_S` instead of
  waiting forever;
- every other special file (``/dev/full``, ``/dev/sda``, sockets) and directories are refused;
- names that cannot exist (NUL bytes, components over 255 bytes) and folders that do not
  exist or cannot be written are refused with one line.

The symlink of a target is followed, so the link stays a link and its target is replaced.
"""

from __future__ import annotations

import errno
import os
import stat
import time
from dataclasses import dataclass
from pathlib import Path

from ._errors import InputError
from ._userfile import file_kind, os_error_message, user_path

__all__ = ["OutputTarget", "output_target", "write_error", "FIFO_WAIT_S"]

#: How long a FIFO given as output may stay without a reader before it is refused.
FIFO_WAIT_S = 10.0

_NULL_DEVICE = os.stat(os.devnull).st_rdev if os.path.exists(os.devnull) else None
#: Linux character-device majors of terminals: virtual consoles and serial lines (4), /dev/tty and
#: /dev/console (5), pseudo-terminals (136-143).
_TERMINAL_MAJORS = frozenset({4, 5, *range(136, 144)})


@dataclass(frozen=True, slots=True, kw_only=True)
class OutputTarget:
    """A checked place to write: ``path`` (symlinks resolved), and how.

    ``in_place`` is True for pipes, terminals and ``/dev/null`` (written into, never renamed
    over); ``fd`` is then an open descriptor to write to (the caller closes it). ``mode`` is the
    permission bits the new file gets (the old file's), or None for the usual 0666 less umask.
    """

    path: Path
    in_place: bool = False
    fd: int | None = None
    mode: int | None = None


def write_error(exc: OSError, path) -> InputError:
    """The InputError for an OSError met writing ``path``."""
    return InputError(os_error_message(exc, path, action="write"))


def _open_special(path: Path, info: os.stat_result) -> int:
    """A write descriptor of a pipe, terminal or /dev/null; refuses other special files."""
    mode = info.st_mode
    allowed = stat.S_ISFIFO(mode) or (stat.S_ISCHR(mode) and (info.st_rdev == _NULL_DEVICE or _is_terminal(info)))
    if not allowed:
        raise InputError(f"{path}: is {file_kind(mode)}; edgeperf writes regular files, pipes, terminals and "
                         "/dev/null only; give a file path (or leave out the option to write to standard output)")
    flags = os.O_WRONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    deadline = time.monotonic() + FIFO_WAIT_S
    while True:
        try:
            fd = os.open(path, flags)
            break
        except OSError as exc:
            if exc.errno != errno.ENXIO:
                raise write_error(exc, path) from None
            if time.monotonic() > deadline:      # a FIFO nobody reads: opening it blocking would wait forever
                raise InputError(f"{path}: is a FIFO that no program has opened for reading in {FIFO_WAIT_S:g} s; "
                                 "start the reader first") from None
            time.sleep(0.02)
    os.set_blocking(fd, True)
    return fd


def _is_terminal(info: os.stat_result) -> bool:
    """A terminal device, told by its major number (never by opening it: opening some devices acts)."""
    return os.major(info.st_rdev) in _TERMINAL_MAJORS


def output_target(path, *, what: str = "output") -> OutputTarget:
    """Check ``path`` as a place to write ``what``; see the module docstring.

    Raises
    ------
    InputError
        For a directory, a refused special file, a read-only file, a missing or unwritable
        folder, or a name that cannot exist.
    """
    target = user_path(path, what=what)
    try:
        info = os.stat(target)
    except FileNotFoundError:
        info = None
    except OSError as exc:
        raise write_error(exc, target) from None
    if info is not None:
        if stat.S_ISDIR(info.st_mode):
            raise InputError(f"{target}: is a directory; give a file name to write")
        if not stat.S_ISREG(info.st_mode):
            return OutputTarget(path=target, in_place=True, fd=_open_special(target, info))
        real = Path(os.path.realpath(target))
        if not info.st_mode & stat.S_IWUSR:
            raise InputError(f"{target}: is read-only (mode {stat.S_IMODE(info.st_mode):04o}); make it writable "
                             f"(chmod u+w) or write elsewhere")
        return OutputTarget(path=real, mode=stat.S_IMODE(info.st_mode))
    if os.path.islink(target):                       # a link to a file that does not exist yet
        target = Path(os.path.realpath(target))
    folder = target.parent
    try:
        folder_info = os.stat(folder)
    except FileNotFoundError:
        raise InputError(f"{target}: folder {folder} does not exist; create it or write elsewhere") from None
    except OSError as exc:
        raise write_error(exc, folder) from None
    if not stat.S_ISDIR(folder_info.st_mode):
        raise InputError(f"{target}: {folder} is not a folder; check the path")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InputError(f"{target}: cannot create files in folder {folder} (permission denied); write elsewhere")
    return OutputTarget(path=target)
