"""Model -> layer graph -> mapped (fused) graph -> per-layer latency and energy.

Data flow::

    load_model(path)            -> Graph          (_onnx_import, _tflite_import)
    map_graph(graph, mapping)   -> MappedGraph    (_mapping: the runtime's fusion rules)
    estimate_mapped(mapped, profile, precision, point) -> Estimate   (_cost_models, _estimate)

Most callers want :func:`edgeperf.estimate`, which runs all three.
"""

from ._cost_models import COMBINE_RULES, COST_MODELS, STEP_DIMS, CostModel, CostParts, Features, ParamSpec, step_efficiency
from ._cost_models import validate_params as validate_cost_params
from ._compare import Comparison, ComparisonCell
from ._batch import BATCHES, SATURATION, Throughput, throughput_curve
from ._estimate import (
    MAX_BATCH,
    check_batch,
    check_host_time,
    Estimate,
    LayerEstimate,
    OperatingPoint,
    choose_precision,
    estimate_graph,
    estimate_mapped,
    graph_batch,
    resolve_operating_point,
)
from ._engine import (
    LayerCosts,
    ReferenceCosts,
    clock_scales,
    evaluate_layers,
    evaluate_parts,
    evaluate_points,
    inference_overhead,
    interval_points,
    latency_parts,
    network_factor,
    network_totals,
    power_scale,
    reference_costs,
)
from ._energy_parts import EnergyParts, energy_parts
from ._network_term import NETWORK_TERM_FORMS, NETWORK_TERM_PARAMS, NetworkTerm, network_scale
from ._signatures import SignatureResiduals, layer_signature, layer_signatures, signature_residual_ms
from ._critical_path import LayerPaths, critical_share, finish_times, layer_paths, longest_path
from ._ir import FALLBACK_CLASS, OP_CLASSES, Graph, Layer, class_entry
from ._load import load_model
from ._mapping import (NO_FUSION, CopyElision, ExecLayer, FusionRule, MappedGraph, Mapping, Nchwc, Winograd, layer_bytes,
                       map_graph)
from ._onnx_import import MAX_NODES, MAX_TENSOR_ELEMENTS, graph_from_model, load_onnx, parse_input_shape
from ._opcount import known_ops
from ._intervals import Interval, IntervalBasis, Uncertainty, conformal_half_width, interval_basis, interval_of
from ._param_memory import ParameterMemory, streamed_weight_bytes
from ._protocols import PlatformProfile

__all__ = [
    "PlatformProfile", "COMBINE_RULES", "COST_MODELS", "CostModel", "ParamSpec", "STEP_DIMS", "CostParts", "Features", "step_efficiency",
    "validate_cost_params", "LayerCosts", "clock_scales", "evaluate_parts", "network_totals",
    "Estimate", "LayerEstimate", "OperatingPoint", "choose_precision", "estimate_graph", "estimate_mapped", "inference_overhead",
    "latency_parts",
    "resolve_operating_point", "OP_CLASSES", "FALLBACK_CLASS", "class_entry", "Nchwc", "Graph", "Layer", "load_model", "NO_FUSION", "ExecLayer",
    "FusionRule", "MappedGraph", "Mapping", "map_graph", "layer_bytes", "CopyElision", "Winograd", "MAX_NODES", "MAX_TENSOR_ELEMENTS",
    "graph_from_model", "load_onnx", "parse_input_shape", "known_ops", "ReferenceCosts",
    "evaluate_layers", "evaluate_points", "reference_costs", "power_scale", "interval_points",
    "Interval", "IntervalBasis", "Uncertainty", "conformal_half_width", "interval_basis", "interval_of",
    "ParameterMemory", "streamed_weight_bytes", "Comparison", "ComparisonCell",
    "graph_batch", "check_batch", "check_host_time", "MAX_BATCH", "Throughput", "throughput_curve", "BATCHES", "SATURATION",
    "NETWORK_TERM_FORMS", "NETWORK_TERM_PARAMS", "NetworkTerm", "network_scale", "network_factor",
    "SignatureResiduals", "layer_signature", "layer_signatures", "signature_residual_ms",
    "EnergyParts", "energy_parts", "LayerPaths", "layer_paths", "longest_path", "finish_times", "critical_share",
]
