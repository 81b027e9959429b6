"""Atomic file writes: a temporary file in the target folder, fsync, then rename."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable

from ._output import output_target, write_error

__all__ = ["write_atomic", "write_text_atomic"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomic(path, write: Callable[[str], None]) -> None:
    """Call ``write(tmp_path)`` and move the result over ``path`` in one step.

    Readers see the old file or the new one, never a part; an interrupted write
    leaves no temporary file behind. A new file gets the usual permissions
    (0666 less the umask), a replaced one keeps its own; the checks of
    :func:`edgeperf._output.output_target` come first (read-only files, special
    files, missing folders and impossible names are refused with one line).

    A pipe, a terminal or ``/dev/null`` is written in place: renaming over it
    would replace the device with a file.

    Raises
    ------
    InputError
        If the target cannot be written (see ``output_target``), or writing fails
        (no space left, I/O error, permissions).
    """
    target = output_target(path)
    if target.in_place:
        try:
            write(f"/dev/fd/{target.fd}")        # a pipe, terminal or /dev/null: write into it
        except OSError as exc:
            raise write_error(exc, target.path) from None
        finally:
            os.close(target.fd)
        return
    try:
        handle, tmp = tempfile.mkstemp(prefix=f".{target.path.name[:200]}.", suffix=".tmp", dir=target.path.parent)
    except OSError as exc:
        raise write_error(exc, target.path) from None
    os.close(handle)
    try:
        write(tmp)
        with open(tmp, "rb+") as stream:
            os.fsync(stream.fileno())
        os.chmod(tmp, target.mode if target.mode is not None else 0o666 & ~_umask())
        os.replace(tmp, target.path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise write_error(exc, target.path) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text_atomic(path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (see :func:`write_atomic`).

    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "out.txt"
    >>> write_text_atomic(target, "hello")
    >>> target.read_text()
    'hello'
    """
    write_atomic(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
