"""Whole models of the kinds issue 2 names: a BERT-style encoder and onnxruntime-quantized int8 CNNs."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import helper, numpy_helper

import edgeperf
import edgeperf.zoo
from edgeperf.estimator import graph_from_model
from tests._models import model, tensor, weight

S, D, H, F = 128, 768, 12, 3072  # sequence, hidden, heads, feed-forward (BERT-base sizes)


def bert_layer():
    """One BERT encoder layer as exporters write it (opset 20 for Gelu and LayerNormalization)."""
    i64 = lambda name, values: numpy_helper.from_array(np.array(values, np.int64), name)  # noqa: E731
    n = helper.make_node
    nodes = []
    for proj in "qkv":
        nodes += [n("MatMul", ["x", f"w{proj}"], [f"{proj}0"], name=f"{proj}_proj"),
                  n("Add", [f"{proj}0", f"b{proj}"], [f"{proj}1"], name=f"{proj}_bias"),
                  n("Reshape", [f"{proj}1", "heads"], [f"{proj}2"], name=f"{proj}_split"),
                  n("Transpose", [f"{proj}2"], [f"{proj}3"], perm=[0, 2, 1, 3] if proj != "k" else [0, 2, 3, 1],
                    name=f"{proj}_transpose")]
    nodes += [n("MatMul", ["q3", "k3"], ["scores"], name="scores"),
              n("Div", ["scores", "scale"], ["scaled"], name="scale"),
              n("Softmax", ["scaled"], ["probs"], axis=-1, name="softmax"),
              n("MatMul", ["probs", "v3"], ["ctx"], name="context"),
              n("Transpose", ["ctx"], ["ctx_t"], perm=[0, 2, 1, 3], name="ctx_transpose"),
              n("Reshape", ["ctx_t", "merged"], ["ctx_m"], name="merge"),
              n("MatMul", ["ctx_m", "wo"], ["att"], name="out_proj"),
              n("Add", ["att", "x"], ["res1"], name="residual1"),
              n("LayerNormalization", ["res1", "g1", "be1"], ["ln1"], axis=-1, name="ln1"),
              n("MatMul", ["ln1", "w1"], ["ff1"], name="ff1"),
              n("Gelu", ["ff1"], ["act"], name="gelu"),
              n("MatMul", ["act", "w2"], ["ff2"], name="ff2"),
              n("Add", ["ff2", "ln1"], ["res2"], name="residual2"),
              n("LayerNormalization", ["res2", "g2", "be2"], ["y"], axis=-1, name="ln2")]
    inits = [weight(f"w{p}", (D, D)) for p in "qkvo"] + [weight(f"b{p}", (D,)) for p in "qkv"]
    inits += [weight("w1", (D, F)), weight("w2", (F, D)), weight("g1", (D,)), weight("be1", (D,)),
              weight("g2", (D,)), weight("be2", (D,)), weight("scale", (), value=8.0),
              i64("heads", [1, S, H, D // H]), i64("merged", [1, S, D])]
    return model(nodes, [tensor("x", (1, S, D))], [tensor("y", (1, S, D))], inits, opset=20)


def test_bert_layer_counts_by_hand():
    graph = graph_from_model(bert_layer())
    projections = 4 * S * D * D                  # q, k, v, output: 4 * 128 * 768 * 768
    attention = 2 * H * S * S * (D // H)         # scores and context: 2 * 12 * 128 * 128 * 64
    feed_forward = 2 * S * D * F                 # 2 * 128 * 768 * 3072
    assert graph.macs == projections + attention + feed_forward  # 931_135_488
    by_name = {layer.name: layer for layer in graph.layers}
    assert by_name["scores"].act_in_elems == 2 * S * D and by_name["scores"].weight_elems == 0
    assert by_name["softmax"].op_class == "softmax" and by_name["gelu"].op_class == "activation"
    assert by_name["ln1"].op_class == "norm"
    assert graph.params == 4 * D * D + 3 * D + 2 * D * F + 4 * D  # weights, biases, LayerNorm scales


@pytest.mark.parametrize("platform", ["jetson-nano", "jetson-xavier-nx", "raspberry-pi-4"])
def test_bert_layer_estimates(platform):
    est = edgeperf.estimate(graph_from_model(bert_layer()), platform)
    assert est.total_macs == 931_135_488
    assert est.total_latency_ms > 0
    gemm_share = sum(layer.share for layer in est.layers if layer.op_class == "gemm")
    layer_share = 1.0 - est.inference_overhead_ms / est.total_latency_ms   # the runtime call is no layer's
    assert gemm_share > 0.5 * layer_share  # the projections dominate the layers of a 128-token encoder block


def _quantized(tmp_path, fmt):
    ort_quant = pytest.importorskip("onnxruntime.quantization")
    b = edgeperf.zoo.NetBuilder("qcnn", (1, 3, 32, 32), weights=True, seed=1)
    x = b.relu(b.conv(b.input, 16, 3, stride=2))
    y = b.relu(b.conv(x, 16, 3, groups=16))
    z = b.flatten(b.global_avgpool(b.add(x, y)))
    import onnx

    float_path, int8_path = tmp_path / "float.onnx", tmp_path / f"int8_{fmt}.onnx"
    onnx.save(b.build([b.gemm(z, 10)]), float_path)

    class Reader(ort_quant.CalibrationDataReader):
        def __init__(self):
            rng = np.random.default_rng(0)
            self.batches = iter([{"input": rng.standard_normal((1, 3, 32, 32), np.float32)} for _ in range(4)])

        def get_next(self):
            return next(self.batches, None)

    ort_quant.quantize_static(str(float_path), str(int8_path), Reader(), quant_format=getattr(ort_quant.QuantFormat, fmt),
                              activation_type=ort_quant.QuantType.QUInt8, weight_type=ort_quant.QuantType.QInt8)
    return float_path, int8_path


@pytest.mark.parametrize("fmt", ["QDQ", "QOperator"])
def test_onnxruntime_quantized_models_are_int8_with_the_same_work(tmp_path, fmt):
    float_path, int8_path = _quantized(tmp_path, fmt)
    fp32 = edgeperf.load_model(float_path)
    int8 = edgeperf.load_model(int8_path)
    assert int8.native_precision == "int8"
    assert int8.macs == fp32.macs  # quantization changes the precision, not the work
    est = edgeperf.estimate(int8_path, "coral-edgetpu")
    assert est.precision == "int8"
    convs = [layer for layer in est.layers if layer.op_class in ("conv", "dwconv")]
    assert len(convs) == 2 and all(layer.precision == "int8" for layer in convs)
    fp32_bytes = sum(layer.bytes_ for layer in edgeperf.estimate(float_path, "jetson-nano", precision="fp32").layers
                     if layer.op_class in ("conv", "dwconv"))
    assert sum(layer.bytes_ for layer in convs) < fp32_bytes / 2
