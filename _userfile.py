"""The one place that opens files the user names: models, profiles, specs, tables, traces, sweeps.

Every read goes through :func:`open_user_file`, which guarantees, whatever the path:

- the path is a ``str`` or ``os.PathLike`` without NUL bytes, with no component over 255 bytes;
- the file is a regular file: a directory, FIFO, socket or device (``/dev/zero``) is refused
  before a byte is read, and opening never blocks (``O_NONBLOCK``: a FIFO without a writer
  would wait forever);
- at most ``limit`` bytes are read, whatever the size claimed (``/proc`` files claim 0, a
  file may grow while it is read); larger files are refused;
- text is strict UTF-8 (a byte-order mark is allowed);
- every ``OSError`` (permissions, name too long, loops, I/O errors) becomes one line of the
  caller's error class saying what is wrong and how to fix it.

Files that change while being read give whatever bytes were there when each block was
read; the parsers that follow refuse inconsistent content. Nothing is memory-mapped (a mapped
file truncated by another process ends the reader with SIGBUS): large ONNX files are read
piece by piece with ``pread`` (:class:`FileBytes`), skipping their weights.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import stat
from pathlib import Path

from ._errors import InputError

__all__ = ["user_path", "os_error_message", "probe", "is_regular_file", "read_bytes", "read_text", "open_text",
           "model_bytes", "FileBytes", "file_kind", "check_file", "IN_MEMORY_BYTES", "MAX_NAME_BYTES", "MAX_PATH_BYTES"]

#: Longest path component (bytes) on Linux file systems, and longest path.
MAX_NAME_BYTES = 255
MAX_PATH_BYTES = 4095
#: Model files up to this size are read into memory whole; larger ONNX files are read piece by piece.
IN_MEMORY_BYTES = 32 * 2**20

_FIXES = {
    errno.ENOENT: "no such file; check the path",
    errno.EACCES: "permission denied; make it readable (chmod u+r) or use a copy you can read",
    errno.EPERM: "operation not permitted (an immutable or protected file?); use another path",
    errno.ENAMETOOLONG: f"a file name is too long (at most {MAX_NAME_BYTES} bytes per component); use a shorter path",
    errno.ELOOP: "too many symbolic links (a link loop?); give the real path",
    errno.ENOTDIR: "a component of the path is not a folder; check the path",
    errno.EISDIR: "is a directory; give a file",
    errno.EIO: "input/output error from the device; check the disk or copy the file elsewhere",
    errno.ENOSPC: "no space left on the device; free some space or write elsewhere",
    errno.EDQUOT: "disk quota exceeded; free some space or write elsewhere",
    errno.EROFS: "read-only file system; write elsewhere",
    errno.ENXIO: "no such device or no reader on the other end (a FIFO without a reader?)",
    errno.ETXTBSY: "the file is busy (being executed); use another path",
    errno.EMFILE: "too many open files; close some programs and retry",
    errno.ENFILE: "too many open files in the system; retry later",
    errno.ENODEV: "no such device; give a regular file",
    errno.EFBIG: "the file would be too large for this file system",
    errno.ESTALE: "stale network file handle; remount or copy the file",
}


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"


def file_kind(mode: int) -> str:
    """What a ``st_mode`` describes, in words (``a FIFO (named pipe)``), for messages."""
    return "a regular file" if stat.S_ISREG(mode) else _kind(mode)


def os_error_message(exc: OSError, path, action: str = "read") -> str:
    """One line for an ``OSError`` met while ``action``-ing ``path``: what is wrong and how to fix it.

    >>> import errno
    >>> os_error_message(OSError(errno.EACCES, "Permission denied"), "p.json")
    'p.json: cannot read it: permission denied; make it readable (chmod u+r) or use a copy you can read'
    """
    fix = _FIXES.get(exc.errno)
    if fix is None:
        fix = f"{(exc.strerror or type(exc).__name__).lower()}"
    if action == "write" and exc.errno == errno.EACCES:
        fix = "permission denied; choose a file and folder you may write"
    return f"{_shown(path)}: cannot {action} it: {fix}"


def _shown(path) -> str:
    from ._messages import show

    text = os.fsdecode(path) if isinstance(path, (bytes, os.PathLike)) else str(path)
    return text if len(text) <= 300 and text.isprintable() else show(text, 300)


def user_path(path, *, what: str = "file", error=InputError) -> Path:
    """``path`` as a :class:`Path`, refused when it cannot name a file on this system.

    Raises ``error`` for a value that is not a path, an empty path, a NUL byte, a component
    over :data:`MAX_NAME_BYTES` bytes or a path over :data:`MAX_PATH_BYTES` bytes.

    >>> user_path("model.onnx").name
    'model.onnx'
    >>> user_path("a" * 300 + ".onnx", what="model")
    Traceback (most recent call last):
    edgeperf._errors.InputError: 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...' (305 characters): a name \
in this model path is 305 bytes long, more than 255; use a shorter path
    """
    from ._messages import show

    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if not isinstance(path, (str, os.PathLike)):
        raise error(f"a {what} path must be a string or os.PathLike, got {type(path).__name__} {show(path)}")
    text = os.fspath(path)
    if isinstance(text, bytes):
        text = os.fsdecode(text)
    if not text:
        raise error(f"the {what} path is empty; give a file path")
    if "\x00" in text:
        raise error(f"{show(text)}: the {what} path contains a NUL byte; no file can have that name")
    encoded = os.fsencode(text)
    if len(encoded) > MAX_PATH_BYTES:
        raise error(f"{show(text)}: the {what} path is {len(encoded)} bytes long, more than {MAX_PATH_BYTES}; "
                    "use a shorter path")
    longest = max(len(part) for part in encoded.split(b"/"))
    if longest > MAX_NAME_BYTES:
        raise error(f"{show(text)}: a name in this {what} path is {longest} bytes long, more than {MAX_NAME_BYTES}; "
                    "use a shorter path")
    return Path(text)


def probe(path) -> os.stat_result | None:
    """``os.stat`` of ``path``, or None when it cannot be stat'ed for any reason (never raises)."""
    try:
        return os.stat(user_path(path))
    except (OSError, ValueError, InputError):
        return None


def is_regular_file(path) -> bool:
    """True when ``path`` names an existing regular file (never raises; for "is this a file?" decisions)."""
    info = probe(path)
    return info is not None and stat.S_ISREG(info.st_mode)


def _open_fd(path, what: str, error, hint: str) -> tuple[int, int]:
    """An O_RDONLY descriptor of a regular file, and its size; never blocks."""
    path = user_path(path, what=what, error=error)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        message = os_error_message(exc, path)
        if exc.errno == errno.ENOENT:
            message = f"{_shown(path)}: no such file" + (f"; {hint}" if hint else "")
        elif exc.errno == errno.EISDIR:
            message = f"{_shown(path)}: is a directory, not {what}" + (f"; {hint}" if hint else "")
        raise error(message) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = _kind(info.st_mode)
            raise error(f"{_shown(path)}: is {kind}, not {what}; give a regular file"
                        + (f" ({hint})" if hint and stat.S_ISDIR(info.st_mode) else ""))
    except BaseException:
        os.close(fd)
        raise
    return fd, info.st_size


def check_file(path, *, what: str, limit: int, error=InputError, hint: str = "") -> int:
    """Check that ``path`` is a readable regular file of at most ``limit`` bytes, for readers that must open it
    themselves (onnx.load with external data); return its size. Reads nothing."""
    fd, size = _open_fd(path, what, error, hint)
    os.close(fd)
    if size > limit:
        raise error(_too_large(path, what, limit))
    return size


def _too_large(path, what: str, limit: int) -> str:
    return f"{_shown(path)}: larger than {limit} bytes, more than any {what} can be; check the file"


class _Capped(io.RawIOBase):
    """A raw reader over a descriptor that raises ``error`` after ``limit`` bytes."""

    def __init__(self, fd: int, limit: int, fail):
        self.fd, self.left, self.fail = fd, limit, fail

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        try:
            data = os.read(self.fd, min(len(buffer), self.left + 1))
        except OSError as exc:
            self.fail(exc)
        if len(data) > self.left:
            self.fail(None)
        self.left -= len(data)
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            os.close(self.fd)
        super().close()


@contextlib.contextmanager
def open_text(path, *, what: str, limit: int, error=InputError, hint: str = ""):
    """A text stream (UTF-8, ``newline=""`` for csv) over a checked regular file, read in blocks.

    Reading past ``limit`` bytes raises ``error``; so do I/O errors and bytes that are not UTF-8.
    """
    fd, size = _open_fd(path, what, error, hint)
    if size > limit:
        os.close(fd)
        raise error(_too_large(path, what, limit))

    def fail(exc):
        raise error(os_error_message(exc, path) if exc is not None else _too_large(path, what, limit))

    stream = io.TextIOWrapper(io.BufferedReader(_Capped(fd, limit, fail)), encoding="utf-8-sig", errors="strict",
                              newline="")
    try:
        with stream:
            yield stream
    except UnicodeDecodeError as exc:
        raise error(f"{_shown(path)}: not a UTF-8 text file ({exc.reason} near byte {exc.start}); {what} is UTF-8 "
                    "text file") from None


def _read_all(fd: int, size: int, path, what: str, limit: int, error) -> bytes:
    if size > limit:
        raise error(_too_large(path, what, limit))
    chunks, total = [], 0
    while True:
        try:
            chunk = os.read(fd, max(1, min(max(size, 65536), limit + 1 - total)))
        except OSError as exc:
            raise error(os_error_message(exc, path)) from None
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        total += len(chunk)
        if total > limit:
            raise error(_too_large(path, what, limit))


def read_bytes(path, *, what: str, limit: int, error=InputError, hint: str = "") -> bytes:
    """All bytes of a checked regular file of at most ``limit`` bytes (see the module docstring)."""
    fd, size = _open_fd(path, what, error, hint)
    try:
        return _read_all(fd, size, path, what, limit, error)
    finally:
        os.close(fd)


def read_text(path, *, what: str, limit: int, error=InputError, hint: str = "") -> str:
    """The UTF-8 text of a checked regular file of at most ``limit`` bytes."""
    data = read_bytes(path, what=what, limit=limit, error=error, hint=hint)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise error(f"{_shown(path)}: not a UTF-8 text file ({exc.reason} near byte {exc.start}); {what} is UTF-8 "
                    "text file") from None


class FileBytes:
    """Read-only random access to a large file through ``pread``, one cached block at a time.

    Supports ``len(b)``, ``b[i]`` and ``b[i:j]`` (bytes), which is all the ONNX wire scanner
    needs, without reading the parts it skips (weights) and without ``mmap``: a file that
    shrinks while it is read raises ``error`` instead of ending the process with SIGBUS.
    """

    _BLOCK = 1 << 16

    def __init__(self, fd: int, size: int, path, error):
        self.fd, self.size, self.path, self.error = fd, size, path, error
        self.block, self.data = -1, b""

    def __len__(self) -> int:
        return self.size

    def _read(self, start: int, length: int) -> bytes:
        try:
            data = os.pread(self.fd, length, start)
        except OSError as exc:
            raise self.error(os_error_message(exc, self.path)) from None
        if len(data) != length:
            raise self.error(f"{_shown(self.path)}: the file changed while it was read (now shorter); read it "
                             "again when nothing writes it")
        return data

    def __getitem__(self, key):
        if isinstance(key, slice):
            start, stop, _ = key.indices(self.size)
            return self._read(start, stop - start) if stop > start else b""
        if key < 0:
            key += self.size
        if not 0 <= key < self.size:
            raise IndexError(key)
        block = key // self._BLOCK
        if block != self.block:
            start = block * self._BLOCK
            self.data, self.block = self._read(start, min(self._BLOCK, self.size - start)), block
        return self.data[key - block * self._BLOCK]


@contextlib.contextmanager
def model_bytes(path, *, what: str, limit: int, error=InputError, hint: str = "", random_access: bool = False):
    """The bytes of a checked regular file of at most ``limit`` bytes.

    Files up to :data:`IN_MEMORY_BYTES` (and every file unless ``random_access``) come back as
    ``bytes``; larger ones, with ``random_access``, as a :class:`FileBytes` that reads only what
    is asked for (the ONNX scanner skips weights by length and never reads them).
    """
    fd, size = _open_fd(path, what, error, hint)
    try:
        if size > limit:
            raise error(_too_large(path, what, limit))
        if size > IN_MEMORY_BYTES and random_access:
            yield FileBytes(fd, size, path, error)
        else:
            yield _read_all(fd, size, path, what, limit, error)
    finally:
        os.close(fd)
