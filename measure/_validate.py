"""Validate a profile on the device itself: measure whole networks, compare with the estimate, layer by layer.

Each model runs through the runner under the timing harness, checked against the device's
physical floor (its FLOPs at the CPU's ceiling); a measurement other load disturbed is
re-measured; one still disturbed is left out of the report (and counted), and when too many stay
disturbed the validation ends with :class:`DisturbedError`. The prediction comes from
:func:`edgeperf.estimate` with the profile. Where the
runtime profiles layers (onnxruntime's profiler), each executed kernel is
matched to the estimate's layer: onnxruntime names a fused kernel after the
last node of the chain, with a suffix such as ``_nchwc``; kernels the model
does not contain (layout reorders) are reported as runtime-only time.
"""

from __future__ import annotations

from dataclasses import dataclass

from .._errors import InputError
from .._progress import step
from ..fitting import ValidationReport
from ..zoo import is_reference, runnable_model
from ._device import device_info
from ._harness import MAX_DISTURBED, raise_if_disturbed
from ._plausible import ceilings, model_floor_ms
from ._profilers import match_kernels
from ._protocols import Runner

__all__ = ["LayerComparison", "DeviceValidation", "validate_on_device"]

@dataclass(frozen=True, slots=True, kw_only=True)
class LayerComparison:
    """One executed kernel: measured (runtime profiler) and predicted time (ms)."""

    model: str
    layer: str
    op_type: str
    measured_ms: float
    predicted_ms: float | None

    @property
    def error(self) -> float | None:
        """(predicted - measured) / measured; None for a runtime-only kernel (no layer of the model predicted)."""
        if self.predicted_ms is None or self.measured_ms <= 0:
            return None
        return (self.predicted_ms - self.measured_ms) / self.measured_ms


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceValidation:
    """Whole-network report (``ValidationReport``), per-layer comparisons, and measurements flagged."""

    report: ValidationReport
    layers: tuple[LayerComparison, ...]
    flagged: dict             # flag -> number of measurements that raised it

    def to_dict(self) -> dict:
        document = self.report.to_dict()
        document["flagged"] = self.flagged
        document["layers"] = [{"model": c.model, "layer": c.layer, "op_type": c.op_type,
                               "measured_ms": c.measured_ms, "predicted_ms": c.predicted_ms} for c in self.layers]
        return document


def _runnable(reference: str):
    """What the runner loads: a zoo network's bytes, or the model file's path."""
    return runnable_model(reference) if is_reference(reference) else reference


def _layer_comparisons(reference: str, runnable, profile, runner: Runner, precision, input_shapes) -> list:
    """Each kernel the runtime's profiler timed, against the estimate's layer it executes (None: runtime-only)."""
    from ..estimator import estimate_graph, load_model

    est = estimate_graph(load_model(reference, input_shapes=input_shapes), profile, precision=precision)
    kernels = runner.profile(runnable, input_shapes=input_shapes)
    comparisons = []
    for node, index in zip(kernels, match_kernels([layer.nodes for layer in est.layers], kernels)):
        layer = est.layers[index] if index is not None else None
        comparisons.append(LayerComparison(model=reference, layer=layer.name if layer else node.name,
                                           op_type=node.op_type, measured_ms=node.median_ms,
                                           predicted_ms=layer.latency_ms if layer else None))
    return comparisons


def validate_on_device(models, profile, *, runner: Runner, harness, precision: str | None = None, layers: bool = False,
                       progress=lambda message: None, input_shapes: dict | None = None,
                       max_disturbed: float = MAX_DISTURBED) -> DeviceValidation:
    """Measure each model on this device and compare with the profile's estimate.

    Parameters
    ----------
    models : sequence of str
        Model files or zoo references.
    profile : Profile
    runner : OnnxRuntimeRunner
    harness : Harness
    layers : bool
        Also compare layer by layer through the runtime's profiler.
    input_shapes : dict of str to tuple of int, optional
        Static shapes for inputs with dynamic dimensions, for the runner and the estimate alike.
    max_disturbed : float
        The share of models whose measurement may stay disturbed by other load.

    Returns
    -------
    DeviceValidation

    Raises
    ------
    InputError
        With no models.
    DisturbedError
        When more than ``max_disturbed`` of the measurements stayed disturbed (or below the
        device's physical floor) after re-measuring.
    """
    from ..fitting import NetworkSample, validate_table

    if not models:
        raise InputError("give at least one MODEL to measure, or --table with measured latencies")
    ceiling = ceilings(runner.settings(), device_info())
    samples, comparisons = [], []
    flagged: dict[str, int] = {}
    disturbed = 0
    for line, reference in enumerate(models, start=1):
        runnable = _runnable(reference)
        timing = harness.measure(runner.load(runnable, input_shapes=input_shapes).run,
                                 floor_ms=model_floor_ms(runnable, ceiling, input_shapes))
        disturbed += timing.disturbed
        for flag in timing.flags:
            flagged[flag] = flagged.get(flag, 0) + 1
        if timing.disturbed:          # counted in `flagged`, never reported as a latency
            step(progress, line, len(models), "measuring models",
                 line=f"{reference}: disturbed by other load ({' '.join(timing.flags)}), left out")
        else:
            samples.append(NetworkSample(model=reference, latency_ms=timing.median_ms, line=line))
            step(progress, line, len(models), "measuring models",
                 line=f"{reference}: measured {timing.median_ms:.3f} ms {' '.join(timing.flags)}".rstrip())
        if layers:
            comparisons += _layer_comparisons(reference, runnable, profile, runner, precision, input_shapes)
    raise_if_disturbed(disturbed, len(models), max_disturbed)
    report = validate_table(samples, profile, precision=precision, input_shapes=input_shapes)
    return DeviceValidation(report=report, layers=tuple(comparisons), flagged=flagged)
