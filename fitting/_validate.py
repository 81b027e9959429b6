"""Validate a profile against measured latencies: per network measured and predicted, and the summary metrics."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._errors import ModelError
from .._frames import frame, short_repr
from .._progress import silent, step
from ..estimator import estimate_graph, load_model
from ..profiles import Metrics, Profile
from ._networks import prediction_metrics

__all__ = ["ValidationRow", "ValidationReport", "validate_table"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ValidationRow:
    model: str
    measured_ms: float
    predicted_ms: float

    @property
    def error(self) -> float:
        return (self.predicted_ms - self.measured_ms) / self.measured_ms


@dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class ValidationReport:
    """Measured against predicted latency per network, and summary statistics."""

    platform: str
    rows: tuple[ValidationRow, ...]
    summary: Metrics

    def __repr__(self) -> str:
        return short_repr(self, "platform", "summary", rows=len(self.rows))

    def to_frame(self):
        """One row per network: ``model``, ``measured_ms``, ``predicted_ms``, ``error`` (a fraction). Needs pandas."""
        return frame(({"model": r.model, "measured_ms": r.measured_ms, "predicted_ms": r.predicted_ms,
                       "error": r.error} for r in self.rows), columns=["model", "measured_ms", "predicted_ms", "error"])

    def to_dict(self) -> dict:
        return {"schema": "edgeperf.validate/1", "platform": self.platform,
                "rows": [{"model": r.model, "measured_ms": r.measured_ms, "predicted_ms": r.predicted_ms,
                          "error": r.error} for r in self.rows],
                "summary": self.summary.to_dict()}


def validate_table(samples, profile: Profile, *, precision: str | None = None, input_shapes=None,
                   progress=silent) -> ValidationReport:
    """Compare a profile's predictions with measured latencies (no device needed).

    The summary has the MAPE, the fraction within +-10 %, Spearman's rho and the count;
    ``progress`` (``edgeperf._progress``) gets a step per network estimated.
    """
    rows = []
    predicted_ms: dict[tuple, float] = {}          # a network listed on many rows is estimated once
    samples = tuple(samples)
    for number, sample in enumerate(samples):
        step(progress, number, len(samples), "estimating networks")
        key = (sample.model, sample.input_shape)
        if key not in predicted_ms:
            try:
                graph = load_model(sample.model, input_shapes=sample.shapes(input_shapes))
                predicted_ms[key] = estimate_graph(graph, profile, precision=precision).total_latency_ms
            except ModelError as exc:
                raise ModelError(f"table line {sample.line}: {exc}") from None
        rows.append(ValidationRow(model=sample.model, measured_ms=sample.latency_ms, predicted_ms=predicted_ms[key]))
    step(progress, len(samples), len(samples), "estimating networks")
    measured = np.array([r.measured_ms for r in rows])
    predicted = np.array([r.predicted_ms for r in rows])
    return ValidationReport(platform=profile.name, rows=tuple(rows), summary=prediction_metrics(predicted, measured))
