"""Layer latency models: pure, vectorised functions, one registry.

Every model maps arrays of layer features (one element per executed layer of
one operator class, with the peak throughput and bandwidth the layer gets at the
chosen precision and clocks) to three parts: a compute part inversely
proportional to the throughput, a memory part inversely proportional to the
bandwidth, and a fixed per-layer overhead. Its registry entry (:class:`CostModel`)
says how the parts combine into the layer's latency (``combine``: ``max`` where
compute and memory overlap, ``sum`` where they do not). Because the rule lives in
the entry, every evaluation (single estimates, DVFS grids, thermal runs, search
blocks) combines the parts the same way, and a new form needs only its entry.

Forms (parameters are the profile's data, see docs/profile-format.md):

``roofline``
    ``t = max(flops / (eff_c * peak), bytes / (eff_m * bw)) + overhead``.
``refined_roofline``
    ANNETTE's refinement (Wess et al., IEEE Access 2021): per unrolled dimension
    x with parallelism p and weight alpha, ``u = x / (ceil(x / p) * p)``,
    ``eff_x = 1 / ((1 - alpha) + alpha / u)``, and the compute roof is lowered by
    the product of the ``eff_x``: ``t = max(t_c / eff, t_m)``. ANNETTE's code
    divides the whole time by ``eff`` only when ``t_c > t_m``; that rule is not
    monotone (adding bytes can flip a layer to memory-bound and make it faster,
    found by a property test), so edgeperf lowers the roof instead. Both agree
    whenever the refined layer stays compute-bound.
``step_linear``
    The step-plus-linear form of Blackthorn/ANNETTE (seed 003): latency is
    linear in the work counted in hardware-sized steps,
    ``t = overhead + a_c * padded_ops + a_m * bytes``, where ``padded_ops`` is
    the layer's arithmetic with each stepped dimension rounded up to a multiple
    of its step width (``ceil(x / p) * p``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .._messages import show
from .._numbers import number_problem

__all__ = [
    "Features",
    "CostParts",
    "CostModel",
    "COMBINE_RULES",
    "COST_MODELS",
    "ParamSpec",
    "STEP_DIMS",
]

#: Geometry dimensions a step model may unroll.
STEP_DIMS: tuple[str, ...] = ("c_in", "c_out", "h_out", "w_out")


@dataclass(frozen=True, slots=True, eq=False)
class Features:
    """Per-layer arrays of one operator class (all the same length)."""

    flops: np.ndarray
    bytes_: np.ndarray
    c_in: np.ndarray
    c_out: np.ndarray
    h_out: np.ndarray
    w_out: np.ndarray
    flops_per_ms: np.ndarray
    bytes_per_ms: np.ndarray
    weight_bytes: np.ndarray | None = None  # the parts of ``bytes_`` that are weights and outputs
    out_bytes: np.ndarray | None = None

    @property
    def size(self) -> int:
        return int(self.flops.shape[0])


@dataclass(frozen=True, slots=True, eq=False)
class CostParts:
    """Latency parts in ms, arrays aligned with the input features."""

    compute_ms: np.ndarray
    memory_ms: np.ndarray
    overhead_ms: np.ndarray
    latency_ms: np.ndarray


@dataclass(frozen=True, slots=True)
class ParamSpec:
    """One parameter of a cost model: its name, lower/upper bound and default."""

    name: str
    low: float
    high: float
    default: float | None = None
    kind: str = "number"  # "number" or "steps"


def _unpadded(features: Features, params: dict) -> tuple[np.ndarray, np.ndarray]:
    compute = features.flops / (features.flops_per_ms * params.get("compute_efficiency", 1.0))
    memory = features.bytes_ / (features.bytes_per_ms * params.get("memory_efficiency", 1.0))
    return compute, memory


def _overhead(features: Features, params: dict) -> np.ndarray:
    return np.full(features.size, float(params.get("overhead_ms", 0.0)))


def roofline(features: Features, params: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Classic roofline parts: compute and memory at the efficiencies, and a fixed overhead (combined by ``max``)."""
    compute, memory = _unpadded(features, params)
    return compute, memory, _overhead(features, params)


def step_efficiency(x: np.ndarray, par: int, alpha: float) -> np.ndarray:
    """ANNETTE's blended step efficiency of dimension ``x`` on ``par`` lanes.

    >>> float(step_efficiency(np.array([33.0]), 32, 1.0)[0])  # 33 of 64 lanes busy
    0.515625
    """
    x = np.maximum(np.asarray(x, dtype=float), 1.0)
    used = x / (np.ceil(x / par) * par)
    return 1.0 / ((1.0 - alpha) + alpha / used)


def refined_roofline(features: Features, params: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Roofline parts whose compute roof is lowered by per-dimension step efficiencies (combined by ``max``)."""
    compute, memory = _unpadded(features, params)
    efficiency = np.ones(features.size)
    for dim, step in params.get("steps", {}).items():
        efficiency = efficiency * step_efficiency(getattr(features, dim), int(step["par"]), float(step.get("alpha", 1.0)))
    return compute / efficiency, memory, _overhead(features, params)


def padding_factor(features: Features, steps: dict) -> np.ndarray:
    """Work inflation from rounding each stepped dimension up to its step width."""
    factor = np.ones(features.size)
    for dim, step in steps.items():
        x = np.maximum(getattr(features, dim).astype(float), 1.0)
        par = float(step["par"])
        factor = factor * (np.ceil(x / par) * par) / x
    return factor


def step_linear(features: Features, params: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Latency linear in hardware-step counts of work and in bytes (Blackthorn/ANNETTE; combined by ``sum``).

    ``memory_scale`` weighs every byte moved, unless ``weight_scale`` or ``output_scale`` give weights
    and written outputs their own weight (then ``memory_scale`` weighs the input activations).
    """
    padded = features.flops * padding_factor(features, params.get("steps", {}))
    compute = params.get("compute_scale", 1.0) * padded / features.flops_per_ms
    scale = params.get("memory_scale", 1.0)
    moved = scale * features.bytes_
    if features.weight_bytes is not None and ("weight_scale" in params or "output_scale" in params):
        moved = (scale * (features.bytes_ - features.weight_bytes - features.out_bytes)
                 + params.get("weight_scale", scale) * features.weight_bytes
                 + params.get("output_scale", scale) * features.out_bytes)
    return compute, moved / features.bytes_per_ms, _overhead(features, params)


_EFFICIENCY = (
    ParamSpec("compute_efficiency", 1e-6, 1.0, 1.0),
    ParamSpec("memory_efficiency", 1e-6, 1.0, 1.0),
    ParamSpec("overhead_ms", 0.0, 1e4, 0.0),
)

#: How the compute and memory parts of a layer combine: ``max`` where they overlap (roofline), ``sum`` where not.
COMBINE_RULES: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {"max": np.maximum, "sum": np.add}


@dataclass(frozen=True, slots=True)
class CostModel:
    """One parametric form of the registry: its parts, accepted parameters and combine rule.

    ``parts(features, params)`` returns the compute, memory and overhead times (ms). The contract,
    checked for every registered form by tests/test_cost_models.py: the compute part is inversely
    proportional to ``features.flops_per_ms``, the memory part to ``features.bytes_per_ms``, and the
    overhead depends on neither, so parts computed once at reference clocks give the latency at any
    clocks. ``combine`` names the rule in :data:`COMBINE_RULES` that makes the layer's latency of
    the parts (plus the overhead). Calling the entry returns the :class:`CostParts`.
    """

    parts: Callable[[Features, dict], tuple[np.ndarray, np.ndarray, np.ndarray]]
    params: tuple[ParamSpec, ...]
    combine: str

    def __post_init__(self) -> None:
        if self.combine not in COMBINE_RULES:
            raise ValueError(f"combine must be one of {sorted(COMBINE_RULES)}, got {show(self.combine)}")

    def __call__(self, features: Features, params: dict) -> CostParts:
        compute, memory, overhead = self.parts(features, params)
        return CostParts(compute, memory, overhead, COMBINE_RULES[self.combine](compute, memory) + overhead)


#: form name -> its registry entry. A new form: its parts function, its parameters, its combine rule.
COST_MODELS: dict[str, CostModel] = {
    "roofline": CostModel(roofline, _EFFICIENCY, "max"),
    "refined_roofline": CostModel(refined_roofline, _EFFICIENCY + (ParamSpec("steps", 0, 0, None, "steps"),), "max"),
    "step_linear": CostModel(step_linear, (
        ParamSpec("compute_scale", 0.0, 1e6, 1.0),
        ParamSpec("memory_scale", 0.0, 1e6, 1.0),
        ParamSpec("weight_scale", 0.0, 1e6, None),
        ParamSpec("output_scale", 0.0, 1e6, None),
        ParamSpec("overhead_ms", 0.0, 1e4, 0.0),
        ParamSpec("steps", 0, 0, None, "steps"),
    ), "sum"),
}


def validate_params(form: str, params: dict, where: str) -> dict:
    """Check ``params`` against the form's specs; return them with defaults filled in.

    Raises
    ------
    ValueError
        Naming the parameter, its value and the accepted range.
    """
    if not isinstance(form, str) or form not in COST_MODELS:
        raise ValueError(f"{where}.form: unknown cost model {show(form)}; known: {sorted(COST_MODELS)}")
    if not isinstance(params, Mapping):
        raise ValueError(f"{where} must be an object of parameters, got {show(params)}")
    specs = {spec.name: spec for spec in COST_MODELS[form].params}
    unknown = sorted(set(params) - set(specs))
    if unknown:
        raise ValueError(f"{where}: unknown parameter(s) {unknown} for form {show(form)}; accepted: {sorted(specs)}")
    clean: dict = {}
    for name, spec in specs.items():
        if name not in params:
            if spec.default is not None:
                clean[name] = spec.default
            continue
        value = params[name]
        if spec.kind == "steps":
            clean[name] = _validate_steps(value, f"{where}.{name}")
            continue
        number, problem = number_problem(value, low=spec.low, high=spec.high) if not isinstance(value, str) \
            else (None, f"{show(value)} is not a number")
        if problem is not None:
            raise ValueError(f"{where}.{name} must be a finite number in [{spec.low}, {spec.high}]: {problem}")
        clean[name] = number
    return clean


def _validate_steps(value, where: str) -> dict:
    if not isinstance(value, Mapping):
        raise ValueError(f"{where} must map dimensions {STEP_DIMS} to {{'par': int, 'alpha': float}}, got {show(value)}")
    steps = {}
    for dim, step in value.items():
        if dim not in STEP_DIMS:
            raise ValueError(f"{where}: unknown dimension {show(dim)}; accepted: {STEP_DIMS}")
        if not isinstance(step, Mapping) or set(step) - {"par", "alpha"} or "par" not in step:
            raise ValueError(f"{where}.{dim} must be {{'par': int >= 1, 'alpha': 0..1}}, got {show(step)}")
        par, alpha = step["par"], step.get("alpha", 1.0)
        if isinstance(par, bool) or not isinstance(par, int) or not 1 <= par <= 65536:
            raise ValueError(f"{where}.{dim}.par must be an integer in [1, 65536], got {show(par)}")
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0.0 <= alpha <= 1.0:
            raise ValueError(f"{where}.{dim}.alpha must be a number in [0, 1], got {show(alpha)}")
        steps[dim] = {"par": par, "alpha": float(alpha)}
    return steps
