"""How far to trust an estimate: an interval from the profile fit's held-out residuals, widened outside the fit.

A fitted profile's ``uncertainty`` holds the split-conformal half-width ``q`` of its held-out residuals
``|log(measured / predicted)|`` (leave one network out; for a derived profile, leave one board out): with
``n`` residuals, ``q`` is the ``ceil((n + 1) * coverage)``-th smallest, so a new network *like the
training ones* lands in ``[predicted * exp(-q), predicted * exp(q)]`` with probability at least
``coverage`` (exchangeability). Outside what the fit saw, the interval widens:

* a precision the fit did not see: ``q += log(unseen_factor)``;
* an input larger or smaller than every training input: ``q += size_slope * |log(size / nearest fitted size)|``;
* layers of operator classes no training network had: their share ``s`` of the estimate is uncertain
  by the factor ``unseen_factor``, so the low end is multiplied by ``1 - s * (1 - 1 / unseen_factor)``
  and the high end by ``1 + s * (unseen_factor - 1)``.

The widening constants are assumptions stated in each profile (with their sources); only ``q`` is a
measured quantity.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["Uncertainty", "Interval", "conformal_half_width", "latency_interval"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Uncertainty:
    """A profile's interval model (see the module docstring); log widths are natural logs."""

    coverage: float
    half_width: float
    residuals: int
    method: str
    fitted_precisions: tuple[str, ...] = ()
    fitted_input_hw: tuple[int, int] | None = None
    fitted_classes: tuple[str, ...] = ()
    size_slope: float = 0.5
    unseen_factor: float = 2.5

    def __post_init__(self) -> None:
        if not 0.0 < self.coverage < 1.0:
            raise ValueError(f"uncertainty.coverage must be in (0, 1), got {self.coverage!r}")
        if not (self.half_width >= 0.0 and math.isfinite(self.half_width)):
            raise ValueError(f"uncertainty.half_width must be finite and >= 0, got {self.half_width!r}")
        if self.unseen_factor < 1.0 or self.size_slope < 0.0:
            raise ValueError(f"uncertainty needs unseen_factor >= 1 and size_slope >= 0, got "
                             f"{self.unseen_factor!r} and {self.size_slope!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Interval:
    """An estimate's interval (ms), the coverage it was built for, and why it was widened."""

    low_ms: float
    high_ms: float
    coverage: float
    notes: tuple[str, ...] = ()


def conformal_half_width(log_residuals, coverage: float) -> float:
    """Split-conformal half-width of ``|log(measured / predicted)|`` at ``coverage``.

    Raises
    ------
    ValueError
        With too few residuals for the coverage (``ceil((n + 1) coverage) > n``).

    >>> round(conformal_half_width([0.1, -0.2, 0.05, 0.3, -0.15, 0.02, 0.08, -0.12, 0.25], 0.8), 2)
    0.25
    """
    r = np.sort(np.abs(np.asarray(log_residuals, dtype=float)))
    rank = math.ceil((r.size + 1) * coverage)
    if rank > r.size:
        raise ValueError(f"{r.size} residuals cannot give a {coverage:.0%} conformal interval "
                         f"(needs at least {math.ceil(coverage / (1 - coverage))})")
    return float(r[rank - 1])


def latency_interval(total_ms: float, uncertainty: Uncertainty | None, *, precision: str, input_hw: int | None,
                     unseen_ms: float, unseen_classes: tuple[str, ...]) -> Interval | None:
    """The interval of an estimate of ``total_ms``; None when the profile has no uncertainty model.

    ``unseen_ms`` is the part of ``total_ms`` from layers of ``unseen_classes`` (classes no training
    network had).
    """
    if uncertainty is None:
        return None
    half = uncertainty.half_width
    notes = []
    if uncertainty.fitted_precisions and precision not in uncertainty.fitted_precisions:
        half += math.log(uncertainty.unseen_factor)
        notes.append(f"precision {precision} was not fitted ({', '.join(uncertainty.fitted_precisions)} was)")
    if input_hw and uncertainty.fitted_input_hw:
        low, high = uncertainty.fitted_input_hw
        nearest = min(max(input_hw, low), high)
        if nearest != input_hw:
            half += uncertainty.size_slope * abs(math.log(input_hw / nearest))
            notes.append(f"input {input_hw} is outside the fitted sizes {low}-{high}")
    share = unseen_ms / total_ms if total_ms > 0 else 0.0
    factor = uncertainty.unseen_factor
    low_scale, high_scale = 1.0 - share * (1.0 - 1.0 / factor), 1.0 + share * (factor - 1.0)
    if share > 0:
        notes.append(f"{100 * share:.0f} % of the estimate is in layer classes the fit never saw "
                     f"({', '.join(unseen_classes)})")
    return Interval(low_ms=total_ms * math.exp(-half) * low_scale, high_ms=total_ms * math.exp(half) * high_scale,
                    coverage=uncertainty.coverage, notes=tuple(notes))
