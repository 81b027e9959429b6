"""edgeperf: how fast, and at what energy, a neural network runs on an edge board.

The public API::

    import edgeperf
    est = edgeperf.estimate("model.onnx", platform="jetson-nano", precision="fp16")
    est.total_latency_ms, est.total_energy_mj, est.layers[0].bound

``import edgeperf`` never imports torch, optuna or onnxruntime.
"""

from __future__ import annotations

from ._api import compare, dvfs, estimate, search, simulate
from ._errors import DisturbedError, EdgeperfError, InputError, LimitError, ModelError, ProfileError, UnknownOpError
from .estimator import Comparison, ComparisonCell, Estimate, Graph, Layer, LayerEstimate, MappedGraph, OperatingPoint, load_model, map_graph
from .estimator import parse_input_shape
from .operating import DvfsReport, SimulationResult
from .profiles import Profile, list_profiles, load_profile

__all__ = [
    "estimate", "DisturbedError", "EdgeperfError", "InputError", "LimitError", "ModelError", "ProfileError", "UnknownOpError",
    "Estimate", "Graph", "Layer", "LayerEstimate", "MappedGraph", "OperatingPoint", "Profile",
    "list_profiles", "load_model", "load_profile", "map_graph", "parse_input_shape", "__version__", "dvfs",
    "simulate", "DvfsReport", "SimulationResult", "search", "compare", "Comparison", "ComparisonCell",
]

__version__ = "0.1.0"
