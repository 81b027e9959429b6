"""What a profile rests on, as values: prediction metrics, fit choices and the ``provenance`` section.

Edgeperf reads some of a profile's provenance (which operator classes a fit covered, the largest
input it saw, its cross-validated error, the power fit's residual) and writes the rest as a record
of how the profile was made. The parts it reads or writes as a fitter are typed fields here; keys
it does not interpret (a dataset's name, published figures a profile was checked against) stay as
they were written, in ``details``. The JSON layout is read and written in ``_schema`` alone.
"""

from __future__ import annotations

from .._messages import show

import math
from dataclasses import dataclass, field, replace
from types import MappingProxyType

__all__ = ["Metrics", "CrossValidatedChoice", "PowerFitRecord", "HeldOutErrors", "Provenance", "freeze", "thaw"]


def freeze(value):
    """A JSON value made immutable: objects become read-only mappings, lists tuples (recursively).

    >>> freeze({"a": [1, {"b": 2}]})["a"][1]["b"]
    2
    """
    if isinstance(value, (dict, MappingProxyType)):
        return MappingProxyType({key: freeze(item) for key, item in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(freeze(item) for item in value)
    return value


def thaw(value):
    """The mutable JSON value of a :func:`freeze` d one (a fresh copy).

    >>> thaw(freeze({"a": [1, 2]}))
    {'a': [1, 2]}
    """
    if isinstance(value, (dict, MappingProxyType)):
        return {key: thaw(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [thaw(item) for item in value]
    return value


@dataclass(frozen=True, slots=True, kw_only=True)
class Metrics:
    """How well predictions match measurements.

    Attributes
    ----------
    mape : float
        Mean absolute percentage error, as a fraction (0.05 = 5 %).
    within_10pct : float
        Fraction of networks predicted within +-10 %.
    spearman : float or None
        Spearman's rank correlation; None where undefined (fewer than 3 networks, constant values).
    n : int
        Number of networks.
    """

    mape: float
    within_10pct: float
    spearman: float | None
    n: int

    def __post_init__(self) -> None:
        if not (math.isfinite(self.mape) and self.mape >= 0):
            raise ValueError(f"mape must be a finite fraction >= 0, got {show(self.mape)}")
        if not 0.0 <= self.within_10pct <= 1.0:
            raise ValueError(f"within_10pct must be a fraction in [0, 1], got {show(self.within_10pct)}")
        if self.n < 0:
            raise ValueError(f"n must be >= 0, got {show(self.n)}")

    def to_dict(self) -> dict:
        """``{"mape", "within_10pct", "spearman", "n"}`` (the JSON of reports and profiles).

        >>> Metrics(mape=0.05, within_10pct=0.9, spearman=None, n=3).to_dict()
        {'mape': 0.05, 'within_10pct': 0.9, 'spearman': None, 'n': 3}
        """
        return {"mape": self.mape, "within_10pct": self.within_10pct, "spearman": self.spearman, "n": self.n}


@dataclass(frozen=True, slots=True, kw_only=True)
class CrossValidatedChoice:
    """A design choice a fit made from the data: the option kept and each option's cross-validated MAPE.

    ``chosen`` is what the profile records (``True``/``False`` for sibling merging, ``"one"``/``"split"``
    for memory terms); ``cv_mape`` maps each option's label (``with``, ``without``, ``one``, ``split``) to
    its cross-validated error.
    """

    chosen: bool | str
    cv_mape: MappingProxyType

    def to_dict(self) -> dict:
        return {"chosen": self.chosen, **{f"cv_mape_{option}": value for option, value in self.cv_mape.items()}}


@dataclass(frozen=True, slots=True, kw_only=True)
class PowerFitRecord:
    """What a power fit (``edgeperf fit-power``) rested on and how well it fits (mW)."""

    busy_points: int
    idle_points: int
    idle_from: str                      # "table" or "profile"
    coefficients_mw: MappingProxyType   # compute domain and each other varied domain -> dynamic mW at reference
    max_abs_residual_mw: float
    source: str

    def to_dict(self) -> dict:
        return {"busy_points": self.busy_points, "idle_points": self.idle_points, "idle_from": self.idle_from,
                "coefficients_mw": dict(self.coefficients_mw), "max_abs_residual_mw": self.max_abs_residual_mw,
                "source": self.source}


@dataclass(frozen=True, slots=True, kw_only=True)
class HeldOutErrors:
    """A calibrated profile's check on held-out networks: metrics, and the median and largest |error| (fractions)."""

    metrics: Metrics
    median_abs_error: float
    max_abs_error: float

    def to_dict(self) -> dict:
        return {**self.metrics.to_dict(), "median_abs_error": self.median_abs_error,
                "max_abs_error": self.max_abs_error}


@dataclass(frozen=True, slots=True, kw_only=True)
class Provenance:
    """The ``provenance`` section of a profile: what it was fitted on, and how well it fits.

    Every field is optional (a datasheet profile has none). A network fit (``edgeperf fit``) fills
    the fields from ``fitted_on`` to ``network_term``; a power fit ``power_fit``; a calibration adds
    ``held_out``. ``details`` keeps every other key as it was written (frozen JSON values).
    """

    fitted_on: str | None = None
    n_networks: int | None = None
    precision: str | None = None
    base_profile: str | None = None
    ridge: float | None = None
    folds: int | None = None
    cross_validation: Metrics | None = None
    training: Metrics | None = None
    fitted_classes: tuple[str, ...] | None = None
    date: str | None = None
    fixed_size_classes: tuple[str, ...] | None = None
    sibling_merge: CrossValidatedChoice | None = None
    memory_terms: CrossValidatedChoice | None = None
    network_term: CrossValidatedChoice | None = None   # "power_law", "critical_path" or "none", each option's CV MAPE
    signature_residuals: CrossValidatedChoice | None = None   # "per_signature" or "none", each option's CV MAPE
    power_fit: PowerFitRecord | None = None
    validation: HeldOutErrors | None = None
    fitted_input_hw_max: int | float | None = None   # largest input height/width the fit saw (pixels)
    fitted_input_hw_min: int | float | None = None   # smallest input height/width the fit saw (pixels)
    details: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))

    def with_details(self, **details) -> "Provenance":
        """A copy with ``details`` added to (or replacing) the free-form keys."""
        return replace(self, details=MappingProxyType({**self.details, **{k: freeze(v) for k, v in details.items()}}))
