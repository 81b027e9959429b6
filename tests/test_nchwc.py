"""onnxruntime's blocked NCHWc layout: which convolutions leave it, the reorders around them, the block in profiles."""

from __future__ import annotations

import dataclasses
import json
from collections import Counter

import numpy as np
import onnx
import pytest
from onnx import helper

from edgeperf._errors import ProfileError
from edgeperf.estimator import Nchwc, estimate_graph, graph_from_model, load_model, map_graph
from edgeperf.estimator._nchwc import conv_path
from edgeperf.measure._calibrate import ORT_MAPPING, base_profile, ort_mapping, plan_calibration
from edgeperf.measure._device import nchwc_block
from edgeperf.profiles import LayerModel, list_profiles, load_profile, parse_profile
from edgeperf.zoo import as_reference, runnable_model
from tests._models import model, tensor, weight


def ort(block, pad=None):
    return dataclasses.replace(ORT_MAPPING, nchwc=Nchwc(block=block, pad_multiple=pad, source="test") if block else None)


def conv_chain(channels, groups, size=8):
    """x -> conv A (3 -> C, dense) -> conv B (C -> C, ``groups`` groups, 3x3) -> conv C (C -> 32, 1x1) -> y."""
    c = channels
    nodes = [helper.make_node("Conv", ["x", "wa"], ["a"], name="A", pads=[1, 1, 1, 1]),
             helper.make_node("Conv", ["a", "wb"], ["b"], name="B", pads=[1, 1, 1, 1], group=groups),
             helper.make_node("Conv", ["b", "wc"], ["y"], name="C")]
    inits = [weight("wa", (c, 3, 3, 3)), weight("wb", (c, c // groups, 3, 3)), weight("wc", (32, c, 1, 1))]
    return graph_from_model(model(nodes, [tensor("x", (1, 3, size, size))], [tensor("y", (1, 32, size, size))], inits))


def classes(graph, block, pad=None):
    return {layer.name: layer.op_class for layer in map_graph(graph, ort(block, pad)).layers}


def this_cpus_block() -> int:
    """The block onnxruntime uses on this CPU (skips the test where it has no blocked layout)."""
    pytest.importorskip("onnxruntime")
    from edgeperf.measure._device import device_info

    block = nchwc_block(device_info())
    if block is None:
        pytest.skip("this CPU has no AVX2 or AVX-512F: onnxruntime has no blocked layout here")
    return block


def optimized_graph(proto, tmp_path):
    """onnxruntime's own rewrite of ``proto`` on this CPU, as it saves it (``optimized_model_filepath``)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.optimized_model_filepath = str(tmp_path / "optimized.onnx")
    options.log_severity_level = 3
    onnxruntime.InferenceSession(proto.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return onnx.load(options.optimized_model_filepath).graph


@pytest.mark.parametrize("channels, groups, block, expected", [
    (116, 116, 16, "dwconv_generic"),   # ShuffleNet v2 x1.0: 116 is no multiple of 16 (nor of 8)
    (116, 116, 8, "dwconv_generic"),
    (128, 128, 16, "dwconv"),
    (232, 232, 8, "dwconv"),            # 232 = 29 x 8
    (232, 232, 16, "dwconv_generic"),
    (128, 32, 16, "gconv_generic"),     # ResNeXt's first stage: 32 groups of 4 channels
    (128, 32, 8, "gconv_generic"),
    (256, 32, 8, "conv"),               # 32 groups of 8: on the block of 8, off the block of 16
    (256, 32, 16, "gconv_generic"),
    (512, 32, 16, "conv"),              # 16 per group
    (24, 1, 8, "conv"),                 # dense: 24 input channels fill blocks of 8, not of 16
    (24, 1, 16, "conv_generic"),
])
def test_convolutions_leave_the_blocked_layout_by_onnxruntimes_rule(channels, groups, block, expected):
    graph = conv_chain(channels, groups)
    assert classes(graph, block)["B"] == expected
    assert classes(graph, None)["B"] == ("dwconv" if groups == channels else "conv")   # no layout: as before


@pytest.mark.parametrize("channels, groups, expected", [
    (116, 116, "dwconv"),               # padded to 128 by onnxruntime 1.32
    (58, 58, "dwconv_generic"),         # no multiple of 4
    (116, 1, "conv"),
    (58, 1, "conv_generic"),
    (128, 32, "gconv_generic"),         # grouped convolutions are not padded
    (232, 29, "gconv_generic"),
])
def test_a_runtime_that_pads_channels_to_the_block_keeps_multiples_of_4_blocked(channels, groups, expected):
    assert classes(conv_chain(channels, groups), 16, pad=4)["B"] == expected


def test_the_rule_agrees_with_onnxruntimes_optimized_graph_on_this_cpu(tmp_path):
    """onnxruntime's own rewrite, saved as an optimized graph: each probe convolution in its blocked domain or not."""
    from edgeperf.measure import OnnxRuntimeRunner

    block = this_cpus_block()
    pad = OnnxRuntimeRunner().nchwc_pad_multiple(block)
    assert pad in (4, 8, block)
    nchwc = Nchwc(block=block, pad_multiple=pad)
    for channels, groups in ((116, 116), (58, 58), (2 * block, 2 * block), (block + 4, block + 4), (58, 1),
                             (block + 4, 1), (3 * block, 1), (8 * block, 32), (16 * block, 32), (4 * block, 2)):
        graph = conv_chain(channels, groups)
        proto = model(
            [helper.make_node("Conv", ["x", "w"], ["y"], name="B", pads=[1, 1, 1, 1], group=groups)],
            [tensor("x", (1, channels, 8, 8))], [tensor("y", (1, channels, 8, 8))],
            [weight("w", (channels, channels // groups, 3, 3), data=True)])
        domains = {node.domain for node in optimized_graph(proto, tmp_path).node
                   if node.op_type in ("Conv", "FusedConv")}
        ours = conv_path(next(layer for layer in graph.layers if layer.name == "B"), block, nchwc.multiple)
        assert (domains == {"com.microsoft.nchwc"}) == ours.startswith("blocked"), (channels, groups, domains, ours)


def test_a_dense_convolution_with_fewer_input_channels_than_a_block_stays_blocked_and_reads_the_plain_input():
    mapped = map_graph(conv_chain(128, 128), ort(16))
    assert [layer.op_type.split("+")[0] for layer in mapped.layers] == ["Conv", "Conv", "Conv", "ReorderOutput"]
    assert mapped.layers[0].op_class == "conv"   # 3 input channels < 16: no ReorderInput before it


def test_reorders_surround_a_convolution_off_the_blocked_path():
    mapped = map_graph(conv_chain(128, 32, size=8), ort(16))
    kinds = [(layer.op_type, layer.op_class) for layer in mapped.layers]
    assert kinds == [("Conv", "conv"), ("ReorderOutput", "reorder"), ("Conv", "gconv_generic"),
                     ("ReorderInput", "reorder"), ("Conv", "conv"), ("ReorderOutput", "reorder")]
    moved = {layer.name: (layer.act_in_elems, layer.act_out_elems, layer.flops) for layer in mapped.layers
             if layer.op_class == "reorder"}
    assert moved == {"a:ReorderOutput": (128 * 64, 128 * 64, 0), "b:ReorderInput": (128 * 64, 128 * 64, 0),
                     "y:ReorderOutput": (32 * 64, 32 * 64, 0)}   # the graph output leaves the blocked layout too
    assert mapped.layers[1].nodes == ("A",) and mapped.layers[3].nodes == ("C",)
    # on the block of 8 the same graph has no grouped convolution off the path... only when its groups fit
    assert Counter(layer.op_type for layer in map_graph(conv_chain(256, 32), ort(8)).layers)["ReorderInput"] == 0


def test_a_channel_shuffle_leaves_the_blocked_layout_and_the_next_convolution_reorders_back():
    nodes = [helper.make_node("Conv", ["x", "w1"], ["a"], name="A"),
             helper.make_node("Reshape", ["a", "s1"], ["r"], name="R1"),
             helper.make_node("Transpose", ["r"], ["t"], name="T", perm=[0, 2, 1, 3, 4]),
             helper.make_node("Reshape", ["t", "s2"], ["u"], name="R2"),
             helper.make_node("Conv", ["u", "w2"], ["y"], name="B")]
    inits = [weight("w1", (64, 32, 1, 1)), weight("w2", (64, 64, 1, 1)),
             weight("s1", (5,), dtype=np.int64, value=[1, 2, 32, 8, 8]),
             weight("s2", (4,), dtype=np.int64, value=[1, 64, 8, 8])]
    graph = graph_from_model(model(nodes, [tensor("x", (1, 32, 8, 8))], [tensor("y", (1, 64, 8, 8))], inits))
    ops = [layer.op_type for layer in map_graph(graph, ort(16)).layers]
    assert ops.count("ReorderInput") == 2 and ops.count("ReorderOutput") == 2   # x in, a out, u in, y out


def test_networks_without_the_layout_map_exactly_as_before():
    graph = load_model("zoo:shufflenet_v2_x1_0")
    plain, blocked = map_graph(graph, ORT_MAPPING), map_graph(graph, ort(16))
    assert all(layer.op_class in ("conv", "dwconv") or "conv" not in layer.op_class for layer in plain.layers)
    assert not any("Reorder" in layer.op_type for layer in plain.layers)
    assert Counter(layer.op_class for layer in blocked.layers)["dwconv_generic"] == 19   # every depthwise: 116/232
    assert plain.flops.sum() == blocked.flops.sum()                                   # reorders add no arithmetic


def test_the_block_round_trips_through_a_profile_document():
    base = base_profile("cpu", {"name": "onnxruntime", "version": "1", "threads": 1,
                                "providers": ["CPUExecutionProvider"]}, {"peak_gflops": 50.0, "bandwidth_gbps": 10.0},
                        {"cpu": "test cpu", "machine": "x86_64", "vector_isa": "avx512f", "nchwc_pad_multiple": 4})
    assert base.mapping.nchwc == Nchwc(block=16, pad_multiple=4, source="ort-nchwc")
    assert "avx512f" in base.sources["ort-nchwc"] and "block 16" in base.sources["ort-nchwc"]
    assert "20 channels ran blocked" in base.sources["ort-nchwc"]
    document = json.loads(json.dumps(base.to_document()))
    assert document["mapping"]["nchwc"] == {"block": 16, "pad_multiple": 4, "source": "ort-nchwc"}
    again = parse_profile(document)
    assert again.mapping.nchwc == base.mapping.nchwc and again.to_document() == document
    document["mapping"]["nchwc"]["block"] = 12
    with pytest.raises(ProfileError, match="nchwc.*8, 16"):
        parse_profile(document)
    document["mapping"]["nchwc"].update(block=16, pad_multiple=5)
    with pytest.raises(ProfileError, match="pad_multiple must divide"):
        parse_profile(document)
    document["mapping"]["nchwc"] = {"block": 8, "source": "nowhere"}
    with pytest.raises(ProfileError, match="unknown source"):
        parse_profile(document)


@pytest.mark.parametrize("info, providers, block", [
    ({"machine": "x86_64", "vector_isa": "avx512f"}, ["CPUExecutionProvider"], 16),
    ({"machine": "x86_64", "vector_isa": "avx2"}, ["CPUExecutionProvider"], 8),
    ({"machine": "x86_64"}, ["CPUExecutionProvider"], None),              # neither: no blocked layout
    ({"machine": "aarch64", "vector_isa": "avx2"}, ["CPUExecutionProvider"], None),
    ({"machine": "x86_64", "vector_isa": "avx512f"}, ["CUDAExecutionProvider", "CPUExecutionProvider"], None),
])
def test_the_block_is_read_from_the_cpu(info, providers, block):
    mapping, sources = ort_mapping({"providers": providers}, {"cpu": "c", **info})
    assert (mapping.nchwc.block if mapping.nchwc else None) == block
    assert bool(sources) == (block is not None)
    probed_none, _ = ort_mapping({"providers": providers}, {"cpu": "c", **info, "nchwc_pad_multiple": 0})
    assert probed_none.nchwc is None           # the probe found no blocked layout in this onnxruntime


def test_device_info_names_the_vector_unit_from_cpuinfo(tmp_path):
    from edgeperf.measure._device import device_info

    (tmp_path / "proc").mkdir()
    (tmp_path / "proc/cpuinfo").write_text("model name\t: X\nflags\t\t: fpu sse avx2 fma\n")
    info = device_info(str(tmp_path))
    assert info["vector_isa"] == "avx2" and nchwc_block({**info, "machine": "x86_64"}) == 8


def test_board_profiles_have_no_blocked_layout_and_no_generic_classes():
    graph = load_model("zoo:shufflenet_v2_x1_0")
    for name in list_profiles():
        profile = load_profile(name)
        assert profile.mapping.nchwc is None, name
        assert not {"conv_generic", "gconv_generic", "dwconv_generic"} & set(profile.layer_models), name
    mapped = map_graph(graph, load_profile("raspberry-pi-4").mapping)
    assert not any(layer.op_class.endswith("_generic") for layer in mapped.layers)


def fitted_cpu(models: dict, fitted: tuple):
    base = base_profile("cpu", {"name": "onnxruntime", "version": "1", "threads": 1, "providers": ["CPUExecutionProvider"]},
                        {"peak_gflops": 50.0, "bandwidth_gbps": 10.0}, {"machine": "x86_64", "vector_isa": "avx512f"})
    layer_models = {**base.layer_models, **{c: LayerModel(form="step_linear", source="measured", stated=params)
                                            for c, params in models.items()}}
    return dataclasses.replace(base, layer_models=layer_models,
                               provenance=dataclasses.replace(base.provenance, fitted_classes=fitted))


def test_a_generic_class_absent_from_training_uses_the_convolution_model_and_says_so():
    conv = {"overhead_ms": 0.01, "compute_scale": 2.0, "memory_scale": 1.0}
    without = fitted_cpu({"conv": conv}, ("conv",))
    graph = conv_chain(128, 32)
    estimate = estimate_graph(graph, without)
    generic = next(layer for layer in estimate.layers if layer.op_class == "gconv_generic")
    dense = next(layer for layer in estimate.layers if layer.op_class == "conv")
    assert generic.cost_model == dense.cost_model == "step_linear"
    assert any("no model of its own for gconv_generic" in note and "conv model" in note for note in estimate.notes)
    slower = fitted_cpu({"conv": conv, "gconv_generic": {**conv, "compute_scale": 14.0}}, ("conv", "gconv_generic"))
    assert estimate_graph(graph, slower).total_latency_ms > estimate.total_latency_ms
    assert not any("gconv_generic" in note for note in estimate_graph(graph, slower).notes)


def test_the_calibration_plan_trains_on_grouped_convolutions_on_and_off_the_block():
    plan = plan_calibration(3)      # the shortest plan; longer ones add networks to it
    graphs = [graph_from_model(onnx.load_from_string(runnable_model(as_reference(reference), input_size=(size, size))))
              for reference, size in plan.training
              if reference.startswith(("resnext", "regnet", "shufflenet"))]   # building every network takes a minute
    # blocks of 8 and 16 without padding (onnxruntime's transformer as published), and 16 padding multiples of 4
    # (onnxruntime 1.32)
    for block, pad in ((8, None), (16, None), (16, 4)):
        counts = Counter(layer.op_class for graph in graphs for layer in map_graph(graph, ort(block, pad)).layers)
        for op_class in ("conv_generic", "gconv_generic", "dwconv_generic", "conv", "dwconv"):
            assert counts[op_class] >= 2, (block, pad, op_class, counts)
    assert {"resnext26_32x4d", "regnet_x_200mf", "regnet_y_600mf"} <= {ref for ref, _ in plan.training}
    assert set(plan.training) <= set(plan_calibration(10).training)
    assert all(size not in (None, 224) for ref, size in plan.training if ref in plan.validation)


@pytest.mark.parametrize("name, published_gmacs, published_mparams", [
    ("regnet_x_200mf", 0.2, 2.7), ("regnet_x_1_6gf", 1.6, 9.2), ("regnet_y_600mf", 0.6, 6.1),   # Radosavovic et al. 2020
])
def test_regnet_builders_have_the_papers_work_and_parameters(name, published_gmacs, published_mparams):
    graph = load_model(f"zoo:{name}")
    assert graph.macs / 1e9 == pytest.approx(published_gmacs, rel=0.05)
    assert graph.params / 1e6 == pytest.approx(published_mparams, abs=0.05)


def pre_activation(bn_reads_plain_input: bool):
    """DenseNet's order: x -> [two convs (3 -> 16) -> Concat ->] BatchNormalization -> Relu -> conv C -> y."""
    channels = 3 if bn_reads_plain_input else 32
    nodes = [helper.make_node("BatchNormalization", ["x" if bn_reads_plain_input else "k", "s", "b", "m", "v"], ["n"],
                              name="N"),
             helper.make_node("Relu", ["n"], ["q"], name="Q"),
             helper.make_node("Conv", ["q", "wc"], ["y"], name="C")]
    if not bn_reads_plain_input:
        nodes = [helper.make_node("Conv", ["x", "wa"], ["a"], name="A", pads=[1, 1, 1, 1]),
                 helper.make_node("Conv", ["x", "wb"], ["b2"], name="B", pads=[1, 1, 1, 1]),
                 helper.make_node("Concat", ["a", "b2"], ["k"], name="K", axis=1)] + nodes
    inits = [weight("wa", (16, 3, 3, 3), data=True), weight("wb", (16, 3, 3, 3), data=True),
             weight("wc", (32, channels, 1, 1), data=True)]
    inits += [onnx.numpy_helper.from_array(np.full(channels, 0.5 + i, np.float32), name)
              for i, name in enumerate("sbmv")]
    return model(nodes, [tensor("x", (1, 3, 8, 8))], [tensor("y", (1, 32, 8, 8))], inits)


@pytest.mark.parametrize("block", [8, 16])
def test_a_normalisation_of_a_blocked_tensor_runs_as_a_depthwise_convolution(block):
    graph = graph_from_model(pre_activation(False))
    layers = {layer.name: layer for layer in map_graph(graph, ort(block)).layers}
    norm = next(layer for layer in layers.values() if "N" in layer.nodes)
    assert norm.op_class == "dwconv" and "nchwc-norm-dwconv" in norm.flags
    assert norm.macs == 32 * 8 * 8                       # one multiply-add per output element
    assert next(l for l in map_graph(graph, ort(None)).layers if "N" in l.nodes).op_class == "norm"   # no layout
    plain = graph_from_model(pre_activation(True))       # reading the plain graph input: stays a normalisation
    assert next(l for l in map_graph(plain, ort(block)).layers if "N" in l.nodes).op_class == "norm"


def test_onnxruntime_turns_a_normalisation_of_a_blocked_tensor_into_a_blocked_convolution(tmp_path):
    this_cpus_block()
    found = {}
    for plain_input in (False, True):
        found[plain_input] = Counter((node.domain, node.op_type)
                                     for node in optimized_graph(pre_activation(plain_input), tmp_path).node)
    assert found[False][("com.microsoft.nchwc", "Conv")] == 4 and ("", "BatchNormalization") not in found[False]
    assert found[True][("", "BatchNormalization")] == 1


def _work(mapped, name):
    layer = next(layer for layer in mapped.layers if name in layer.nodes and not layer.op_type.startswith("Reorder"))
    return layer.macs, layer.act_in_elems, layer.act_out_elems, layer.weight_elems, "nchwc-padded" in layer.flags


def test_blocked_layers_compute_and_move_the_channels_padded_to_whole_blocks():
    # 24 channels: whole blocks of 8 (no padding), padded to 32 with blocks of 16 (onnxruntime 1.32 pads multiples of 4)
    dense = conv_chain(24, 1)
    plain, padded = map_graph(dense, ort(8)), map_graph(dense, ort(16, pad=4))
    grow = 32 / 24
    a, b, c = (_work(plain, n) for n in "ABC")
    # A reads the 3-channel plain input: only its 24 outputs grow
    assert _work(padded, "A") == (round(a[0] * grow), a[1], round(a[2] * grow), round(a[3] * grow), True)
    # B, dense 24 -> 24: work and weights grow with both channel counts
    assert _work(padded, "B") == (round(b[0] * grow * grow), round(b[1] * grow), round(b[2] * grow),
                                  round(b[3] * grow * grow), True)
    # C, 24 -> 32: its input's padding only
    assert _work(padded, "C") == (round(c[0] * grow), round(c[1] * grow), c[2], round(c[3] * grow), True)
    assert not any(flag for *_, flag in (a, b, c))
    depthwise = conv_chain(24, 24)
    d = _work(map_graph(depthwise, ort(8)), "B")
    assert _work(map_graph(depthwise, ort(16, pad=4)), "B") == (round(d[0] * grow), round(d[1] * grow),
                                                                 round(d[2] * grow), round(d[3] * grow), True)
    assert not _work(map_graph(conv_chain(48, 1), ort(16, pad=4)), "B")[-1]   # whole blocks: nothing padded


def test_onnxruntime_pads_a_blocked_convolutions_weights_to_whole_blocks(tmp_path):
    from edgeperf.measure import OnnxRuntimeRunner

    block = this_cpus_block()
    pad = OnnxRuntimeRunner().nchwc_pad_multiple(block)
    if pad == block:
        pytest.skip(f"this onnxruntime does not pad channels to the block of {block}")
    channels = block + pad
    proto = model([helper.make_node("Conv", ["x", "w"], ["y"], name="B", pads=[1, 1, 1, 1])],
                  [tensor("x", (1, channels, 8, 8))], [tensor("y", (1, channels, 8, 8))],
                  [weight("w", (channels, channels, 3, 3), data=True)])
    optimized = optimized_graph(proto, tmp_path)
    conv = next(node for node in optimized.node if node.op_type == "Conv" and node.domain == "com.microsoft.nchwc")
    shapes = {init.name: list(init.dims) for init in optimized.initializer}
    assert shapes[conv.input[1]] == [2 * block, 2 * block, 3, 3]     # the padded channels are computed, as zeros
    mapped = map_graph(graph_from_model(proto), ort(block, pad=pad))
    assert _work(mapped, "B")[0] == (2 * block) ** 2 * 9 * 64


def test_a_profile_without_a_reorder_model_uses_its_data_movement_model():
    moves = {"overhead_ms": 0.002, "compute_scale": 0.0, "memory_scale": 3.0}
    without = fitted_cpu({"data_movement": moves}, ("data_movement",))
    graph = conv_chain(128, 32)
    reorders = [layer for layer in estimate_graph(graph, without).layers if layer.op_class == "reorder"]
    assert len(reorders) == 3 and all(layer.cost_model == "step_linear" for layer in reorders)
    own = fitted_cpu({"data_movement": moves, "reorder": {**moves, "memory_scale": 30.0}}, ("data_movement", "reorder"))
    assert estimate_graph(graph, own).total_latency_ms > estimate_graph(graph, without).total_latency_ms
