"""Reference networks built as ONNX in code (architecture only; weights seeded random or absent).

The zoo builds ONNX and nothing else: it imports nothing of the estimator. ``zoo:`` references
are read here (``_reference``): the estimator turns one into a graph with
:func:`model_for_estimation`, measurement and search run one through :func:`runnable_model`.

>>> from edgeperf.zoo import build_model
>>> build_model("resnet18").graph.name
'resnet18'
"""

from __future__ import annotations

from ._build import build_model, build_space_model, list_entries, list_spaces, split_width
from ._builder import IR_VERSION, OPSET, NetBuilder
from ._catalog import Accuracy, Catalog, load_catalog
from ._layers import (
    LAYER_KINDS,
    is_layer_reference,
    layer_reference,
    parse_layer,
    parse_layer_reference,
)
from ._nas import FBNET_CHOICES, NB201_OPS, SPACES, random_nb201
from ._reference import (
    PREFIX,
    as_reference,
    export_model,
    is_reference,
    model_for_estimation,
    reference_name,
    runnable_model,
)
from ._registry import ENTRIES, ZooEntry

__all__ = ["Accuracy", "Catalog", "load_catalog", "ZooEntry", "ENTRIES", "SPACES", "NB201_OPS", "FBNET_CHOICES",
           "random_nb201", "LAYER_KINDS", "parse_layer", "layer_reference", "is_layer_reference",
           "parse_layer_reference", "list_entries", "list_spaces", "split_width", "build_model", "build_space_model",
           "export_model", "NetBuilder", "IR_VERSION", "OPSET", "PREFIX", "is_reference", "as_reference", "reference_name",
           "model_for_estimation", "runnable_model"]
