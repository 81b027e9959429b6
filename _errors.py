"""The project's exception hierarchy.

Every error a user can cause derives from :class:`EdgeperfError` and from the
nearest builtin, so callers may catch either. Messages say what was wrong, the
offending value, what is accepted and how to fix it; the CLI prints them as a
single line and exits with code 2 (code 3 for :class:`DisturbedError`: the input was fine, the
machine was too busy to measure).
"""

from __future__ import annotations

__all__ = [
    "EdgeperfError",
    "ModelError",
    "UnknownOpError",
    "ProfileError",
    "InputError",
    "LimitError",
    "DisturbedError",
]


class EdgeperfError(Exception):
    """Base class of every error edgeperf raises on purpose."""


class ModelError(EdgeperfError, ValueError):
    """A model file (ONNX, TFLite or zoo reference) cannot be read or is invalid."""


class UnknownOpError(ModelError):
    """A model uses an operator edgeperf has no cost model for.

    Attributes
    ----------
    op_types : tuple of str
        The unknown operator types, sorted.
    known : tuple of str
        Every operator type edgeperf knows, sorted.
    """

    def __init__(self, message: str, *, op_types: tuple[str, ...], known: tuple[str, ...]):
        super().__init__(message)
        self.op_types = op_types
        self.known = known


class ProfileError(EdgeperfError, ValueError):
    """A platform profile is missing, malformed or violates the schema."""


class InputError(EdgeperfError, ValueError):
    """An option or argument value is invalid (unknown precision, bad shape string, ...)."""


class LimitError(EdgeperfError, RuntimeError):
    """A request exceeds a stated bound on work or memory and was refused."""


class DisturbedError(EdgeperfError, RuntimeError):
    """Too many measurements were disturbed by other load to trust the result (the CLI exits with code 3).

    What was measured is kept (sweep files are rewritten atomically after every measurement), and a
    rerun measures the disturbed ones again.

    Attributes
    ----------
    disturbed, total : int
        Measurements still disturbed after re-measuring, and measurements in all.
    """

    def __init__(self, disturbed: int, total: int):
        super().__init__(f"{disturbed} of {total} measurements disturbed by other load; rerun on an idle machine "
                         "or raise --budget-minutes")
        self.disturbed = disturbed
        self.total = total
