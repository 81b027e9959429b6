"""Fitting the board model with a prior learned across boards, and judging it as it will be used.

Each chip (``unit``: the boards that share it, e.g. the Coral Dev Board and USB Accelerator) has 3-8
published networks and 4-7 coefficients, too few to fit alone. The fit is a maximum a posteriori
estimate in log space: squared log-errors of the unit's networks plus ``((theta - mu) / (sd * strength))^2``
per coefficient, where ``mu`` is learned across the *other* chips (HELP's idea, Lee et al. 2021: a new
device needs few samples when other devices inform it) and ``sd`` is the starting prior's spread
(``_model.PARAMETERS``) times one ``strength`` chosen by cross-validation.

Learning ``mu``: start from the starting prior, fit every chip, set ``mu`` to the mean of their
estimates (per coefficient, over the chips whose data determine it), repeat a few times.

Judging: leave one network out (LONO) of its board's fit, with ``mu`` learned from the other chips
only, so that no number of the held-out row's chip informs its prior either; the strict variant also
removes that network from every other chip before learning ``mu``. Block tables (``BoardSpec.blocks``)
are samples of their chip like any other, with a harness overhead and runtime factor of their own;
they are never held out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ._board_model import COMBINE, PARAMETERS, PER_BOARD, BoardFeatures, StackedFeatures, log_prior, predict_ms
from ._published import PublishedRow
from ._board_specs import EDGETPU_ON_CHIP_BYTES, HOST_LINKS, BoardSpec

__all__ = ["Sample", "unit_parameters", "fit_unit", "learn_prior", "leave_one_network_out", "HeldOut", "STRENGTHS",
           "predict_sample"]

#: Prior strengths tried by cross-validation (multiplies every starting log-sd; larger is weaker).
STRENGTHS = (1.0, 2.0, 4.0)
_ITERATIONS = 4


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Sample:
    """One published network on one board, with its features under the board's runtime."""

    row: PublishedRow
    spec: BoardSpec
    features: BoardFeatures


@dataclass(frozen=True, slots=True, kw_only=True)
class HeldOut:
    """A held-out prediction: the row, the prediction, and the coefficients it came from."""

    row: PublishedRow
    predicted_ms: float

    @property
    def error(self) -> float:
        return self.predicted_ms / self.row.latency_ms - 1.0

    @property
    def log_residual(self) -> float:
        return math.log(self.row.latency_ms / self.predicted_ms)


def _key(name: str, profile: str) -> str:
    return f"{name}@{profile}" if name in PER_BOARD else name


def unit_parameters(samples, *, winograd: bool = True) -> list[str]:
    """The coefficients the unit's data can inform: shared ones, then ``name@profile`` for per-board ones."""
    names = ["compute_efficiency", "memory_efficiency", "layer_overhead_ms"]
    if any(s.features.depthwise.any() for s in samples):
        names.append("depthwise_ratio")
    if winograd and any(s.features.winograd.any() for s in samples):
        names.append("winograd_scale")
    precisions = {s.row.precision == "int8" for s in samples}
    if precisions == {True, False}:
        names.append("int8_ratio")
    for profile in sorted({s.spec.profile for s in samples}):
        names.append(_key("inference_overhead_ms", profile))
        spec = next(s.spec for s in samples if s.spec.profile == profile)
        if spec.link:
            names.append(_key("stream_efficiency", profile))
        if spec.blocks:
            names.append(_key("runtime_factor", profile))
    return names


def _base(name: str) -> str:
    return name.split("@")[0]


def board_params(fit: dict, mu: dict, profile: str, *, winograd: bool = True) -> dict:
    """Linear-scale coefficients of one board from a unit's fit (missing ones from the prior ``mu``)."""
    params = {}
    for name in PARAMETERS:
        key = _key(name, profile)
        value = fit.get(key, fit.get(name, mu[name]))
        params[name] = math.exp(value)
    if not winograd:
        params["winograd_scale"] = 1.0
    return params


def predict_sample(params: dict, sample: Sample, combine: str = COMBINE) -> float:
    """The board model's prediction for one sample with linear-scale ``params``."""
    link = HOST_LINKS[sample.spec.link][0] if sample.spec.link else None
    return predict_ms(params, sample.features, on_chip_bytes=EDGETPU_ON_CHIP_BYTES if link else None,
                      link_gbps=link, combine=combine)


def fit_unit(samples, mu: dict, strength: float, *, winograd: bool = True, combine: str = COMBINE) -> dict:
    """MAP estimate (log space) of a unit's coefficients given prior means ``mu`` (log) and ``strength``.

    The unit's networks are predicted together (``StackedFeatures``): the same model as
    :func:`predict_sample`, whose per-board terms (harness overhead, runtime factor, streaming) are
    applied per network after the shared layer sum.
    """
    from scipy.optimize import least_squares  # scipy is imported only when fitting

    samples = list(samples)
    names = unit_parameters(samples, winograd=winograd)
    centre = np.array([mu[_base(n)] for n in names])
    spread = np.array([PARAMETERS[_base(n)].log_sd for n in names]) * strength
    measured = np.log([s.row.latency_ms for s in samples])
    links = [HOST_LINKS[s.spec.link][0] if s.spec.link else None for s in samples]
    stack = StackedFeatures.of([s.features for s in samples], [EDGETPU_ON_CHIP_BYTES if link else None
                                                                 for link in links])
    profiles = sorted({s.spec.profile for s in samples})
    which = np.array([profiles.index(s.spec.profile) for s in samples])
    link_gbps = np.array([link or 1.0 for link in links])

    def residuals(x):
        fit = dict(zip(names, x))
        boards = [board_params(fit, mu, profile, winograd=winograd) for profile in profiles]
        per = {name: np.array([b[name] for b in boards])[which]
               for name in ("runtime_factor", "inference_overhead_ms", "stream_efficiency")}
        predicted = (per["runtime_factor"] * stack.network_sums(boards[0], combine) + per["inference_overhead_ms"]
                     + stack.streamed_bytes / (link_gbps * per["stream_efficiency"] * 1e6))
        return np.concatenate([np.log(predicted) - measured, (x - centre) / spread])

    upper = np.array([math.log(PARAMETERS[_base(n)].upper) for n in names])
    start = np.minimum(centre, upper - 1e-6)
    solution = least_squares(residuals, start, method="trf", bounds=(np.full(len(names), -np.inf), upper),
                             max_nfev=200 * (len(names) + 1))
    return dict(zip(names, (float(v) for v in solution.x)))


def learn_prior(units: dict, strength: float, *, winograd: bool = True, combine: str = COMBINE) -> dict:
    """Prior means (log) learned across the given units (``{unit: samples}``), starting from the starting prior.

    A block table's own terms (its harness overhead and runtime factor) describe its harness, not a
    published board's, and stay out of the means: the runtime factor of a published board is 1.
    """
    mu = log_prior()
    tables = {s.spec.profile for samples in units.values() for s in samples if s.spec.blocks}

    def pooled(key: str, name: str) -> bool:
        return _base(key) == name and key.partition("@")[2] not in tables

    for _ in range(_ITERATIONS):
        fits = [fit_unit(samples, mu, strength, winograd=winograd, combine=combine) for samples in units.values()]
        updated = dict(mu)
        for name in PARAMETERS:
            estimates = [np.mean([v for k, v in fit.items() if pooled(k, name)]) for fit in fits
                         if any(pooled(k, name) for k in fit)]
            if len(estimates) >= 2:
                updated[name] = float(np.mean(estimates))
        mu = updated
    return mu


def leave_one_network_out(units: dict, strength: float, *, strict: bool = False, winograd: bool = True,
                          combine: str = COMBINE, shared_prior: bool = True) -> list[HeldOut]:
    """Held-out predictions of every row: its board refitted without it, the prior learned from other chips.

    ``strict`` also removes the held-out network (same zoo model and input) from the other chips before
    the prior is learned; ``shared_prior=False`` uses the starting prior instead of a learned one.
    """
    held = []
    for unit, samples in units.items():
        others = {u: s for u, s in units.items() if u != unit}
        mu = learn_prior(others, strength, winograd=winograd, combine=combine) if shared_prior and not strict \
            else log_prior()
        for i, sample in enumerate(samples):
            if sample.spec.blocks:
                continue   # block tables inform the fit; only published networks are held out
            if strict and shared_prior:
                same = (sample.row.model, sample.row.input_hw)
                pruned = {u: [s for s in ss if (s.row.model, s.row.input_hw) != same] for u, ss in others.items()}
                mu = learn_prior({u: ss for u, ss in pruned.items() if ss}, strength, winograd=winograd,
                                 combine=combine)
            train = samples[:i] + samples[i + 1:]
            fit = fit_unit(train, mu, strength, winograd=winograd, combine=combine) if train else {}
            params = board_params(fit, mu, sample.spec.profile, winograd=winograd)
            held.append(HeldOut(row=sample.row, predicted_ms=predict_sample(params, sample, combine)))
    return held
