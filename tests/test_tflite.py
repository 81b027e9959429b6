"""TFLite models load into the same IR, with hand-derived counts and int8 precision."""

from __future__ import annotations

import pytest

import edgeperf
from edgeperf import ModelError, UnknownOpError
from edgeperf.cli import main
from tests import _tflite


@pytest.fixture
def int8_cnn(tmp_path):
    path = tmp_path / "cnn.tflite"
    path.write_bytes(_tflite.small_cnn())
    return path


def test_counts_match_hand_derivation(int8_cnn):
    graph = edgeperf.load_model(int8_cnn)
    by_op = {layer.attr("tflite_op"): layer for layer in graph.layers}
    assert list(by_op) == ["CONV_2D", "DEPTHWISE_CONV_2D", "MAX_POOL_2D", "RESHAPE", "FULLY_CONNECTED", "SOFTMAX"]
    assert by_op["CONV_2D"].macs == 16 * 32 * 32 * 3 * 9             # 442_368
    assert by_op["CONV_2D"].op_class == "conv"
    assert by_op["DEPTHWISE_CONV_2D"].macs == 16 * 16 * 16 * 9       # 36_864
    assert by_op["DEPTHWISE_CONV_2D"].op_class == "dwconv"
    assert by_op["MAX_POOL_2D"].flops == 16 * 8 * 8 * 4              # 2x2 window: 4 per output
    assert by_op["FULLY_CONNECTED"].macs == 10 * 1024
    assert by_op["SOFTMAX"].flops == 5 * 10
    assert by_op["RESHAPE"].op_class == "shape"
    # weights + biases of conv (432 + 16), depthwise (144 + 16) and fc (10240 + 10)
    assert graph.params == 448 + 160 + 10_250
    assert by_op["CONV_2D"].output_shapes == ((1, 32, 32, 16),)   # the model's own NHWC layout
    assert graph.native_precision == "int8"
    assert all(layer.precision == "int8" for layer in graph.layers)


def test_estimate_on_the_edge_tpu(int8_cnn, capsys):
    est = edgeperf.estimate(int8_cnn, "coral-edgetpu")
    assert est.precision == "int8"
    assert est.total_macs == 442_368 + 36_864 + 10_240
    assert main(["estimate", str(int8_cnn), "-p", "raspberry-pi-4"]) == 0
    assert "FULLY_CONNECTED" not in capsys.readouterr().err


def test_float_model_is_fp32(tmp_path):
    path = tmp_path / "f.tflite"
    path.write_bytes(_tflite.small_cnn(_tflite.FLOAT32))
    graph = edgeperf.load_model(path)
    assert graph.native_precision == "fp32"
    assert graph.layers[0].precision is None


@pytest.mark.parametrize("keep", [0.1, 0.3, 0.6, 0.9])
def test_truncated_flatbuffer(tmp_path, keep, capsys):
    data = _tflite.small_cnn()
    path = tmp_path / "cut.tflite"
    path.write_bytes(data[:8] + data[8:int(len(data) * keep)])
    code = main(["estimate", str(path), "-p", "coral-edgetpu"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and "cut.tflite" in err


def test_garbage_with_tflite_identifier(tmp_path):
    path = tmp_path / "junk.tflite"
    path.write_bytes(b"\xff\xff\xff\x7fTFL3" + b"\x01" * 64)
    with pytest.raises(ModelError, match="junk.tflite"):
        edgeperf.load_model(path)


def test_unknown_builtin_is_refused_or_flagged(tmp_path):
    tensors = [("x", (1, 4), _tflite.FLOAT32, False), ("y", (1, 4), _tflite.FLOAT32, False)]
    data = _tflite.build(tensors, [("FLOOR_MOD", [0, 0], [1], {})], [0], [1])
    path = tmp_path / "odd.tflite"
    path.write_bytes(data)
    with pytest.raises(UnknownOpError, match="FLOOR_MOD"):
        edgeperf.load_model(path)
    graph = edgeperf.load_model(path, on_unknown="roofline")
    assert graph.layers[0].flags == ("unknown-op",)
