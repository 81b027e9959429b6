"""Broken and hostile model files: one clear line, exit code 2, the project's own exception types."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

import edgeperf
import edgeperf.zoo
from edgeperf import LimitError, ModelError, UnknownOpError
from edgeperf.cli import main
from tests._models import model, single, tensor


def run_cli(args, capsys):
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_line_error(code, err, *fragments):
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def save(tmp_path, proto, name="m.onnx"):
    path = tmp_path / name
    path.write_bytes(proto.SerializeToString())
    return path


def conv_model(**kwargs):
    return single("Conv", [(1, 3, 8, 8)], (1, 4, 8, 8), weights=[("w", (4, 3, 3, 3))],
                  attrs=dict(pads=[1, 1, 1, 1]), **kwargs)


def test_missing_file(tmp_path, capsys):
    code, _, err = run_cli(["estimate", str(tmp_path / "nope.onnx"), "-p", "jetson-nano"], capsys)
    assert_one_line_error(code, err, "nope.onnx", "no such file")


def test_directory(tmp_path, capsys):
    code, _, err = run_cli(["estimate", str(tmp_path), "-p", "jetson-nano"], capsys)
    assert_one_line_error(code, err, "is a directory")


def test_empty_file(tmp_path, capsys):
    path = tmp_path / "empty.onnx"
    path.write_bytes(b"")
    code, _, err = run_cli(["estimate", str(path), "-p", "jetson-nano"], capsys)
    assert_one_line_error(code, err, "empty")


@pytest.mark.parametrize("seed", range(5))
def test_random_bytes(tmp_path, seed, capsys):
    path = tmp_path / "random.onnx"
    path.write_bytes(np.random.default_rng(seed).bytes(4096))
    code, _, err = run_cli(["estimate", str(path), "-p", "jetson-nano"], capsys)
    assert_one_line_error(code, err, "random.onnx")


def test_text_file_is_not_a_model(tmp_path, capsys):
    path = tmp_path / "notes.onnx"
    path.write_text("this is a text file, not a model\n")
    code, _, err = run_cli(["estimate", str(path), "-p", "jetson-nano"], capsys)
    assert_one_line_error(code, err, "notes.onnx")


@pytest.mark.parametrize("keep", [0.25, 0.5, 0.9, 0.99])
def test_truncated_model(tmp_path, keep, capsys):
    full = edgeperf.zoo.build_model("resnet18", weights=False).SerializeToString()
    path = tmp_path / "cut.onnx"
    path.write_bytes(full[: int(len(full) * keep)])
    code, _, err = run_cli(["estimate", str(path), "-p", "jetson-nano"], capsys)
    assert_one_line_error(code, err, "cut.onnx")


def test_cycle(tmp_path):
    nodes = [helper.make_node("Relu", ["x", ], ["a"], name="r0"),
             helper.make_node("Add", ["a", "c"], ["b"], name="add"),
             helper.make_node("Relu", ["b"], ["c"], name="r1")]
    proto = model(nodes, [tensor("x", (1, 4))], [tensor("c", (1, 4))])
    with pytest.raises(ModelError, match="cycle"):
        edgeperf.load_model(save(tmp_path, proto))


def test_self_loop(tmp_path):
    nodes = [helper.make_node("Add", ["x", "y"], ["y"], name="loop")]
    proto = model(nodes, [tensor("x", (1, 4))], [tensor("y", (1, 4))])
    with pytest.raises(ModelError, match="cycle"):
        edgeperf.load_model(save(tmp_path, proto))


def test_dangling_tensor(tmp_path):
    nodes = [helper.make_node("Add", ["x", "ghost"], ["y"], name="add")]
    proto = model(nodes, [tensor("x", (1, 4))], [tensor("y", (1, 4))])
    with pytest.raises(ModelError, match="ghost"):
        edgeperf.load_model(save(tmp_path, proto))


def test_duplicate_tensor_names(tmp_path):
    nodes = [helper.make_node("Relu", ["x"], ["y"], name="a"), helper.make_node("Sigmoid", ["x"], ["y"], name="b")]
    proto = model(nodes, [tensor("x", (1, 4))], [tensor("y", (1, 4))])
    with pytest.raises(ModelError, match="produced by two nodes"):
        edgeperf.load_model(save(tmp_path, proto))


def test_absurd_channel_count(tmp_path, capsys):
    proto = single("Conv", [(1, 3, 8, 8)], (1, 10**12, 8, 8), weights=[("w", (10**12, 3, 3, 3))],
                   attrs=dict(pads=[1, 1, 1, 1]))
    path = save(tmp_path, proto)
    with pytest.raises(LimitError, match="elements"):
        edgeperf.load_model(path)
    code, _, err = run_cli(["estimate", str(path), "-p", "jetson-nano"], capsys)
    assert_one_line_error(code, err, "limit")


def test_zero_dimension_input(tmp_path):
    proto = single("Relu", [(1, 0, 8)], (1, 0, 8))
    with pytest.raises(edgeperf.InputError, match="dynamic or unknown"):
        edgeperf.load_model(save(tmp_path, proto))


def test_kernel_larger_than_input(tmp_path):
    proto = single("MaxPool", [(1, 3, 8, 8)], None, attrs=dict(kernel_shape=[20, 20]))
    with pytest.raises(ModelError, match="empty or negative"):
        edgeperf.load_model(save(tmp_path, proto))


def test_weight_dims_contradict_data(tmp_path):
    proto = conv_model()
    proto.graph.initializer[0].raw_data = np.zeros(7, np.float32).tobytes()  # 108 elements declared
    with pytest.raises(ModelError, match="declares dims"):
        edgeperf.load_model(save(tmp_path, proto))


def test_opset_newer_than_supported(tmp_path, capsys):
    proto = conv_model(opset=onnx.defs.onnx_opset_version() + 5)
    code, _, err = run_cli(["estimate", str(save(tmp_path, proto)), "-p", "jetson-nano"], capsys)
    assert_one_line_error(code, err, "opset", "newer")


def test_unknown_domain_lists_known_ops(tmp_path, capsys):
    proto = single("Frobnicate", [(1, 4, 8, 8)], (1, 4, 8, 8), domain="com.example")
    path = save(tmp_path, proto)
    with pytest.raises(UnknownOpError) as info:
        edgeperf.load_model(path)
    assert info.value.op_types == ("com.example:Frobnicate",)
    assert "Conv" in info.value.known
    code, _, err = run_cli(["estimate", str(path), "-p", "jetson-nano"], capsys)
    assert_one_line_error(code, err, "com.example:Frobnicate", "Conv", "--on-unknown roofline")


def test_unknown_op_with_roofline_fallback_is_flagged(tmp_path, capsys):
    nodes = [helper.make_node("Frobnicate", ["x"], ["a"], name="frob", domain="com.example"),
             helper.make_node("Relu", ["a"], ["y"], name="relu")]
    proto = model(nodes, [tensor("x", (1, 4, 8, 8))], [tensor("y", None)], extra_opsets=[("com.example", 1)])
    path = save(tmp_path, proto)
    code, out, err = run_cli(["estimate", str(path), "-p", "jetson-nano", "--on-unknown", "roofline",
                              "-f", "json"], capsys)
    assert code == 0, err
    import json

    doc = json.loads(out)
    frob = next(layer for layer in doc["layers"] if layer["name"] == "frob")
    assert frob["flags"] == ["unknown-op"] and frob["op_class"] == "unknown"
    assert frob["latency_ms"] > 0
    assert any("unknown operators" in note for note in doc["notes"])


def test_dynamic_input_needs_input_shape(tmp_path, capsys):
    proto = single("Relu", [("N", 3, 224, 224)], ("N", 3, 224, 224))
    path = save(tmp_path, proto)
    code, _, err = run_cli(["estimate", str(path), "-p", "jetson-nano"], capsys)
    assert_one_line_error(code, err, "'x0'", "--input-shape x0=")
    code, out, err = run_cli(["estimate", str(path), "-p", "jetson-nano", "--input-shape", "x0=2x3x224x224",
                              "-f", "json"], capsys)
    assert code == 0, err
    assert '"output_shape": [\n        2,' in out


@pytest.mark.parametrize("text", ["x0", "x0=", "x0=1x0x3", "x0=axb", "=1x2"])
def test_malformed_input_shape(tmp_path, text, capsys):
    path = save(tmp_path, single("Relu", [("N", 3)], ("N", 3)))
    code, _, err = run_cli(["estimate", str(path), "-p", "jetson-nano", "--input-shape", text], capsys)
    assert_one_line_error(code, err, "NAME=DxDx")


def test_input_shape_for_unknown_input(tmp_path, capsys):
    path = save(tmp_path, single("Relu", [("N", 3)], ("N", 3)))
    code, _, err = run_cli(["estimate", str(path), "-p", "jetson-nano", "--input-shape", "image=1x3"], capsys)
    assert_one_line_error(code, err, "'image'", "x0")


@pytest.mark.parametrize("location", ["../../etc/passwd", "/etc/passwd", "sub/../../outside.bin"])
def test_external_data_outside_model_folder_is_refused(tmp_path, location):
    proto = conv_model()
    init = proto.graph.initializer[0]
    init.data_location = TensorProto.EXTERNAL
    entry = init.external_data.add()
    entry.key, entry.value = "location", location
    with pytest.raises(ModelError, match="outside the model's folder"):
        edgeperf.load_model(save(tmp_path, proto))


def test_external_data_inside_folder_is_never_read(tmp_path):
    proto = conv_model()
    init = proto.graph.initializer[0]
    init.data_location = TensorProto.EXTERNAL
    for key, value in (("location", "weights.bin"), ("length", "432")):
        entry = init.external_data.add()
        entry.key, entry.value = key, value
    # the weights file does not even exist: edgeperf needs only the dims
    graph = edgeperf.load_model(save(tmp_path, proto))
    assert graph.layers[0].macs == 4 * 8 * 8 * 3 * 9


def test_unknown_platform(capsys):
    code, _, err = run_cli(["estimate", "examples/conv3dense1.onnx", "-p", "jetson-nanoo"], capsys)
    assert_one_line_error(code, err, "unknown platform 'jetson-nanoo'", "jetson-nano")


def test_precision_the_platform_lacks(capsys):
    code, _, err = run_cli(["estimate", "examples/conv3dense1.onnx", "-p", "coral-edgetpu", "--precision", "fp32"],
                           capsys)
    assert_one_line_error(code, err, "does not run precision 'fp32'", "int8")


@pytest.mark.parametrize("args,fragment", [
    (["--freq", "gpu=2000"], "outside the range"),
    (["--freq", "gpu=10"], "outside the range"),
    (["--freq", "dsp=700"], "no clock domain 'dsp'"),
    (["--freq", "gpu"], "DOMAIN=MHZ"),
    (["--power-mode", "turbo"], "no power mode 'turbo'"),
    (["--power-mode", "5W", "--freq", "gpu=921.6"], "exceeds"),
])
def test_bad_operating_point(args, fragment, capsys):
    code, _, err = run_cli(["estimate", "examples/conv3dense1.onnx", "-p", "jetson-nano", *args], capsys)
    assert_one_line_error(code, err, fragment)


def test_cli_process_exit_code_and_no_traceback(tmp_path):
    path = tmp_path / "junk.onnx"
    path.write_bytes(b"\x08\x07garbage" * 100)
    result = subprocess.run([sys.executable, "-m", "edgeperf.cli", "estimate", str(path), "-p", "jetson-nano"],
                            capture_output=True, text=True, env={**os.environ, "EDGEPERF_DEBUG": ""})
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_weights_are_not_read(tmp_path):
    """A model whose weight payload is 64 MB loads with far less memory than the file."""
    import tracemalloc

    b = edgeperf.zoo.NetBuilder("big", (1, 256, 8, 8), weights=False)
    y = b.conv(b.input, 4096, 4, pad=0)  # 4096*256*16 = 16.8 M floats = 64 MiB
    proto = b.build([y])
    proto.graph.initializer[0].raw_data = bytes(4096 * 256 * 16 * 4)
    path = save(tmp_path, proto)
    size = path.stat().st_size
    tracemalloc.start()
    graph = edgeperf.load_model(path)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert graph.params >= 4096 * 256 * 16
    assert peak < size / 20, (peak, size)


def test_library_call_does_not_modify_the_callers_model():
    from edgeperf.estimator import graph_from_model

    proto = single("Relu", [("N", 3)], ("N", 3))
    before = proto.SerializeToString()
    graph = graph_from_model(proto, input_shapes={"x0": (5, 3)})
    assert graph.layers[0].output_shapes == ((5, 3),)
    assert proto.SerializeToString() == before
