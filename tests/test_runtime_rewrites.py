"""What runtimes really run: pointwise subgraphs, Q/DQ folding, copy elision, Winograd; checked against onnxruntime.

The hand-built graphs state their expected kernels and bytes with the arithmetic written out. The
onnxruntime tests build a model, let onnxruntime optimize it (``SessionOptions.optimized_model_filepath``)
and compare the kernels it keeps with the executed layers of edgeperf's ``onnxruntime`` mapping.
"""

from __future__ import annotations

import collections

import numpy as np
import pytest
from onnx import helper, numpy_helper

import edgeperf
import edgeperf.zoo
from edgeperf.estimator import FusionRule, Mapping, Winograd, graph_from_model, map_graph
from edgeperf.profiles import runtime_mapping
from tests._models import model, tensor, weight

C = 8


def mapping(runtime: str) -> Mapping:
    return runtime_mapping(runtime).mapping


def bn_inits(prefix: str = "") -> list:
    return [weight(prefix + n, (C,)) for n in "sbmv"]


def conv_silu() -> list:
    return [helper.make_node("Conv", ["x", "w"], ["c"], name="conv", pads=[1, 1, 1, 1]),
            helper.make_node("Sigmoid", ["c"], ["s"], name="sig"),
            helper.make_node("Mul", ["c", "s"], ["y"], name="mul")]


def silu_model():
    return model(conv_silu(), [tensor("x", (1, 4, 16, 16))], [tensor("y", (1, C, 16, 16))], [weight("w", (C, 4, 3, 3))])


def test_silu_diamond_fuses_into_the_convolution_on_tensorrt():
    mapped = map_graph(graph_from_model(silu_model()), mapping("tensorrt"))
    assert [layer.nodes for layer in mapped.layers] == [("conv", "sig", "mul")]
    layer = mapped.layers[0]
    # boundary traffic: input 4*16*16 = 1024 read once, weights 8*4*9 = 288, output 8*16*16 = 2048 written;
    # the conv output read twice inside the kernel costs nothing
    assert (layer.act_in_elems, layer.weight_elems, layer.act_out_elems) == (1024, 288, 2048)


def test_a_chain_rule_does_not_fuse_a_diamond():
    rule = FusionRule(name="chain", primary=("Conv",), followers=("Sigmoid", "Mul"), max_followers=4)
    mapped = map_graph(graph_from_model(silu_model()), Mapping(runtime="test", rules=(rule,)))
    assert len(mapped.layers) == 3   # the conv output has two consumers: the chain stops at the conv


def test_subgraph_keeps_a_tensor_read_outside_the_group_out_of_it():
    nodes = conv_silu() + [helper.make_node("Relu", ["s"], ["z"], name="side")]
    graph = graph_from_model(model(nodes, [tensor("x", (1, 4, 16, 16))],
                                   [tensor("y", (1, C, 16, 16)), tensor("z", (1, C, 16, 16))], [weight("w", (C, 4, 3, 3))]))
    rule = FusionRule(name="sub", primary=("Conv",), followers=("Sigmoid", "Mul"), max_followers=4, subgraph=True)
    mapped = map_graph(graph, Mapping(runtime="test", rules=(rule,)))
    # conv+sig+mul would leave two tensors (y and s, read by the Relu): only conv+sig+mul with s escaping is
    # not one output, so the largest valid group is the conv alone
    assert sorted(layer.nodes for layer in mapped.layers) == [("conv",), ("mul",), ("side",), ("sig",)]


def test_opset13_hard_swish_is_one_tflite_kernel():
    nodes = [helper.make_node("Relu", ["x"], ["r"], name="relu"),
             helper.make_node("HardSigmoid", ["r"], ["h"], name="hsig", alpha=1 / 6, beta=0.5),
             helper.make_node("Mul", ["r", "h"], ["y"], name="mul")]
    graph = graph_from_model(model(nodes, [tensor("x", (1, C, 8, 8))], [tensor("y", (1, C, 8, 8))], opset=13))
    mapped = map_graph(graph, mapping("tflite"))
    assert [layer.nodes for layer in mapped.layers] == [("relu",), ("hsig", "mul")]
    assert mapped.layers[1].act_in_elems == C * 64   # r read once by the HARD_SWISH kernel


def qdq_conv_bn_relu():
    """QDQ graph: Q -> DQ -> Conv(DQ(w)) -> Q -> DQ -> BatchNorm -> Q -> DQ -> Relu -> Q -> DQ."""
    def q(i, x, y):
        return helper.make_node("QuantizeLinear", [x, "qs", "qz"], [y], name=f"q{i}")

    def dq(i, x, y):
        return helper.make_node("DequantizeLinear", [x, "qs", "qz"], [y], name=f"dq{i}")

    nodes = [q(0, "x", "xq"), dq(0, "xq", "xd"),
             helper.make_node("DequantizeLinear", ["wq", "ws", "wz"], ["wd"], name="dqw"),
             helper.make_node("Conv", ["xd", "wd"], ["c"], name="conv", pads=[1, 1, 1, 1]),
             q(1, "c", "cq"), dq(1, "cq", "cd"),
             helper.make_node("BatchNormalization", ["cd", "s", "b", "m", "v"], ["n"], name="bn"),
             q(2, "n", "nq"), dq(2, "nq", "nd"), helper.make_node("Relu", ["nd"], ["r"], name="relu"),
             q(3, "r", "rq"), dq(3, "rq", "y")]
    inits = [weight("wq", (C, 4, 3, 3), dtype=np.int8), weight("ws", (), value=0.1), weight("wz", (), dtype=np.int8, value=0),
             weight("qs", (), value=0.1), weight("qz", (), dtype=np.uint8, value=128)] + bn_inits()
    return model(nodes, [tensor("x", (1, 4, 16, 16))], [tensor("y", (1, C, 16, 16))], inits)


def float_conv_bn_relu():
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv", pads=[1, 1, 1, 1]),
             helper.make_node("BatchNormalization", ["c", "s", "b", "m", "v"], ["n"], name="bn"),
             helper.make_node("Relu", ["n"], ["y"], name="relu")]
    return model(nodes, [tensor("x", (1, 4, 16, 16))], [tensor("y", (1, C, 16, 16))], [weight("w", (C, 4, 3, 3))] + bn_inits())


@pytest.mark.parametrize("runtime", ["tensorrt", "tflite", "ncnn"])
def test_qdq_graph_folds_to_the_int8_kernel_of_its_float_graph(runtime):
    qdq = map_graph(graph_from_model(qdq_conv_bn_relu()), mapping(runtime))
    plain = map_graph(graph_from_model(float_conv_bn_relu()), mapping(runtime))
    assert [layer.nodes for layer in qdq.layers] == [("conv", "bn", "relu")]   # batch norm folded through Q/DQ
    assert qdq.layers[0].precision == "int8"
    assert len(qdq.elided) == 8   # every activation Q and DQ (the weight's DQ is folded at import)
    for a, b in zip(qdq.layers, plain.layers):
        assert (a.macs, a.act_in_elems, a.weight_elems, a.act_out_elems) == (b.macs, b.act_in_elems, b.weight_elems,
                                                                            b.act_out_elems)


def test_qdq_estimate_equals_the_float_graph_at_int8():
    profile = "raspberry-pi-4"
    qdq = edgeperf.estimate(graph_from_model(qdq_conv_bn_relu()), profile)
    plain = edgeperf.estimate(graph_from_model(float_conv_bn_relu()), profile, precision="int8")
    assert qdq.precision == "int8"
    assert qdq.total_latency_ms == pytest.approx(plain.total_latency_ms, rel=1e-12)


def pad_then(pads, op="Conv"):
    h = 16 + pads[2] + pads[6]
    nodes = [helper.make_node("Relu", ["x"], ["r"], name="relu"), helper.make_node("Pad", ["r", "p"], ["rp"], name="pad")]
    if op == "Conv":
        nodes.append(helper.make_node("Conv", ["rp", "w"], ["y"], name="conv"))
        out, inits = (1, C, h - 2, h - 2), [weight("w", (C, 4, 3, 3))]
    else:
        nodes.append(helper.make_node("Sigmoid", ["rp"], ["y"], name="sig"))
        out, inits = (1, 4, h, h), []
    inits.append(weight("p", (8,), dtype=np.int64, value=pads))
    return graph_from_model(model(nodes, [tensor("x", (1, 4, 16, 16))], [tensor("y", out)], inits))


def test_a_pad_that_pads_nothing_costs_nothing_and_a_real_pad_joins_the_convolution():
    nothing = map_graph(pad_then([0] * 8, "Sigmoid"), mapping("tensorrt"))
    # the bypassed Pad lets TensorRT's pointwise fusion join the Relu and the Sigmoid around it
    assert nothing.elided == ("pad",) and [layer.nodes for layer in nothing.layers] == [("relu", "sig")]
    real = map_graph(pad_then([0, 0, 1, 1, 0, 0, 1, 1]), mapping("tensorrt"))
    assert [layer.nodes for layer in real.layers] == [("relu",), ("pad", "conv")]
    # a real Pad feeding an element-wise op stays a copy
    copy = map_graph(pad_then([0, 0, 1, 1, 0, 0, 1, 1], "Sigmoid"), mapping("tensorrt"))
    assert [layer.nodes for layer in copy.layers] == [("relu",), ("pad",), ("sig",)]


def test_tensorrt_writes_concatenations_in_place_tflite_copies_them():
    graph = edgeperf.load_model("zoo:squeezenet1_1")
    concats = sum(layer.op_type == "Concat" for layer in graph.layers)
    assert concats == 8
    trt, tflite = map_graph(graph, mapping("tensorrt")), map_graph(graph, mapping("tflite"))
    assert sum("Concat" in layer.op_type for layer in trt.layers) == 0
    assert sum(layer.op_type == "Concat" for layer in tflite.layers) == 8


def test_branches_into_an_in_place_concatenation_fuse_their_activation_on_tensorrt():
    # an Inception-style module: two Conv-BN-Relu branches concatenated. TensorRT writes the concatenation's
    # inputs in place (copy elision "always"), so each branch's Relu output has no reader left but the elided
    # Concat; the pointwise subgraph must still take the Relu into its convolution's kernel.
    nodes, inits = [], [weight("w0", (C, 4, 1, 1)), weight("w1", (C, 4, 3, 3))]
    for i in (0, 1):
        nodes += [helper.make_node("Conv", ["x", f"w{i}"], [f"c{i}"], name=f"conv{i}", pads=[i] * 4),
                  helper.make_node("BatchNormalization", [f"c{i}", f"{i}s", f"{i}b", f"{i}m", f"{i}v"], [f"n{i}"],
                                   name=f"bn{i}"),
                  helper.make_node("Relu", [f"n{i}"], [f"r{i}"], name=f"relu{i}")]
        inits += bn_inits(str(i))
    nodes.append(helper.make_node("Concat", ["r0", "r1"], ["y"], name="cat", axis=1))
    graph = graph_from_model(model(nodes, [tensor("x", (1, 4, 16, 16))], [tensor("y", (1, 2 * C, 16, 16))], inits))
    mapped = map_graph(graph, mapping("tensorrt"))
    assert [layer.nodes for layer in mapped.layers] == [("conv0", "bn0", "relu0"), ("conv1", "bn1", "relu1")]
    assert mapped.elided == ("cat",)
    # TFLite copies the concatenation: the same kernels plus the Concat
    assert [layer.nodes for layer in map_graph(graph, mapping("tflite")).layers][-1] == ("cat",)


def winograd_conv(k, stride, c_in, c_out, size, groups=1, choice="faster"):
    out = (size + 2 * (k // 2) - k) // stride + 1
    node = helper.make_node("Conv", ["x", "w"], ["y"], name="conv", pads=[k // 2] * 4, strides=[stride, stride],
                            group=groups, kernel_shape=[k, k])
    graph = graph_from_model(model([node], [tensor("x", (1, c_in, size, size))], [tensor("y", (1, c_out, out, out))],
                                   [weight("w", (c_out, c_in // groups, k, k))]))
    rule = (FusionRule(name="conv", primary=("Conv",), followers=()),)
    return map_graph(graph, Mapping(runtime="test", rules=rule,
                                    winograd=Winograd(kernel=3, stride=1, min_channels=8, work_scale=0.25, tile=6,
                                                      choice=choice))).layers[0]


@pytest.mark.parametrize("k,stride,c_in,c_out,size,groups,scale", [
    (3, 1, 16, 16, 12, 1, 0.25),            # 12 = two whole 6x6 tiles: 0.25 x 1
    (3, 1, 16, 16, 7, 1, 0.25 * 144 / 49),  # 7x7 computed as 12x12 (two tiles per side): 0.25 x 144/49
    (3, 2, 16, 16, 24, 1, 1.0),             # stride 2: direct method
    (1, 1, 16, 16, 12, 1, 1.0),             # 1x1: no Winograd
    (3, 1, 4, 4, 12, 1, 1.0),               # fewer than min_channels
    (3, 1, 16, 16, 2, 1, 1.0),              # 2x2 map: 6x6 tiles would cost 0.25 x 36/4 = 2.25: direct method
    (3, 1, 16, 16, 12, 16, 1.0),            # depthwise
])
def test_winograd_work_scale_and_tile_padding(k, stride, c_in, c_out, size, groups, scale):
    layer = winograd_conv(k, stride, c_in, c_out, size, groups)
    assert layer.work_scale == pytest.approx(scale)
    assert ("winograd" in layer.flags) == (scale != 1.0)


def test_a_runtime_whose_rule_is_the_shape_keeps_winograd_where_tiles_cost_more():
    # ncnn picks Winograd by the layer's shape: a 2x2 map in 6x6 tiles computes 36 outputs for 4, so its
    # work is 0.25 x 36 / 4 = 2.25 of the direct method's; a runtime that picks by cost runs the direct method
    assert winograd_conv(3, 1, 16, 16, 2, choice="always").work_scale == pytest.approx(2.25)
    assert winograd_conv(3, 1, 16, 16, 2, choice="faster").work_scale == 1.0
    assert winograd_conv(3, 1, 16, 16, 12, choice="always").work_scale == pytest.approx(0.25)   # whole tiles: alike
    assert runtime_mapping("ncnn").mapping.winograd.choice == "always"
    assert runtime_mapping("tensorrt").mapping.winograd.choice == "faster"
    with pytest.raises(ValueError, match="winograd.choice must be one of"):
        Winograd(choice="sometimes")


def test_winograd_lowers_compute_time_not_the_reported_work():
    on = edgeperf.estimate("zoo:vgg16", "raspberry-pi-4-ncnn")
    off = edgeperf.estimate("zoo:vgg16", "raspberry-pi-4")   # TFLite: no Winograd
    conv_on, conv_off = (next(layer for layer in est.layers if layer.name == "conv_1") for est in (on, off))  # 64 -> 64
    assert conv_on.macs == conv_off.macs == 64 * 64 * 9 * 224 * 224
    assert "winograd" in conv_on.flags and "winograd" not in conv_off.flags
    assert on.total_macs == off.total_macs



def fc_model():
    # Conv 4->8 3x3 on 6x6 (288 weights), Flatten, Gemm 288->10 (2,880 weights)
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv", pads=[1, 1, 1, 1]),
             helper.make_node("Flatten", ["c"], ["f"], name="flat"),
             helper.make_node("Gemm", ["f", "fw"], ["y"], name="fc", transB=1)]
    return model(nodes, [tensor("x", (1, 4, 6, 6))], [tensor("y", (1, 10))], [weight("w", (C, 4, 3, 3)),
                                                                               weight("fw", (10, C * 36))])


def test_ncnn_reads_fully_connected_weights_as_fp16_and_convolution_weights_as_they_run():
    from edgeperf.estimator import layer_bytes

    mapped = map_graph(graph_from_model(fc_model()), mapping("ncnn"))
    assert [layer.op_type for layer in mapped.layers] == ["Conv", "Gemm"]
    conv_acts, fc_acts = 4 * 36 + 8 * 36, 288 + 10     # in + out elements of each layer
    fp32, weights = layer_bytes(mapped, np.full(2, 32.0))
    assert list(weights) == [288 * 4, 2880 * 2]          # the Gemm's weights stored at 16 bits, the Conv's at 32
    assert list(fp32) == [conv_acts * 4 + 288 * 4, fc_acts * 4 + 2880 * 2]
    int8, weights8 = layer_bytes(mapped, np.full(2, 8.0))
    assert list(weights8) == [288, 2880]                  # narrower than the storage: as the layer runs
    tflite = map_graph(graph_from_model(fc_model()), mapping("tflite"))
    assert list(layer_bytes(tflite, np.full(2, 32.0))[1]) == [288 * 4, 2880 * 4]


def test_weight_storage_survives_the_profile_document_and_is_checked():
    from edgeperf import ProfileError
    from edgeperf.profiles import load_profile, parse_profile

    document = load_profile("raspberry-pi-4-ncnn").to_document()
    assert document["mapping"]["weight_storage"] == {"op_types": ["Gemm", "MatMul"], "bits": 16,
                                                     "source": "ncnn-fp16-storage"}
    assert parse_profile(document).mapping.weight_storage_bits == 16
    document["mapping"]["weight_storage"]["bits"] = 12
    with pytest.raises(ProfileError, match="weight_storage.bits must be 8 or 16, got 12"):
        parse_profile(document)
    with pytest.raises(ValueError, match="bits must be 8 or 16"):
        Mapping(weight_storage=("Gemm",), weight_storage_bits=4)

# ---- checked against onnxruntime's optimized graph -------------------------------------------------------------

#: onnxruntime's kernel for the operator an edgeperf executed layer is anchored on
_ORT_NAMES = {"FusedConv": "Conv", "QLinearConv": "Conv", "QLinearAdd": "Add", "QGemm": "Gemm", "FusedGemm": "Gemm",
              "QLinearGlobalAveragePool": "GlobalAveragePool", "QuickGelu": "Sigmoid"}
_SHAPE_OPS = {"Flatten", "Reshape", "Squeeze", "Unsqueeze", "Identity", "Dropout"}


def ort_kernels(onnx_model, tmp_path) -> collections.Counter:
    ort = pytest.importorskip("onnxruntime")
    import onnx

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    options.optimized_model_filepath = str(tmp_path / "optimized.onnx")
    ort.InferenceSession(onnx_model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    graph = onnx.load(options.optimized_model_filepath).graph
    constants = {init.name for init in graph.initializer}
    kernels = collections.Counter()
    for node in graph.node:   # edgeperf folds nodes of constants at import and elides shape-only ones
        if all(name in constants for name in node.input if name):
            constants.update(node.output)
        elif node.op_type not in _SHAPE_OPS:
            kernels[_ORT_NAMES.get(node.op_type, node.op_type)] += 1
    return kernels


def edgeperf_kernels(onnx_model) -> collections.Counter:
    mapped = map_graph(graph_from_model(onnx_model), mapping("onnxruntime"))
    graph = mapped.graph
    by_name = {layer.name: layer for layer in graph.layers}
    return collections.Counter(by_name[layer.name].op_type for layer in mapped.layers)


def with_data(onnx_model):
    """A copy whose initializers hold values (onnxruntime needs them)."""
    import onnx

    filled = onnx.ModelProto()
    filled.CopyFrom(onnx_model)
    for init in filled.graph.initializer:
        if not init.raw_data and not init.int64_data and not init.float_data and not init.int32_data:
            dtype = helper.tensor_dtype_to_np_dtype(init.data_type)
            init.CopyFrom(numpy_helper.from_array(np.ones(tuple(init.dims), dtype=dtype) * (1 if dtype != np.float32 else 0.1),
                                                  init.name))
    return filled


@pytest.mark.parametrize("build", [silu_model, float_conv_bn_relu, qdq_conv_bn_relu],
                         ids=["silu", "conv-bn-relu", "qdq-conv-bn-relu"])
def test_small_graphs_map_to_what_onnxruntime_runs(build, tmp_path):
    onnx_model = with_data(build())
    assert edgeperf_kernels(onnx_model) == ort_kernels(onnx_model, tmp_path)


def test_pad_into_conv_and_identity_copies_match_onnxruntime(tmp_path):
    nodes = [helper.make_node("Relu", ["x"], ["r"], name="relu"),
             helper.make_node("Pad", ["r", "p"], ["rp"], name="pad"),
             helper.make_node("Conv", ["rp", "w"], ["c"], name="conv"),
             helper.make_node("Expand", ["c", "shape"], ["e"], name="expand"),   # to its own shape: no copy
             helper.make_node("Pad", ["e", "zero"], ["y"], name="nopad")]        # pads nothing, kept by onnxruntime
    inits = [weight("w", (C, 4, 3, 3), data=True), weight("p", (8,), dtype=np.int64, value=[0, 0, 1, 1, 0, 0, 1, 1]),
             weight("shape", (4,), dtype=np.int64, value=[1, C, 16, 16]), weight("zero", (8,), dtype=np.int64, value=[0] * 8)]
    onnx_model = model(nodes, [tensor("x", (1, 4, 16, 16))], [tensor("y", (1, C, 16, 16))], inits)
    ours = edgeperf_kernels(onnx_model)
    assert ours == ort_kernels(onnx_model, tmp_path) == collections.Counter({"Relu": 1, "Conv": 1, "Pad": 1})


@pytest.mark.parametrize("name", ["efficientnet_b0", "squeezenet1_1", "googlenet"])
def test_zoo_networks_map_to_what_onnxruntime_runs(name, tmp_path):
    onnx_model = edgeperf.zoo.build_model(name, weights=True, input_size=(64, 64))
    assert edgeperf_kernels(onnx_model) == ort_kernels(onnx_model, tmp_path)


def test_a_quantized_resnet_maps_to_what_onnxruntime_runs(tmp_path):
    """onnxruntime's own QDQ quantizer, then its optimizer: QLinearConv, QLinearAdd, QGemm and the unfolded batch norms.

    The compute kernels match one for one. Stand-alone Q/DQ kernels do not quite: onnxruntime gives each
    consumer of a shared DequantizeLinear its own copy inside its quantized kernel and drops Q/DQ pairs around
    Flatten; the onnxruntime mapping keeps those as separate small kernels (an overestimate, never an omission).
    """
    pytest.importorskip("onnxruntime")
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.left = 2

        def get_next(self):
            if not self.left:
                return None
            self.left -= 1
            return {"input": np.random.default_rng(self.left).standard_normal((1, 3, 32, 32)).astype(np.float32)}

    onnx.save(edgeperf.zoo.build_model("resnet18", weights=True, input_size=(32, 32)), tmp_path / "float.onnx")
    quantize_static(tmp_path / "float.onnx", tmp_path / "qdq.onnx", Reader(), quant_format=QuantFormat.QDQ,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
    quantized = onnx.load(tmp_path / "qdq.onnx")
    ours, theirs = edgeperf_kernels(quantized), ort_kernels(quantized, tmp_path)
    assert theirs["Conv"] == 20 and theirs["BatchNormalization"] == 20
    quant = ("QuantizeLinear", "DequantizeLinear")
    assert {k: v for k, v in ours.items() if k not in quant} == {k: v for k, v in theirs.items() if k not in quant}
    for op in quant:
        assert theirs[op] <= ours[op] <= theirs[op] + 10
