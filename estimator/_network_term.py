"""A network-level latency term: the whole network's time as a monotone function of its layer sum.

Per-layer models add up (``_estimate``); some devices do not: a phone CPU's measured time grows
faster than the sum of its layers' costs as networks get larger (caches, big/little migration),
a desktop runtime's slower. A profile may therefore carry a closed-form term that maps the
additive total ``A`` (every layer plus the per-inference overhead, in ms) to the network's time.

``power_law`` (the one form): within the range of additive totals the term was fitted on,
``T = reference_ms * (A / reference_ms) ** gamma``; outside ``[lower_ms, upper_ms]`` it continues
proportionally from the nearer end (``T`` stays ``A`` times the ratio it has there), so the term
bends only where data supported it and never extrapolates the power law. ``gamma = 1`` is no term.

Every consumer applies it the same way: it computes the factor ``T / A`` with :func:`network_scale`
and multiplies every additive part of the inference by it (each layer's latency and energy and the
per-inference overhead), so the layers of an estimate still add up to its total and energy stays
power times time. Under DVFS the factor is taken at each operating point's own total.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["NetworkTerm", "network_scale", "NETWORK_TERM_FORMS"]

#: Forms a profile's ``network_term`` may take.
NETWORK_TERM_FORMS = ("power_law",)


@dataclass(frozen=True, slots=True, kw_only=True)
class NetworkTerm:
    """A fitted ``power_law`` network term (see the module docstring). Times in ms."""

    gamma: float
    reference_ms: float
    lower_ms: float
    upper_ms: float
    form: str = "power_law"

    def __post_init__(self):
        if self.form not in NETWORK_TERM_FORMS:
            raise ValueError(f"network_term.form must be one of {NETWORK_TERM_FORMS}, got {self.form!r}")
        for name in ("gamma", "reference_ms", "lower_ms", "upper_ms"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
                raise ValueError(f"network_term.{name} must be a positive finite number, got {value!r}")
        if not 0.25 <= self.gamma <= 4.0:
            raise ValueError(f"network_term.gamma must be in [0.25, 4], got {self.gamma!r}")
        if self.lower_ms > self.upper_ms:
            raise ValueError(f"network_term.lower_ms {self.lower_ms!r} must not exceed upper_ms {self.upper_ms!r}")


def network_scale(additive_ms, term: NetworkTerm | None):
    """Factor ``T / A`` that the network term applies to an inference whose additive total is ``additive_ms``.

    Parameters
    ----------
    additive_ms : float or numpy.ndarray
        Sum of the layers' latencies plus the per-inference overhead (ms), one or many (DVFS points).
    term : NetworkTerm or None
        None: no term (factor 1).

    Returns
    -------
    float or numpy.ndarray
        Dimensionless factor (> 0), the shape of ``additive_ms``; 1 where ``additive_ms`` is 0.

    Raises
    ------
    ValueError
        For a negative or non-finite ``additive_ms``.

    Examples
    --------
    >>> term = NetworkTerm(gamma=1.2, reference_ms=10.0, lower_ms=5.0, upper_ms=40.0)
    >>> round(float(network_scale(20.0, term)), 4)       # (20 / 10) ** 0.2 inside the range
    1.1487
    >>> round(float(network_scale(80.0, term)), 4)       # proportional beyond upper_ms: (40 / 10) ** 0.2
    1.3195
    >>> float(network_scale(12.0, None))
    1.0
    """
    a = np.asarray(additive_ms, dtype=float)
    if np.any(~np.isfinite(a)) or np.any(a < 0):
        raise ValueError(f"additive latency must be finite and >= 0 ms, got {additive_ms!r}")
    if term is None or term.gamma == 1.0:
        scale = np.ones_like(a)
    else:
        inside = np.clip(a, term.lower_ms, term.upper_ms)
        scale = (inside / term.reference_ms) ** (term.gamma - 1.0)
    return float(scale) if scale.ndim == 0 else scale
