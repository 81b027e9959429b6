"""Validate a profile on the device itself: measure whole networks, compare with the estimate, layer by layer.

Each model runs through the runner under the drift-correcting harness; the
prediction comes from :func:`edgeperf.estimate` with the profile. Where the
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


def validate_on_device(models, profile, *, runner: Runner, harness, precision: str | None = None, layers: bool = False,
                       progress=lambda message: None, input_shapes: dict | None = None) -> DeviceValidation:
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

    Returns
    -------
    DeviceValidation

    Raises
    ------
    InputError
        With no models.
    """
    from ..estimator import estimate_graph, load_model
    from ..fitting import NetworkSample, validate_table

    if not models:
        raise InputError("give at least one MODEL to measure, or --table with measured latencies")
    samples, comparisons = [], []
    flagged: dict[str, int] = {}
    for line, reference in enumerate(models, start=1):
        runnable = _runnable(reference)
        timing = harness.measure(runner.load(runnable, input_shapes=input_shapes).run)
        for flag in timing.flags:
            flagged[flag] = flagged.get(flag, 0) + 1
        samples.append(NetworkSample(model=reference, latency_ms=timing.median_ms, line=line))
        step(progress, line, len(models), "measuring models",
             line=f"{reference}: measured {timing.median_ms:.3f} ms {' '.join(timing.flags)}".rstrip())
        if layers:
            est = estimate_graph(load_model(reference, input_shapes=input_shapes), profile, precision=precision)
            kernels = runner.profile(runnable, input_shapes=input_shapes)
            for node, index in zip(kernels, match_kernels([layer.nodes for layer in est.layers], kernels)):
                layer = est.layers[index] if index is not None else None
                comparisons.append(LayerComparison(model=reference, layer=layer.name if layer else node.name,
                                                   op_type=node.op_type, measured_ms=node.median_ms,
                                                   predicted_ms=layer.latency_ms if layer else None))
    report = validate_table(samples, profile, precision=precision, input_shapes=input_shapes)
    return DeviceValidation(report=report, layers=tuple(comparisons), flagged=flagged)
