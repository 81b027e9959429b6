"""Fusion (mapping) rules: what fuses, what must not, and what a fused layer remembers."""

from __future__ import annotations

import numpy as np
from onnx import helper

import edgeperf.zoo
from edgeperf.estimator import NO_FUSION, FusionRule, Mapping, graph_from_model, map_graph
from edgeperf.profiles import load_profile
from tests._models import model, tensor, weight

CONV_BN_ACT = Mapping(runtime="test", rules=(
    FusionRule(name="cba", primary=("Conv",), followers=("BatchNormalization", "Relu", "Add"), max_followers=3,
               absorb_inputs=("DequantizeLinear",)),))


def conv_bn_relu_graph(extra_consumer=False):
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv", pads=[1, 1, 1, 1]),
             helper.make_node("BatchNormalization", ["c", "s", "b", "m", "v"], ["n"], name="bn"),
             helper.make_node("Relu", ["n"], ["y"], name="relu")]
    outputs = [tensor("y", (1, 8, 16, 16))]
    if extra_consumer:
        nodes.append(helper.make_node("Sigmoid", ["c"], ["z"], name="side"))
        outputs.append(tensor("z", (1, 8, 16, 16)))
    inits = [weight("w", (8, 4, 3, 3))] + [weight(n, (8,)) for n in "sbmv"]
    return graph_from_model(model(nodes, [tensor("x", (1, 4, 16, 16))], outputs, inits))


def test_conv_bn_relu_fuses_and_keeps_node_names():
    mapped = map_graph(conv_bn_relu_graph(), CONV_BN_ACT)
    assert len(mapped.layers) == 1
    layer = mapped.layers[0]
    assert layer.nodes == ("conv", "bn", "relu")
    assert layer.op_type == "Conv+BatchNormalization+Relu"
    # boundary traffic only: input 4*16*16, weights 8*4*9 + 4*8, output 8*16*16 (intermediates stay inside)
    assert (layer.act_in_elems, layer.weight_elems, layer.act_out_elems) == (1024, 288 + 32, 2048)
    assert layer.macs == 8 * 16 * 16 * 4 * 9


def test_tensor_with_two_consumers_is_not_fused_through():
    mapped = map_graph(conv_bn_relu_graph(extra_consumer=True), CONV_BN_ACT)
    names = [layer.nodes for layer in mapped.layers]
    assert ("conv",) in names and ("bn", "relu") not in names
    assert len(mapped.layers) == 4  # conv, bn, relu, side run separately


def test_without_rules_every_layer_runs_and_shape_ops_vanish():
    graph = edgeperf.load_model("zoo:resnet18")
    mapped = map_graph(graph, NO_FUSION)
    flatten = [layer.name for layer in graph.layers if layer.op_type == "Flatten"]
    assert mapped.elided == tuple(flatten)
    assert len(mapped.layers) == len(graph.layers) - len(flatten)
    assert sum(layer.macs for layer in mapped.layers) == graph.macs


def test_residual_add_fuses_into_the_conv_when_the_shortcut_is_independent():
    graph = edgeperf.load_model("zoo:resnet50")
    mapped = map_graph(graph, CONV_BN_ACT)
    fused_adds = [layer for layer in mapped.layers if "Add" in layer.op_type]
    assert len(fused_adds) == 16  # one per bottleneck block: 3 + 4 + 6 + 3
    assert all(layer.op_type == "Conv+BatchNormalization+Add+Relu" for layer in fused_adds)
    # every model layer appears exactly once in the executed graph or among the elided
    seen = [node for layer in mapped.layers for node in layer.nodes] + list(mapped.elided)
    assert sorted(seen) == sorted(layer.name for layer in graph.layers)
    assert sum(layer.macs for layer in mapped.layers) == graph.macs


def test_fusion_reduces_bytes_but_never_work():
    graph = edgeperf.load_model("zoo:mobilenet_v2")
    plain, fused = map_graph(graph, NO_FUSION), map_graph(graph, load_profile("jetson-nano").mapping)
    assert fused.flops.sum() == plain.flops.sum()
    assert fused.elements.sum() < plain.elements.sum()
    assert len(fused.layers) < len(plain.layers)


def test_qdq_dequantize_is_absorbed_and_layer_runs_int8():
    nodes = [helper.make_node("DequantizeLinear", ["xq", "sx", "zx"], ["x"], name="dq_x"),
             helper.make_node("DequantizeLinear", ["wq", "sw", "zw"], ["w"], name="dq_w"),
             helper.make_node("Conv", ["x", "w"], ["y"], name="conv", pads=[1, 1, 1, 1]),
             helper.make_node("QuantizeLinear", ["y", "sy", "zy"], ["yq"], name="q_y")]
    inits = [weight("wq", (8, 4, 3, 3), data=True, dtype=np.int8),
             weight("sx", (), value=0.1), weight("zx", (), value=0, dtype=np.uint8),
             weight("sw", (), value=0.1), weight("zw", (), value=0, dtype=np.int8),
             weight("sy", (), value=0.1), weight("zy", (), value=0, dtype=np.uint8)]
    from onnx import TensorProto

    proto = model(nodes, [tensor("xq", (1, 4, 16, 16), TensorProto.UINT8)],
                  [tensor("yq", (1, 8, 16, 16), TensorProto.UINT8)], inits)
    graph = graph_from_model(proto)
    assert graph.native_precision == "int8"
    assert [layer.name for layer in graph.layers] == ["dq_x", "conv", "q_y"]  # dq_w folds (constant)
    rule = Mapping(runtime="t", rules=(FusionRule(name="qdq", primary=("Conv",), followers=("QuantizeLinear",),
                                                  absorb_inputs=("DequantizeLinear",)),))
    mapped = map_graph(graph, rule)
    assert len(mapped.layers) == 1
    assert mapped.layers[0].nodes == ("dq_x", "conv", "q_y")
    assert mapped.layers[0].precision == "int8"
    assert mapped.layers[0].name == "conv"


def sibling_convs_graph():
    """Three convolutions read x: two 3x3 (8 and 4 channels) and one 1x1; each has a ReLU."""
    nodes = [helper.make_node("Conv", ["x", "wa"], ["a"], name="conv_a", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["a"], ["ra"], name="relu_a"),
             helper.make_node("Conv", ["x", "wb"], ["b"], name="conv_b", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["b"], ["rb"], name="relu_b"),
             helper.make_node("Conv", ["x", "wc"], ["c"], name="conv_c", kernel_shape=[1, 1])]
    inits = [weight("wa", (8, 4, 3, 3)), weight("wb", (4, 4, 3, 3)), weight("wc", (8, 4, 1, 1))]
    outputs = [tensor("ra", (1, 8, 16, 16)), tensor("rb", (1, 4, 16, 16)), tensor("c", (1, 8, 16, 16))]
    return graph_from_model(model(nodes, [tensor("x", (1, 4, 16, 16))], outputs, inits))


def test_sibling_convolutions_merge_into_one_kernel_when_the_mapping_says_so():
    rule = FusionRule(name="cba", primary=("Conv",), followers=("Relu",))
    separate = map_graph(sibling_convs_graph(), Mapping(runtime="t", rules=(rule,)))
    merged = map_graph(sibling_convs_graph(), Mapping(runtime="t", rules=(rule,), merge_siblings=("Conv",)))
    assert len(separate.layers) == 3 and len(merged.layers) == 2
    both = merged.layers[0]
    assert both.nodes == ("conv_a", "relu_a", "conv_b", "relu_b") and "merge-siblings" in both.rule
    # the shared input is read once; weights and outputs add up; 12 output channels
    assert both.act_in_elems == 4 * 16 * 16
    assert both.weight_elems == 8 * 4 * 9 + 4 * 4 * 9
    assert both.act_out_elems == (8 + 4) * 16 * 16
    assert both.macs == (8 + 4) * 16 * 16 * 4 * 9
    assert both.dim("c_out") == 12 and both.output_shape == (1, 12, 16, 16)
    assert merged.layers[1].nodes == ("conv_c",)  # a 1x1 kernel is not a sibling of a 3x3
    assert merged.flops.sum() == separate.flops.sum()
