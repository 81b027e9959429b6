"""A network-level latency term: the whole network's time as a closed form of its layers' costs.

Per-layer models add up (``_estimate``); some devices do not: a phone CPU's measured time grows
faster than the sum of its layers' costs as networks get larger (caches, big/little migration),
a desktop runtime's slower, and a runtime that runs independent branches of a graph at once
(TensorFlow's inter-op thread pool) spends less than the sum, the less the deeper the graph. A
profile may therefore carry a closed-form term that maps the additive total ``A`` (every layer
plus the per-inference overhead ``F``, in ms) to the network's time. Two forms:

``power_law``: within the range of additive totals the term was fitted on,
``T = reference_ms * (A / reference_ms) ** gamma``; outside ``[lower_ms, upper_ms]`` it continues
proportionally from the nearer end (``T`` stays ``A`` times the ratio it has there), so the term
bends only where data supported it and never extrapolates the power law. ``gamma = 1`` is no term.

``critical_path``: ``T = (1 - parallel) * A + parallel * (C + F)``, with ``S = A - F`` the sum of the
layers' latencies and ``C`` the longest path through the graph of executed layers weighted by
those latencies (``_critical_path``): the time of a runtime that overlaps a share ``parallel`` of
the work off the critical path. ``parallel`` is bounded to [0, 1], so ``C + F <= T <= A``: never
faster than the critical path, never slower than running every layer in turn. ``parallel = 0`` is
no term. ``C`` is computed once per estimate at reference clocks, as the share ``r = C / S``
(:func:`~edgeperf.estimator.critical_share`); at other operating points the path is assumed to keep
that share of the layer sum (exact where every layer scales alike; an assumption where compute and
memory clocks move apart and another path could become the longest).

Every consumer applies it the same way: it computes the factor ``T / A`` with :func:`network_scale`
and multiplies every additive part of the inference by it (each layer's latency and energy and the
per-inference overhead), so the layers of an estimate still add up to its total and energy stays
power times time. Under DVFS the factor is taken at each operating point's own total.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["NetworkTerm", "network_scale", "NETWORK_TERM_FORMS", "NETWORK_TERM_PARAMS"]

#: Forms a profile's ``network_term`` may take, and the named parameters of each.
NETWORK_TERM_PARAMS = {"power_law": ("gamma", "reference_ms", "lower_ms", "upper_ms"), "critical_path": ("parallel",)}
NETWORK_TERM_FORMS = tuple(NETWORK_TERM_PARAMS)


@dataclass(frozen=True, slots=True, kw_only=True)
class NetworkTerm:
    """A fitted network term (see the module docstring): its form and that form's parameters. Times in ms."""

    gamma: float | None = None
    reference_ms: float | None = None
    lower_ms: float | None = None
    upper_ms: float | None = None
    parallel: float | None = None
    form: str = "power_law"

    def __post_init__(self):
        if self.form not in NETWORK_TERM_FORMS:
            raise ValueError(f"network_term.form must be one of {NETWORK_TERM_FORMS}, got {self.form!r}")
        names = NETWORK_TERM_PARAMS[self.form]
        for name in ("gamma", "reference_ms", "lower_ms", "upper_ms", "parallel"):
            value = getattr(self, name)
            if name not in names:
                if value is not None:
                    raise ValueError(f"network_term.{name} is not a parameter of the {self.form} form")
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0 \
                    or (value == 0 and name != "parallel"):
                raise ValueError(f"network_term.{name} must be a positive finite number, got {value!r}")
        if self.form == "critical_path":
            if not 0.0 <= self.parallel <= 1.0:
                raise ValueError(f"network_term.parallel must be in [0, 1], got {self.parallel!r}")
            return
        if not 0.25 <= self.gamma <= 4.0:
            raise ValueError(f"network_term.gamma must be in [0.25, 4], got {self.gamma!r}")
        if self.lower_ms > self.upper_ms:
            raise ValueError(f"network_term.lower_ms {self.lower_ms!r} must not exceed upper_ms {self.upper_ms!r}")

    @property
    def params(self) -> dict:
        """The form's named parameters (name -> value), as a profile stores them."""
        return {name: getattr(self, name) for name in NETWORK_TERM_PARAMS[self.form]}

    def describe(self) -> str:
        """One phrase for reports: the form and its parameters."""
        if self.form == "critical_path":
            return (f"critical path, parallel share {self.parallel:g} (T = (1 - {self.parallel:g}) x layer sum + "
                    f"{self.parallel:g} x longest path, plus the overhead)")
        return (f"power law, gamma {self.gamma:g} around {self.reference_ms:.3g} ms, between {self.lower_ms:.3g} and "
                f"{self.upper_ms:.3g} ms of layer sum (proportional outside)")


def network_scale(additive_ms, term: NetworkTerm | None, *, critical_share=1.0, serial_ms: float = 0.0):
    """Factor ``T / A`` that the network term applies to an inference whose additive total is ``additive_ms``.

    Parameters
    ----------
    additive_ms : float or numpy.ndarray
        Sum of the layers' latencies plus the per-inference overhead (ms), one or many (DVFS points).
    term : NetworkTerm or None
        None: no term (factor 1).
    critical_share : float or numpy.ndarray
        ``critical_path`` form: the longest path's share ``C / S`` of the layer sum (0 to 1; 1 for a chain).
    serial_ms : float
        ``critical_path`` form: the part of ``additive_ms`` outside the layers (the per-inference
        overhead, on the critical path by definition).

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
    >>> path = NetworkTerm(form="critical_path", parallel=0.5)
    >>> float(network_scale(10.0, path, critical_share=0.6, serial_ms=2.0))   # S 8, C 4.8: T = 0.5*10 + 0.5*6.8
    0.84
    """
    a = np.asarray(additive_ms, dtype=float)
    if np.any(~np.isfinite(a)) or np.any(a < 0):
        raise ValueError(f"additive latency must be finite and >= 0 ms, got {additive_ms!r}")
    if term is None or (term.form == "power_law" and term.gamma == 1.0) or \
            (term.form == "critical_path" and term.parallel == 0.0):
        scale = np.ones_like(a)
    elif term.form == "critical_path":
        layers = np.maximum(a - serial_ms, 0.0)
        off_path = layers * (1.0 - np.clip(np.asarray(critical_share, dtype=float), 0.0, 1.0))
        scale = 1.0 - term.parallel * np.divide(off_path, a, out=np.zeros_like(a * off_path), where=a > 0)
    else:
        inside = np.clip(a, term.lower_ms, term.upper_ms)
        scale = (inside / term.reference_ms) ** (term.gamma - 1.0)
    return float(scale) if scale.ndim == 0 else scale
