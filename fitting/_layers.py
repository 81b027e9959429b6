"""Fit a profile to measured per-layer times (from a vendor profiler, matched to the model's executed layers).

Every executed layer with a measured time becomes a one-layer sample (the model's own layers
inside it), and :func:`fit_from_networks` fits per-class models to them. Which kernel of a vendor
profile is which layer is the measuring side's knowledge (``edgeperf.measure.match_layer_times``).
"""

from __future__ import annotations

from dataclasses import replace

from .._errors import InputError
from ..estimator import Graph, map_graph
from ..profiles import Profile
from ._networks import FitResult, fit_from_networks
from ._samples import NetworkSample

__all__ = ["fit_layer_times"]


def fit_layer_times(graph: Graph, layer_times: dict, base: Profile, *, name: str, source: str,
                    precision: str | None = None, unmatched: int = 0, reference: str | None = None) -> FitResult:
    """Fit ``base``'s layer models to ``layer_times`` (ms per executed-layer index of ``graph`` under ``base.mapping``).

    Returns
    -------
    FitResult
        Its provenance names the profile and the model (``reference``, as the user gave it; default
        the graph's source) and counts the matched layers and the ``unmatched`` kernels.

    Raises
    ------
    InputError
        When fewer than 3 layers have a positive time.
    """
    mapped = map_graph(graph, base.mapping)
    by_name = {layer.name: layer for layer in graph.layers}
    samples = []
    for line, (index, latency) in enumerate(sorted(layer_times.items()), start=1):
        layer = mapped.layers[index]
        if latency <= 0:
            continue
        members = tuple(by_name[n] for n in layer.nodes if n in by_name)
        sub = replace(graph, name=f"{graph.name}:{layer.name}", layers=members, inputs=(), outputs=())
        samples.append(NetworkSample(model=sub, latency_ms=latency, line=line))
    if len(samples) < 3:
        raise InputError(f"{source}: fewer than 3 profiled layers with a positive time")
    result = fit_from_networks(samples, base, name=name, precision=precision, source=source)
    provenance = result.profile.provenance.with_details(layer_profile=source, model=reference or graph.source or graph.name,
                                                        matched_layers=len(samples), unmatched_kernels=unmatched)
    return replace(result, profile=replace(result.profile, provenance=provenance))
