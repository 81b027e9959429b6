"""Fit a profile to a vendor profiler's per-layer times of one model (ground truth board owners already have).

Each profiled kernel is matched to an executed layer of the model under the base profile's
mapping (:func:`match_layer_times`: onnxruntime names a fused kernel after its last node,
``relu_0_nchwc``; TensorRT joins fused layer names with `` + ``; TFLite writes ``[name]:index``;
OpenVINO keeps the node name); the matched times are fitted by :func:`edgeperf.fitting.fit_layer_times`.
"""

from __future__ import annotations

from .._errors import InputError
from ..estimator import load_model, map_graph
from ..fitting import FitResult, fit_layer_times
from ._profilers import match_layer_times

__all__ = ["fit_from_layer_times"]


def fit_from_layer_times(model, node_times, base, *, name: str, source: str, precision: str | None = None) -> FitResult:
    """Fit ``base``'s layer models to a vendor profile (``node_times``) of ``model``.

    Returns
    -------
    FitResult
        Its provenance counts the matched and unmatched kernels.

    Raises
    ------
    InputError
        When fewer than 3 kernels match layers of the model (wrong model for the profile?).
    """
    graph = load_model(model)
    times, unmatched = match_layer_times(graph, map_graph(graph, base.mapping), node_times)
    if len(times) < 3:
        raise InputError(f"{source}: only {len(times)} profiled kernel(s) match layers of {model}; is it the profile "
                         f"of this model? (unmatched: {', '.join(unmatched[:5])})")
    return fit_layer_times(graph, times, base, name=name, source=source, precision=precision,
                           unmatched=len(unmatched), reference=str(model))
