"""ONNX import details: constant folding of shape arithmetic, stable order, folded constants."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

from edgeperf.estimator import graph_from_model
from tests._models import model, tensor


def shape_arithmetic_model():
    """Slice bounds computed from the input's shape: (16 / 2) * 2 - 1 = 15 along axis 2."""
    nodes = [helper.make_node("Shape", ["x"], ["s"], name="shape"),
             helper.make_node("Gather", ["s", "i2"], ["d"], axis=0, name="gather"),
             helper.make_node("Div", ["d", "two"], ["h"], name="div"),
             helper.make_node("Mul", ["h", "two"], ["h2"], name="mul"),
             helper.make_node("Sub", ["h2", "one"], ["h3"], name="sub"),
             helper.make_node("Unsqueeze", ["h3", "ax0"], ["e"], name="unsqueeze"),
             helper.make_node("Slice", ["x", "zero", "e", "ax2"], ["y"], name="slice"),
             helper.make_node("Relu", ["y"], ["z"], name="relu")]
    ints = {"i2": 2, "two": 2, "one": 1, "ax0": [0], "zero": [0], "ax2": [2]}
    inits = [numpy_helper.from_array(np.array(v, np.int64), k) for k, v in ints.items()]
    return model(nodes, [tensor("x", (1, 8, 16))], [tensor("z", None)], inits)


def test_onnx_alone_cannot_shape_this_graph():
    inferred = onnx.shape_inference.infer_shapes(shape_arithmetic_model(), data_prop=True)
    y = next(v for v in inferred.graph.value_info if v.name == "y")
    assert not all(d.HasField("dim_value") for d in y.type.tensor_type.shape.dim)


def test_shape_arithmetic_is_folded_and_the_callers_model_untouched():
    proto = shape_arithmetic_model()
    before = proto.SerializeToString()
    graph = graph_from_model(proto)
    assert [(layer.name, layer.output_shapes) for layer in graph.layers] == [
        ("slice", ((1, 8, 15),)), ("relu", ((1, 8, 15),))]
    assert graph.folded_nodes == 6  # shape, gather, div, mul, sub, unsqueeze run at load time
    assert proto.SerializeToString() == before


def test_file_order_is_kept_when_it_is_topological():
    nodes = [helper.make_node("Relu", ["x"], ["a"], name="first"),
             helper.make_node("Sigmoid", ["x"], ["b"], name="second"),
             helper.make_node("Add", ["a", "b"], ["y"], name="third")]
    graph = graph_from_model(model(nodes, [tensor("x", (1, 4))], [tensor("y", (1, 4))]))
    assert [layer.name for layer in graph.layers] == ["first", "second", "third"]


def test_nodes_listed_out_of_order_are_sorted():
    nodes = [helper.make_node("Add", ["a", "b"], ["y"], name="add"),
             helper.make_node("Relu", ["x"], ["a"], name="relu"),
             helper.make_node("Sigmoid", ["x"], ["b"], name="sigmoid")]
    graph = graph_from_model(model(nodes, [tensor("x", (1, 4))], [tensor("y", (1, 4))]))
    assert [layer.name for layer in graph.layers] == ["relu", "sigmoid", "add"]


def test_dead_nodes_are_dropped_as_runtimes_do():
    """A branch whose result reaches no graph output costs nothing (TensorRT, TFLite and onnxruntime prune it)."""
    nodes = [helper.make_node("Relu", ["x"], ["a"], name="live"),
             helper.make_node("Sigmoid", ["x"], ["dead1"], name="dead_branch"),
             helper.make_node("Tanh", ["dead1"], ["dead2"], name="dead_tail")]
    graph = graph_from_model(model(nodes, [tensor("x", (1, 4))], [tensor("a", (1, 4))]))
    assert [layer.name for layer in graph.layers] == ["live"]
    assert graph.folded_nodes == 2


def test_nb201_cell_with_an_unused_node_has_no_cost_for_it():
    from edgeperf.estimator import load_model

    # node 1 (a 3x3 conv of the input) feeds only 'none' edges: it is dead in every cell
    dead = load_model("zoo:nb201-latbench:|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|")
    without = load_model("zoo:nb201-latbench:|none~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|")
    assert dead.macs == without.macs
