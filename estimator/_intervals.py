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

__all__ = ["Uncertainty", "Interval", "IntervalBasis", "conformal_half_width", "interval_basis", "interval_of"]


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


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class IntervalBasis:
    """What the interval of one network on one profile needs, before its latency is known.

    ``half_width`` is the log half-width after the precision and size widening; ``unseen`` marks
    the executed layers of operator classes the fit never saw (their share of the latency widens
    the interval by ``unseen_factor``). The engine keeps it with the network's reference costs, so
    that an estimate, a DVFS grid point and a thermal run give the same interval at the same clocks.
    """

    coverage: float
    half_width: float
    unseen: np.ndarray
    unseen_factor: float
    unseen_classes: tuple[str, ...]
    notes: tuple[str, ...]

    def bounds(self, total_ms, unseen_ms):
        """Low and high ends (ms) for totals ``total_ms`` of which ``unseen_ms`` is in unseen classes (vectorised)."""
        total = np.asarray(total_ms, dtype=float)
        share = np.divide(unseen_ms, total, out=np.zeros_like(total), where=total > 0)
        factor = self.unseen_factor
        low = total * math.exp(-self.half_width) * (1.0 - share * (1.0 - 1.0 / factor))
        high = total * math.exp(self.half_width) * (1.0 + share * (factor - 1.0))
        return low, high


def interval_basis(uncertainty: Uncertainty | None, *, precision: str, input_hw: int | None,
                   op_class: np.ndarray) -> IntervalBasis | None:
    """The interval basis of a network whose executed layers have classes ``op_class`` (None without a model).

    >>> u = Uncertainty(coverage=0.9, half_width=0.2, residuals=41, method="t", fitted_precisions=("fp16",),
    ...                 fitted_input_hw=(128, 224))
    >>> b = interval_basis(u, precision="fp32", input_hw=224, op_class=np.array(["conv"]))
    >>> round(b.half_width - 0.2, 4) == round(math.log(u.unseen_factor), 4)   # an unseen precision widens it
    True
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
    classes = np.asarray(op_class).astype(str)
    unseen_classes = tuple(sorted(set(classes) - set(uncertainty.fitted_classes))) if uncertainty.fitted_classes else ()
    return IntervalBasis(coverage=uncertainty.coverage, half_width=half, unseen=np.isin(classes, unseen_classes),
                         unseen_factor=uncertainty.unseen_factor, unseen_classes=unseen_classes, notes=tuple(notes))


def _unseen_notes(basis: IntervalBasis, share: float) -> tuple[str, ...]:
    if share <= 0:
        return ()
    return (f"{100 * share:.1f} % of the estimate is in layer classes the fit never saw "
            f"({', '.join(basis.unseen_classes)})",)


def interval_of(basis: IntervalBasis | None, total_ms: float, unseen_ms: float) -> Interval | None:
    """One network's :class:`Interval` (with its notes) from its basis and totals; None without a basis."""
    if basis is None:
        return None
    low, high = basis.bounds(total_ms, unseen_ms)
    share = unseen_ms / total_ms if total_ms > 0 else 0.0
    return Interval(low_ms=float(low), high_ms=float(high), coverage=basis.coverage,
                    notes=basis.notes + _unseen_notes(basis, share))
