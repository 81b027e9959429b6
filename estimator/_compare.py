"""Several models on several platforms and precisions at once: a :class:`Comparison` of estimates.

Rows are models, columns (platform, precision) pairs; each cell holds the :class:`Estimate` of that
model there, or the reason it was skipped (a precision the platform does not run). The values here
only arrange estimates; ``edgeperf.compare`` loads the models and profiles and makes them.
"""

from __future__ import annotations

from dataclasses import dataclass

from .._frames import frame, short_repr
from ._estimate import Estimate

__all__ = ["ComparisonCell", "Comparison"]

SCHEMA = "edgeperf.compare/1"


@dataclass(frozen=True, slots=True, kw_only=True)
class ComparisonCell:
    """One model on one platform at one precision: its estimate, or why there is none.

    ``precision`` is the precision asked for (None: the platform's default, or the model's own
    int8); the estimate says which precision it ran at.
    """

    model: str
    platform: str
    precision: str | None
    estimate: Estimate | None = None
    skipped: str | None = None

    def __post_init__(self) -> None:
        if (self.estimate is None) == (self.skipped is None):
            raise ValueError(f"a comparison cell has an estimate or a reason it was skipped, not "
                             f"{'both' if self.estimate is not None else 'neither'} ({self.model} on {self.platform})")

    @property
    def interval_ms(self) -> tuple[float, float] | None:
        """The estimate's latency interval (low, high) where its profile has an uncertainty model, else None."""
        low = getattr(self.estimate, "total_latency_ms_low", None)
        high = getattr(self.estimate, "total_latency_ms_high", None)
        return (low, high) if low is not None and high is not None else None

    def to_dict(self) -> dict:
        est = self.estimate
        interval = self.interval_ms
        return {
            "model": self.model, "platform": self.platform,
            "precision": est.precision if est is not None else self.precision,
            "latency_ms": est.total_latency_ms if est is not None else None,
            "latency_ms_low": interval[0] if interval else None,
            "latency_ms_high": interval[1] if interval else None,
            "interval_coverage": getattr(est, "interval_coverage", None),
            "throughput_per_s": est.throughput_per_s if est is not None else None,
            "energy_mj": est.total_energy_mj if est is not None else None,
            "latency_is_bound": est.latency_is_bound if est is not None else None,
            "skipped": self.skipped,
            "notes": list(est.notes) if est is not None else [],
        }


@dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class Comparison:
    """Estimates of ``models`` (rows) on ``columns`` ((platform, precision or None) pairs), one cell each."""

    models: tuple[str, ...]
    columns: tuple[tuple[str, str | None], ...]
    cells: tuple[ComparisonCell, ...]

    def __post_init__(self) -> None:
        if len(self.cells) != len(self.models) * len(self.columns):
            raise ValueError(f"a comparison of {len(self.models)} models x {len(self.columns)} columns needs "
                             f"{len(self.models) * len(self.columns)} cells, got {len(self.cells)}")

    def cell(self, model: str, platform: str, precision: str | None = None) -> ComparisonCell:
        """The cell of ``model`` on ``platform`` at ``precision`` (as the column was asked for).

        Raises
        ------
        KeyError
            When the comparison has no such cell.
        """
        for cell in self.cells:
            if (cell.model, cell.platform, cell.precision) == (model, platform, precision):
                return cell
        raise KeyError(f"no cell for {model} on {platform} at {precision}; columns: {list(self.columns)}")

    @property
    def has_intervals(self) -> bool:
        """True when any cell's profile gives a latency interval (the table then shows the column)."""
        return any(cell.interval_ms is not None for cell in self.cells)

    def __repr__(self) -> str:
        return short_repr(self, "models", "columns", cells=len(self.cells))

    def to_dict(self) -> dict:
        """The JSON contract (schema ``edgeperf.compare/1``): models, columns and one record per cell."""
        return {"schema": SCHEMA, "models": list(self.models),
                "columns": [{"platform": p, "precision": q} for p, q in self.columns],
                "cells": [cell.to_dict() for cell in self.cells]}

    def to_frame(self):
        """One row per cell with the columns of :meth:`ComparisonCell.to_dict` but the notes. Needs pandas."""
        return frame({k: v for k, v in cell.to_dict().items() if k != "notes"} for cell in self.cells)
