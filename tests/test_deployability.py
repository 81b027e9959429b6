"""What a target's runtime cannot map falls back, and the estimate accounts for it (issue 17, items 3 and 12).

Every expected value is worked out by hand from the profiles' roofline numbers and the graphs built
here; the support tables are profile data with their documents.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from onnx import TensorProto, helper

import edgeperf
from edgeperf.estimator import estimate_graph, evaluate_parts, graph_from_model, map_graph, reference_costs
from edgeperf.profiles import load_profile, parse_profile
from edgeperf.profiles._schema import runtime_support_tables
from tests._models import model, tensor, weight


def chain(ops, channels=8, hw=8):
    """input [1, C, H, W] -> each op of ``ops`` in turn (element-wise)."""
    nodes, prev = [], "x"
    for i, op in enumerate(ops):
        nodes.append(helper.make_node(op, [prev], [f"t{i}"], name=f"{op.lower()}_{i}"))
        prev = f"t{i}"
    return graph_from_model(model(nodes, [tensor("x", (1, channels, hw, hw))],
                                  [tensor(prev, (1, channels, hw, hw))]), name="chain")


def conv_chain(middle: str):
    """conv 3x3 8->8 -> MIDDLE -> conv 3x3 8->8 -> relu, on 1x8x16x16."""
    nodes = [helper.make_node("Conv", ["x", "w0"], ["a"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], name="conv_a"),
             helper.make_node(middle, ["a"], ["b"], name="middle"),
             helper.make_node("Conv", ["b", "w1"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], name="conv_b"),
             helper.make_node("Relu", ["c"], ["y"], name="relu")]
    return graph_from_model(model(nodes, [tensor("x", (1, 8, 16, 16))], [tensor("y", (1, 8, 16, 16))],
                                  [weight("w0", (8, 8, 3, 3)), weight("w1", (8, 8, 3, 3))]), name="convs")


def test_the_tables_cite_their_documents_and_name_onnx_operators():
    tables = runtime_support_tables()
    assert set(tables) >= {"edgetpu-compiler", "tensorrt-8.4", "openvino-myriad"}
    import onnx

    for table in tables.values():
        assert table.sources[table.ops_source] and table.sources[table.rules_source]
        plain = [op.removeprefix("com.microsoft:") for op in table.ops]       # onnxruntime's contrib operators
        assert all(onnx.defs.has(op) or op.startswith("QLinear") or op == "QGemm" for op in plain), plain
    assert tables["edgetpu-compiler"].partition == "once" and tables["edgetpu-compiler"].fallback == "host"
    assert "MatMul" in tables["tensorrt-8.4"].ops and "int8" not in tables["tensorrt-8.4"].ops["MatMul"]


def test_edge_tpu_runs_everything_after_the_first_unmapped_operator_on_the_host():
    coral = load_profile("coral-edgetpu")
    est = estimate_graph(conv_chain("LeakyRelu"), coral)          # LeakyRelu is not in the Edge TPU's table
    placed = {layer.name: "host-fallback" in layer.flags for layer in est.layers}
    assert placed == {"conv_a": False, "middle": True, "conv_b": True}   # conv_b+relu follows it to the host
    assert [layer.bound for layer in est.layers][1:] == ["host", "host"] and est.layers[0].bound != "host"
    assert any("fall back to the host CPU (raspberry-pi-3's profile)" in note for note in est.notes)
    # the same network with a mapped operator in the middle stays on the Edge TPU
    mapped = estimate_graph(conv_chain("Relu"), coral)
    assert not any("host-fallback" in layer.flags for layer in mapped.layers)
    assert est.total_latency_ms > mapped.total_latency_ms


def test_host_layers_cost_the_hosts_estimate_plus_the_link():
    coral, host = load_profile("coral-edgetpu"), load_profile("raspberry-pi-3")
    graph = conv_chain("LeakyRelu")
    mapped = map_graph(graph, coral.mapping)
    costs = reference_costs(mapped, coral, "int8")
    on_host = reference_costs(map_graph(graph, coral.mapping), host, host.default_precision)
    assert list(costs.placement.host) == [False, True, True]
    # the LeakyRelu reads conv_a's 1x8x16x16 output over the link: 2048 elements at the host's fp32,
    # 8192 bytes at 0.5 GB/s (500,000 bytes per ms) = 0.016384 ms; conv_b's output stays on the host
    assert costs.placement.transfer_elems.tolist() == [0.0, 2048.0, 0.0]
    expected = evaluate_parts(on_host, host, {}).parts.latency_ms    # what the Pi 3 alone takes per layer
    assert costs.overhead_ms[1] == pytest.approx(expected[1] + 8192 / 500_000.0)
    assert costs.overhead_ms[2] == pytest.approx(expected[2])
    assert costs.compute_ms[1] == costs.memory_ms[1] == 0.0    # not scaled by the Edge TPU's clock


def test_host_layers_are_not_slowed_by_the_devices_clock():
    coral = load_profile("coral-edgetpu")
    graph = conv_chain("LeakyRelu")
    fast = estimate_graph(graph, coral, freq_mhz={"tpu": 500.0})
    slow = estimate_graph(graph, coral, freq_mhz={"tpu": 250.0})
    assert [a.latency_ms for a in fast.layers[1:]] == [b.latency_ms for b in slow.layers[1:]]
    assert slow.layers[0].latency_ms > fast.layers[0].latency_ms


def test_hetero_fallback_moves_each_unmapped_layer_alone():
    ncs2 = load_profile("intel-ncs2")                          # OpenVINO MYRIAD: no Reciprocal on the VPU
    est = estimate_graph(chain(["Relu", "Reciprocal", "Relu"]), ncs2)
    assert ["host-fallback" in layer.flags for layer in est.layers] == [False, True, False]
    costs = reference_costs(map_graph(chain(["Relu", "Reciprocal", "Relu"]), ncs2.mapping), ncs2, "fp16")
    # the Reciprocal's 512-element input comes from the VPU and its output goes back: 1024 elements
    assert costs.placement.transfer_elems.tolist() == [0.0, 1024.0, 0.0]


def test_tensorrt_runs_what_it_lacks_at_another_precision_on_the_gpu():
    nano = load_profile("jetson-nano")                         # TensorRT 8.4's table: no Reciprocal
    est = estimate_graph(chain(["Relu", "Reciprocal"]), nano, precision="fp16")
    assert [layer.precision for layer in est.layers] == ["fp16", "fp32"]
    assert "precision-fallback" in est.layers[1].flags and not any(l.bound == "host" for l in est.layers)
    # at fp32 the Reciprocal moves 4 bytes per element: 512 in + 512 out = 4096 bytes
    assert est.layers[1].bytes_ == 4096
    assert any("another precision" in note for note in est.notes)


def test_a_quantized_model_on_a_board_without_int8_says_what_runs_instead():
    nodes = [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"], name="q"),
             helper.make_node("DequantizeLinear", ["q", "s", "z"], ["dq"], name="dq"),
             helper.make_node("DequantizeLinear", ["wq", "s", "z"], ["w"], name="dqw"),
             helper.make_node("Conv", ["dq", "w"], ["y"], kernel_shape=[1, 1], name="conv")]
    inits = [weight("s", (), value=0.1), weight("z", (), value=0, dtype=np.int8),
             weight("wq", (8, 8, 1, 1), data=True, dtype=np.int8)]
    graph = graph_from_model(model(nodes, [tensor("x", (1, 8, 4, 4))], [tensor("y", (1, 8, 4, 4))], inits),
                             name="qdq")
    assert graph.native_precision == "int8"
    est = estimate_graph(graph, load_profile("jetson-nano"))   # Maxwell: fp32 and fp16 only
    assert est.precision == "fp16"
    assert any("no int8 path" in note and "run at fp16" in note for note in est.notes)
    conv = next(layer for layer in est.layers if layer.op_class == "conv")
    assert conv.precision == "fp16"
    # TensorRT folds the Q/DQ nodes into the kernel (mapping fold): 1x8x4x4 in (128) + 8x8 weights (64) + 128 out
    # = 320 elements, at fp16's 2 bytes (the model's int8 width no more): 640
    assert conv.bytes_ == 640


def test_a_host_fallback_needs_the_host_and_the_link(edited_profile):
    from edgeperf import ProfileError

    def drop_link(document):
        del document["runtime_support"]["link_gbps"]

    with pytest.raises(ProfileError, match="give host_profile .* and link_gbps"):
        edited_profile("coral-edgetpu", drop_link)

    def unknown_table(document):
        document["runtime_support"]["table"] = "magic-compiler"

    with pytest.raises(ProfileError, match="not a shipped runtime table"):
        edited_profile("coral-edgetpu", unknown_table)


def test_runtime_support_is_written_back_as_read():
    for name in ("coral-edgetpu", "intel-ncs2", "jetson-nano"):
        profile = load_profile(name)
        again = parse_profile(json.loads(json.dumps(profile.to_document())))
        assert again.runtime_support == profile.runtime_support
        assert profile.to_document()["runtime_support"]["table"] == profile.runtime_support.table


def test_fallback_is_part_of_dvfs_grids_and_searches():
    coral = load_profile("coral-edgetpu")
    graph = conv_chain("LeakyRelu")
    single = estimate_graph(graph, coral)
    from edgeperf.operating import explore_dvfs

    report = explore_dvfs(map_graph(graph, coral.mapping), coral, precision="int8")
    top = max(report.points, key=lambda p: p.freq_mhz["tpu"])
    assert top.latency_ms == pytest.approx(single.total_latency_ms)
    assert top.energy_mj == pytest.approx(single.total_energy_mj)
