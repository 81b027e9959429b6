"""Atomic file writes: a temporary file in the target folder, fsync, then rename."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable

from ._errors import InputError

__all__ = ["write_atomic", "write_text_atomic"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomic(path, write: Callable[[str], None]) -> None:
    """Call ``write(tmp_path)`` and move the result over ``path`` in one step.

    Readers see the old file or the new one, never a part; an interrupted write
    leaves no temporary file behind. The file gets the usual permissions
    (0666 less the umask), not the private mode of a temporary file.

    A target that exists and is not a regular file (``/dev/null``, ``/dev/stdout``, a FIFO) is
    written in place: renaming over it would replace the device with a file.

    Raises
    ------
    InputError
        If the target is a directory.
    """
    target = Path(path)
    if target.is_dir():
        raise InputError(f"{target}: is a directory; give a file name to write")
    if not target.parent.is_dir():
        raise InputError(f"{target}: folder {target.parent} does not exist; create it or write elsewhere")
    if target.exists() and not target.is_file():
        write(str(target))  # a device or pipe: write into it, never rename over it
        return
    handle, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent or ".")
    os.close(handle)
    try:
        write(tmp)
        with open(tmp, "rb+") as stream:
            os.fsync(stream.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
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
