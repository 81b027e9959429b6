"""One entry point for every model source: ONNX file, TFLite file, zoo reference or Graph.

The format is decided by content, not by file extension: a TFLite flatbuffer
carries the identifier ``TFL3`` at byte offset 4; anything else is read as ONNX.
A ``zoo:`` reference is built by the zoo as ONNX (architecture only) and read here
like any other ONNX model: the estimator imports the zoo, never the other way round.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from .._args import typed
from .._errors import InputError, ModelError
from .._userfile import is_regular_file, probe, user_path
from ._ir import Graph
from ._onnx_import import graph_from_model, load_onnx

__all__ = ["load_model"]

logger = logging.getLogger(__name__)


def _is_tflite(path: Path) -> bool:
    if not is_regular_file(path):
        return False
    try:
        with open(path, "rb") as handle:
            head = handle.read(8)
    except OSError:
        return False
    return len(head) == 8 and head[4:8] == b"TFL3"


@typed
def load_model(source, *, input_shapes: dict[str, tuple[int, ...]] | None = None, on_unknown: str = "error") -> Graph:
    """Load a model from a path, a ``zoo:`` reference or pass a :class:`Graph` through.

    Parameters
    ----------
    source : str, Path or Graph
        ``model.onnx``, ``model.tflite``, ``zoo:NAME`` or ``zoo:SPACE:ARCH``.
    input_shapes : dict of str to tuple of int, optional
        Static shapes for graph inputs with dynamic dimensions.
    on_unknown : {"error", "roofline"}
        Policy for operators without a cost model.

    Returns
    -------
    Graph

    Raises
    ------
    ModelError
        If the source cannot be read as a model.
    """
    if isinstance(source, Graph):
        return source
    started = time.perf_counter()
    graph = _load(source, input_shapes, on_unknown)
    logger.info("loaded %s: %d layers, %d folded nodes, %.3g GMACs, %s, in %.2f s", graph.source or graph.name,
                len(graph.layers), graph.folded_nodes, graph.macs / 1e9, graph.native_precision,
                time.perf_counter() - started)
    return graph


def _load(source, input_shapes, on_unknown: str) -> Graph:
    if isinstance(source, (bytes, bytearray, memoryview)):
        raise InputError(f"a model is a file path, a zoo: reference or a Graph, got {len(source)} bytes; write "
                         "serialized ONNX to a file, or use graph_from_model(onnx.load_from_string(data))")
    if isinstance(source, os.PathLike):
        source = os.fspath(source)
    path = user_path(source, what="model", error=ModelError)
    text = str(path) if not isinstance(source, str) else source
    if not is_regular_file(path):
        # imported only for what is not a file: estimating a file never builds networks
        from ..zoo import is_reference, model_for_estimation, reference_name

        if is_reference(text):
            model = model_for_estimation(text, input_shapes=input_shapes)
            # the model was built for this call alone: the importer may change it in place
            return graph_from_model(model, name=reference_name(text), source=text, _owned=True)
    if _is_tflite(path):
        from ._tflite_import import load_tflite

        return load_tflite(path, on_unknown=on_unknown)
    if probe(path) is None and not path.suffix:
        raise ModelError(f"{text}: no such file; give an .onnx/.tflite path, or zoo:NAME for a built-in network "
                         "(edgeperf zoo list)")
    return load_onnx(path, input_shapes=input_shapes, on_unknown=on_unknown)
