"""Fit a profile to per-layer times from a vendor profiler (ground truth board owners already have).

Each profiled kernel is matched to an executed layer of the model under the base profile's
mapping: onnxruntime names a fused kernel after its last node (``relu_0_nchwc``), TensorRT joins
fused layer names with `` + `` (``conv_0 + relu_0``), TFLite writes ``[name]:index``, OpenVINO
keeps the node name. Every matched executed layer becomes a one-layer sample (the model's own
layers inside it), and :func:`edgeperf.profiles.fit_from_networks` fits per-class models to them.
"""

from __future__ import annotations

from dataclasses import replace

from .._errors import InputError
from ._profilers import kernel_node_names

__all__ = ["match_layer_times", "fit_from_layer_times"]

def match_layer_times(graph, mapped, node_times) -> tuple[dict, list[str]]:
    """Measured time (ms) per executed layer index, and the names of kernels left unmatched."""
    owner = {}
    for index, layer in enumerate(mapped.layers):
        for node in layer.nodes:
            owner[node] = index
    times: dict[int, float] = {}
    unmatched = []
    for node in node_times:
        index = next((owner[c] for c in kernel_node_names(node.name) if c in owner), None)
        if index is None:
            unmatched.append(node.name)
            continue
        times[index] = times.get(index, 0.0) + node.median_ms
    return times, unmatched


def fit_from_layer_times(model, node_times, base, *, name: str, source: str, precision: str | None = None):
    """Fit ``base``'s layer models to a vendor profile of ``model``.

    Returns
    -------
    FitResult
        Its provenance counts the matched and unmatched kernels.

    Raises
    ------
    InputError
        When fewer than 3 kernels match layers of the model (wrong model for the profile?).
    """
    from ..estimator import load_model, map_graph
    from ..profiles import NetworkSample, fit_from_networks

    graph = load_model(model)
    mapped = map_graph(graph, base.mapping)
    times, unmatched = match_layer_times(graph, mapped, node_times)
    if len(times) < 3:
        raise InputError(f"{source}: only {len(times)} profiled kernel(s) match layers of {model}; is it the profile "
                         f"of this model? (unmatched: {', '.join(unmatched[:5])})")
    by_name = {layer.name: layer for layer in graph.layers}
    samples = []
    for line, (index, latency) in enumerate(sorted(times.items()), start=1):
        layer = mapped.layers[index]
        if latency <= 0:
            continue
        members = tuple(by_name[n] for n in layer.nodes if n in by_name)
        sub = replace(graph, name=f"{graph.name}:{layer.name}", layers=members, inputs=(), outputs=())
        samples.append(NetworkSample(model=sub, latency_ms=latency, line=line))
    if len(samples) < 3:
        raise InputError(f"{source}: fewer than 3 profiled layers with a positive time")
    result = fit_from_networks(samples, base, name=name, precision=precision, source=source)
    provenance = result.profile.provenance.with_details(layer_profile=source, model=str(model),
                                                        matched_layers=len(samples), unmatched_kernels=len(unmatched))
    return replace(result, profile=replace(result.profile, provenance=provenance))
