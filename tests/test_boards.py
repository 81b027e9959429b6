"""Board profiles: the board model equals the estimator, the published table is read strictly, intervals hold.

Tests that need ``../shared/external/published_board_latency_train.csv`` skip cleanly without it.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest

import edgeperf
from edgeperf import InputError
from edgeperf.estimator import (
    ParameterMemory,
    Uncertainty,
    conformal_half_width,
    interval_basis,
    interval_of,
    map_graph,
    streamed_weight_bytes,
)
from edgeperf.fitting import (
    BLOCK_TABLES,
    FITTED,
    BoardDescription,
    BoardFeatures,
    board_features,
    board_profile,
    fit_boards,
    leave_one_network_out,
    load_samples,
    learn_prior,
    predict_ms,
    read_block_table,
    read_published_table,
    runtime_profile,
)
from edgeperf.profiles import Citation, Provenance, load_profile, parse_profile

TABLE = Path(__file__).resolve().parents[2] / "shared" / "external" / "published_board_latency_train.csv"
needs_table = pytest.mark.skipif(not TABLE.is_file(), reason="../shared/external is absent")

PARAMS = dict(compute_efficiency=0.4, depthwise_ratio=0.1, memory_efficiency=0.6, layer_overhead_ms=0.02,
              winograd_scale=0.45, int8_ratio=1.3, inference_overhead_ms=1.1, stream_efficiency=0.8)


def base(name: str):
    return load_profile(name)


def built(name: str, runtime: str, *, link_gbps=None, int8_ratio=None):
    """A board profile made by the fit's own writer from known coefficients, written out and read back."""
    memory = None if link_gbps is None else (
        ParameterMemory(on_chip_bytes=8e6, stream_gbps=link_gbps * PARAMS["stream_efficiency"]),
        {("parameter_memory", "on_chip_bytes"): Citation(source="edgetpu-fusion"),
         ("parameter_memory", "stream_gbps"): Citation(source="edgetpu-fusion")})
    about = BoardDescription(name=f"{name}-test", runtime=runtime, kind="fitted", key="test-fit",
                             source_text="test coefficients", quality="test", provenance=Provenance(),
                             uncertainty=Uncertainty(coverage=0.9, half_width=0.3, residuals=20, method="test"),
                             coefficient_note="t", extra_sources={"interval-widening": "test assumptions"})
    profile = board_profile(base(name), PARAMS, about, int8_ratio=int8_ratio, parameter_memory=memory)
    document = profile.to_document()
    # the board model is the estimator without an operating model (which adds CPU-side work and GPU occupancy)
    document.pop("operating_model", None)
    return parse_profile(document)


@pytest.mark.parametrize("name,runtime,model,precision,link", [
    ("jetson-nano", "tensorrt", "zoo:resnet18", "fp16", None),           # Winograd 3x3 convolutions
    ("jetson-nano", "tensorrt", "zoo:mobilenet_v2", "fp16", None),       # depthwise
    ("raspberry-pi-4", "tflite", "zoo:mobilenet_v3_small", "int8", None),  # int8 at the effective int8 peak
    ("coral-usb", "edgetpu", "zoo:vgg16", "int8", 0.625),                # parameters streamed over USB
    ("raspberry-pi-4-ncnn", "ncnn", "zoo:resnet18", "fp32", None),       # ncnn's Winograd: 6x6 tiles, its fixed rule
])
def test_board_model_equals_the_estimator_with_the_profile_it_writes(name, runtime, model, precision, link):
    profile = built(name, runtime, link_gbps=link, int8_ratio=PARAMS["int8_ratio"] if precision == "int8" else None)
    features_profile = runtime_profile(base(name), runtime)
    graph = edgeperf.load_model(model)
    features = board_features(map_graph(graph, features_profile.mapping), features_profile, precision)
    predicted = predict_ms(PARAMS, features, on_chip_bytes=8e6 if link else None, link_gbps=link)
    assert edgeperf.estimate(graph, profile, precision=precision).total_latency_ms == pytest.approx(predicted, rel=1e-9)


def two_layers() -> BoardFeatures:
    """A Winograd convolution (2e9 flops, 1 MB moved, 2 MB of weights) and a depthwise one (1e8, 1 kB, 1 MB)."""
    return BoardFeatures(flops=np.array([2e9, 1e8]), winograd=np.array([1.0, 0.0]),
                         depthwise=np.array([False, True]), int8=np.array([False, False]),
                         peak_per_ms=np.array([1e9, 1e9]), bytes_=np.array([1e6, 1e3]),
                         weight_bytes=np.array([2e6, 1e6]), bytes_per_ms=1e7, op_classes=("conv", "dwconv"))


def test_predict_ms_by_hand():
    # two layers: a Winograd conv (2e9 flops x 0.5 / (1e9 x 0.5) = 2 ms; memory 1e6 / 1e7 = 0.1 ms) and a
    # depthwise one (1e8 / (1e9 x 0.5 x 0.1) = 2 ms); overheads 2 x 0.1 + 1 ms; the first layer's 2 MB of weights
    # do not fit the 1 MB on chip, so caching stops there and all 3 MB stream at 1 GB/s x 0.5: 6 ms.
    # Compute and memory added (COMBINE): the second layer's memory 1e3 / 1e7 = 1e-4 ms.
    # Total 2 + 0.1 + 2 + 1e-4 + 0.2 + 1 + 6 = 11.3001 ms; the roofline (max) drops both memory times: 11.2 ms
    features = two_layers()
    params = dict(compute_efficiency=0.5, depthwise_ratio=0.1, memory_efficiency=1.0, layer_overhead_ms=0.1,
                  winograd_scale=0.5, inference_overhead_ms=1.0, stream_efficiency=0.5)
    assert predict_ms(params, features, on_chip_bytes=1e6, link_gbps=1.0) == pytest.approx(11.3001)
    assert predict_ms(params, features, on_chip_bytes=1e6, link_gbps=1.0, combine="max") == pytest.approx(11.2)


def test_a_block_table_runs_at_its_own_runtime_factor_and_harness_overhead():
    # the same two layers as above without streaming: layer sum 2.1 + 2.0001 + 0.2 = 4.3001 ms; a block table whose
    # runtime is twice as slow (runtime_factor 2) with a 0.3 ms harness: 2 x 4.3001 + 0.3 = 8.9002 ms
    features = two_layers()
    params = dict(compute_efficiency=0.5, depthwise_ratio=0.1, memory_efficiency=1.0, layer_overhead_ms=0.1,
                  winograd_scale=0.5, inference_overhead_ms=0.3, runtime_factor=2.0)
    assert predict_ms(params, features) == pytest.approx(8.9002)


def test_block_table_rows_by_hand(tmp_path):
    path = tmp_path / "lut.csv"
    path.write_text("key,block_type,H,W,Cin,Cout,exp,kernel,stride,group,edgegpu_latency,raspi4_latency\n"
                    "ConvBlock_H14_W14_Cin64_Cout112_exp1_kernel3_stride1_group1,ConvBlock,14,14,64,112,1,3,1,1,0.54,0.61\n"
                    "Skip_H14_W14_Cin112_Cout112_stride1,Skip,14,14,112,112,,,1,,0.0,0.0178\n"
                    "Skip_H14_W14_Cin64_Cout112_stride1,Skip,14,14,64,112,,,1,,0.45,0.25\n")
    raspi4 = next(t for t in BLOCK_TABLES if t.column == "raspi4_latency")
    rows = read_block_table(path, raspi4)
    # the identity skip runs no operator and is left out; the 64->112 skip is a 1x1 convolution
    assert [(r.network.split("_")[0], r.latency_ms, r.block, r.input_shapes) for r in rows] == [
        ("ConvBlock", 0.61, True, None), ("Skip", 0.25, True, None)]
    assert rows[0].profile == "hwnasbench-raspi4" and rows[0].model.startswith("zoo:fbnet-block:ConvBlock_H14")
    bad = tmp_path / "bad.csv"
    bad.write_text("key,block_type,Cin,Cout,stride,raspi4_latency\nX,ConvBlock,1,1,1,fast\n")
    with pytest.raises(InputError, match="raspi4_latency .fast. is not a number"):
        read_block_table(bad, raspi4)


def test_weights_beyond_on_chip_memory_stream_in_order():
    # cached whole, in order, until one does not fit: 3 + 4 MB fit in 8 MB, the 2 MB layer does not
    assert streamed_weight_bytes(np.array([3e6, 4e6, 2e6, 0.5e6]), 8e6).tolist() == [0.0, 0.0, 2e6, 0.5e6]


def test_edge_tpu_streams_vgg_weights_and_says_so():
    vgg = edgeperf.estimate("zoo:vgg19", "coral-usb")
    googlenet = edgeperf.estimate("zoo:googlenet", "coral-usb")
    streamed = [layer for layer in vgg.layers if "streams-weights" in layer.flags]
    assert streamed and any("on-chip parameter memory" in note for note in vgg.notes)
    assert not any("streams-weights" in layer.flags for layer in googlenet.layers)
    profile = load_profile("coral-usb")
    # VGG-19's 143.7 M int8 parameters: at least 135 MB stream at the profile's link rate
    assert sum(layer.overhead_ms for layer in streamed) > 135e6 / (profile.parameter_memory.stream_gbps * 1e6)


def test_conformal_half_width_by_hand():
    residuals = [0.1, -0.2, 0.05, 0.3, -0.15, 0.02, 0.08, -0.12, 0.25]
    # n = 9, coverage 0.8: rank ceil(10 x 0.8) = 8 of the sorted |r| (.02 .05 .08 .1 .12 .15 .2 .25 .3) = 0.25
    assert conformal_half_width(residuals, 0.8) == pytest.approx(0.25)
    with pytest.raises(ValueError, match="cannot give a 90% conformal interval"):
        conformal_half_width(residuals[:5], 0.9)


def test_interval_widens_outside_the_fit():
    u = Uncertainty(coverage=0.9, half_width=0.2, residuals=41, method="t", fitted_precisions=("fp16",),
                    fitted_input_hw=(224, 299), fitted_classes=("conv", "pool"), size_slope=0.5, unseen_factor=2.5)
    seen = np.array(["conv", "pool"])

    def interval(precision, input_hw, classes=seen, unseen_ms=0.0):
        return interval_of(interval_basis(u, precision=precision, input_hw=input_hw, op_class=classes), 10.0, unseen_ms)

    inside = interval("fp16", 224)
    assert (inside.low_ms, inside.high_ms) == pytest.approx((10 * math.exp(-0.2), 10 * math.exp(0.2)))
    assert not inside.notes
    assert interval("fp32", 224).high_ms == pytest.approx(10 * math.exp(0.2) * 2.5)
    assert interval("fp16", 32).high_ms == pytest.approx(10 * math.exp(0.2 + 0.5 * math.log(224 / 32)))
    # 4 of 10 ms in an unseen class: high x (1 + 0.4 x 1.5), low x (1 - 0.4 x 0.6)
    unseen = interval("fp16", 224, np.array(["conv", "resize"]), 4.0)
    assert unseen.high_ms == pytest.approx(10 * math.exp(0.2) * 1.6)
    assert unseen.low_ms == pytest.approx(10 * math.exp(-0.2) * 0.76)
    assert "resize" in unseen.notes[0]


@pytest.mark.parametrize("name", [spec.profile for spec in FITTED] + ["jetson-xavier-nx", "intel-ncs2",
                                                                      "raspberry-pi-4-armnn", "raspberry-pi-3bplus"])
def test_every_board_profile_gives_an_interval_in_json(name):
    est = edgeperf.estimate("zoo:resnet18", name)
    doc = est.to_dict()
    assert doc["total_latency_ms_low"] < doc["total_latency_ms"] < doc["total_latency_ms_high"]
    assert doc["interval_coverage"] == 0.9


def test_derived_profiles_say_so_and_are_less_sure_than_fitted_ones():
    fitted, derived = load_profile("jetson-tx2"), load_profile("jetson-xavier-nx")
    assert derived.kind == "derived" and derived.quality.startswith("Derived, not fitted")
    assert derived.uncertainty.half_width > fitted.uncertainty.half_width


def test_estimate_table_prints_the_interval(capsys):
    from edgeperf.cli import main

    assert main(["estimate", "zoo:mobilenet_v2", "-p", "raspberry-pi-4"]) == 0
    assert "90 % interval" in capsys.readouterr().out


def write_table(tmp_path, **change) -> Path:
    row = {"board": "Jetson Nano 4GB", "runtime": "TensorRT via torch2trt", "precision": "fp16",
           "network": "torchvision.models.resnet18", "input": "224", "batch": "1", "latency_ms": "11.4",
           "source": "s", "note": "n"}
    row.update(change)
    path = tmp_path / "table.csv"
    path.write_text(",".join(row) + "\n" + ",".join(row.values()) + "\n")
    return path


@pytest.mark.parametrize("change,fragment", [
    ({"network": "mystery_net"}, "network 'mystery_net' has no zoo equivalent"),
    ({"batch": "8"}, "batch '8'; board profiles are fitted at batch 1"),
    ({"board": "Abacus"}, "no board profile for board 'Abacus'"),
    ({"latency_ms": "-3"}, "latency_ms must be > 0"),
    ({"latency_ms": "fast"}, "latency_ms 'fast' is not a number"),
    ({"input": "5000"}, "input must be in [8, 4096]"),
])
def test_published_table_refuses_what_it_cannot_model(tmp_path, change, fragment):
    with pytest.raises(InputError, match=re.escape(fragment)):
        read_published_table(write_table(tmp_path, **change))


def test_published_table_row_by_hand(tmp_path):
    (row,) = read_published_table(write_table(tmp_path))
    assert (row.profile, row.model, row.input_hw, row.latency_ms) == ("jetson-nano", "zoo:resnet18", 224, 11.4)


@needs_table
def test_every_published_row_is_estimable_with_its_profile():
    rows = read_published_table(TABLE)
    assert len(rows) == 41
    for row in rows:
        est = edgeperf.estimate(row.model, row.profile, precision=row.precision, input_shapes=row.input_shapes)
        assert est.precision == row.precision and est.total_latency_ms > 0, row.network
    assert sum(row.precision == "int8" and row.profile == "raspberry-pi-4" for row in rows) == 3


@needs_table
def test_shipped_board_profiles_are_within_the_targets_on_the_table():
    """Each fitted profile reproduces the published table within 15 % median (in-sample: the held-out check is the benchmark)."""
    for row_profile in {spec.profile for spec in FITTED}:
        rows = [r for r in read_published_table(TABLE) if r.profile == row_profile]
        errors = [edgeperf.estimate(r.model, r.profile, precision=r.precision, input_shapes=r.input_shapes)
                  .total_latency_ms / r.latency_ms - 1 for r in rows]
        assert np.median(np.abs(errors)) <= 0.15, (row_profile, errors)


@needs_table
def test_block_tables_inform_their_chip_but_are_never_held_out_nor_pooled_into_the_prior():
    rows = read_published_table(TABLE)
    tx2 = tuple(r for r in rows if r.profile == "jetson-tx2")
    pi4 = tuple(r for r in rows if r.profile == "raspberry-pi-4")[:3]
    lut = TABLE.with_name("hwnasbench_fbnet_block_lut.csv")
    blocks = tuple(r for table in BLOCK_TABLES for r in read_block_table(lut, table)[::25])
    units = load_samples(tx2 + pi4 + blocks, {name: base(name) for name in ("jetson-tx2", "raspberry-pi-4")})
    assert {s.spec.profile for s in units["jetson-tx2"]} == {"jetson-tx2", "hwnasbench-edgegpu"}
    held = leave_one_network_out(units, 4.0)
    assert sorted(h.row.network for h in held) == sorted(r.network for r in tx2 + pi4)   # no block is held out
    # two chips, each with a block table: were the tables' runtime factors pooled, the prior would move off 1
    # (log 0) and the published boards would run at it
    assert learn_prior(units, 4.0)["runtime_factor"] == 0.0


@needs_table
@pytest.mark.slow
def test_leave_one_network_out_meets_the_median_target_per_board():
    fit = fit_boards(read_published_table(TABLE), {spec.profile: base(spec.profile) for spec in FITTED},
                     strengths=(4.0,), strict=False)
    for profile in {h.row.profile for h in fit.held_out}:
        errors = [abs(h.error) for h in fit.held_out if h.row.profile == profile]
        assert np.median(errors) <= 0.15, profile
