"""Atomic writes keep devices and pipes intact and leave nothing half-written."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from edgeperf import InputError
from edgeperf._atomic import write_text_atomic


def test_a_fifo_is_written_into_not_replaced(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(Path(fifo).read_text()))
    reader.start()
    write_text_atomic(fifo, "estimate\n")
    reader.join(timeout=10)
    assert received == ["estimate\n"]
    assert fifo.is_fifo()   # renaming a temporary file over it would have made it a regular file


def test_dev_null_stays_a_device():
    write_text_atomic("/dev/null", "discarded")
    assert Path("/dev/null").is_char_device()


def test_a_directory_is_refused(tmp_path):
    with pytest.raises(InputError, match="is a directory"):
        write_text_atomic(tmp_path, "x")


def test_regular_files_are_replaced_whole(tmp_path):
    target = tmp_path / "out.json"
    target.write_text("old")
    write_text_atomic(target, "new")
    assert target.read_text() == "new" and [p.name for p in tmp_path.iterdir()] == ["out.json"]
