"""The accuracy catalog and the zoo commands."""

from __future__ import annotations

import json
import os
import stat

import numpy as np
import pytest

from edgeperf import InputError, ModelError
from edgeperf.cli import main
from edgeperf.zoo import load_catalog


def test_shipped_entries_cite_defined_sources():
    catalog = load_catalog()
    for name in catalog.names():
        entry = catalog.models[name]
        assert entry["source"] in catalog.sources
        if "int8" in entry:
            assert entry["int8"]["source"] in catalog.sources


def test_measured_and_default_quantization_deltas():
    catalog = load_catalog()
    # torchvision's quantized ResNet-50: 76.130 -> 75.920
    assert catalog.accuracy("resnet50", "int8").value == pytest.approx(75.920)
    # no measured int8 figure: -0.3 pp for a standard CNN, -1.0 pp for a depthwise network
    assert catalog.accuracy("resnet34", "int8").delta == -0.3
    assert catalog.accuracy("mobilenet_v3_small", "int8").delta == -1.0
    assert catalog.accuracy("vgg16", "fp16").value == catalog.accuracy("vgg16").value
    assert catalog.accuracy("my_detector") is None
    with pytest.raises(InputError, match="int4"):
        catalog.accuracy("resnet50", "int4")


def test_user_catalog_adds_and_overrides(tmp_path):
    mine = {"schema_version": 1, "sources": {"lab": "our validation run, 2026-11"},
            "models": {"my_detector": {"metric": "map50", "value": 91.2, "dataset": "traffic lights", "source": "lab",
                                       "int8": {"delta": -2.5, "source": "lab"}},
                       "resnet50": {"metric": "top1", "value": 80.858, "dataset": "ImageNet", "source": "lab"}}}
    path = tmp_path / "mine.json"
    path.write_text(json.dumps(mine))
    catalog = load_catalog(path)
    assert catalog.accuracy("my_detector", "int8").value == pytest.approx(88.7)
    assert catalog.accuracy("resnet50").value == 80.858
    assert catalog.accuracy("resnet18").value == 69.758  # shipped entries remain


@pytest.mark.parametrize("document,fragment", [
    ({"schema_version": 2}, "schema_version 1"),
    ({"schema_version": 1, "models": {"m": {"metric": "top1", "value": float("nan"), "dataset": "x", "source": "s"}}},
     "NaN is not allowed"),
    ({"schema_version": 1, "models": {"m": {"metric": "top1", "value": 140, "dataset": "x", "source": "s"}}}, "between 0 and 100"),
    ({"schema_version": 1, "models": {"m": {"metric": "top1", "value": 1, "dataset": "x"}}}, "source"),
    ({"schema_version": 1, "models": {"m": {"metric": "top1", "value": 1, "dataset": "x", "source": "s",
                                            "int8": {"delta": "big"}}}}, "delta"),
])
def test_bad_catalogs(tmp_path, document, fragment, capsys):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(document))
    with pytest.raises(InputError, match=fragment):
        load_catalog(path)
    assert main(["zoo", "list", "--catalog", str(path)]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_zoo_list_json(capsys):
    assert main(["zoo", "list", "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    rows = {row["name"]: row for row in document["networks"]}
    assert rows["resnet50"]["params"] == 25_557_032 and rows["resnet50"]["macs"] == 4_089_184_256
    assert rows["resnet50"]["accuracy"]["value"] == 76.13
    assert rows["inception_v3"]["input"] == "3x299x299"
    assert set(document["spaces"]) == {"nb201", "nb201-eager", "nb201-latbench", "fbnet"}


def test_zoo_export_runs_in_onnxruntime(tmp_path, capsys):
    ort = pytest.importorskip("onnxruntime")
    target = tmp_path / "m.onnx"
    assert main(["zoo", "export", "zoo:mobilenet_v3_small", "-o", str(target), "--input-size", "96x96",
                 "--num-classes", "7"]) == 0
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o666 & ~_umask()
    out = ort.InferenceSession(str(target)).run(None, {"input": np.zeros((1, 3, 96, 96), np.float32)})[0]
    assert out.shape == (1, 7)
    assert [p.name for p in tmp_path.iterdir()] == ["m.onnx"]
    member = tmp_path / "cell.onnx"
    assert main(["zoo", "export", "nb201:|nor_conv_3x3~0|+|none~0|skip_connect~1|+|avg_pool_3x3~0|none~1|"
                 "nor_conv_1x1~2|", "-o", str(member)]) == 0
    assert ort.InferenceSession(str(member)).run(None, {"input": np.zeros((1, 3, 32, 32), np.float32)})[0].shape == (1, 10)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@pytest.mark.parametrize("args,fragment", [
    (["zoo", "export", "resnet5", "-o", "x.onnx"], "no network 'resnet5'"),
    (["zoo", "export", "cifarnet", "-o", "x.onnx", "--input-size", "64x64"], "fixed input"),
    (["zoo", "export", "resnet18", "-o", "x.onnx", "--input-size", "ax3"], "HxW"),
])
def test_zoo_export_bad_input(args, fragment, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(args) == 2
    err = capsys.readouterr().err
    assert fragment in err and len(err.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []  # nothing half-written


def test_estimate_zoo_reference_with_resolution(capsys):
    assert main(["estimate", "zoo:resnet18", "-p", "jetson-nano", "--input-shape", "input=2x3x160x160", "-f", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    # MACs scale with the pixel count and the batch: 1.814 G x (160/224)^2 x 2, up to rounding of feature maps
    assert document["total_macs"] == pytest.approx(1_814_073_344 * (160 / 224) ** 2 * 2, rel=0.02)


def test_width_multiplier_references(capsys):
    from edgeperf.estimator import load_model

    half, full = load_model("zoo:mobilenet_v2@0.5"), load_model("zoo:mobilenet_v2")
    assert half.macs < full.macs / 2.5  # MACs fall roughly with the square of the width
    with pytest.raises(ModelError, match="no width multiplier"):
        load_model("zoo:resnet50@0.5")
    with pytest.raises(ModelError, match=r"\(0, 4\]"):
        load_model("zoo:mobilenet_v2@wide")
    assert main(["estimate", "zoo:mobilenet_v3_large@0.75", "-p", "raspberry-pi-4", "-f", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["total_macs"] < 216_590_000
