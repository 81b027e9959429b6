"""Running the command line in a test: the exit code must be 0; its stdout comes back."""

from __future__ import annotations

from edgeperf.cli import main

EXAMPLE = "examples/conv3dense1.onnx"


def run(args, capsys) -> str:
    """``edgeperf ARGS`` in this process; asserts exit code 0 (showing stderr otherwise) and returns stdout."""
    code = main(args)
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return captured.out
