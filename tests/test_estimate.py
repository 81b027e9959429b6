"""Estimates: hand-computed cases from profile numbers, and properties that must hold for any input."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import helper

import edgeperf
import edgeperf.zoo
from edgeperf.estimator import graph_from_model
from edgeperf.profiles import list_profiles, load_profile
from tests._models import model, single, tensor, weight
from tests._profiles import datasheet


def conv(c_in=16, c_out=32, hw=28, k=3):
    return graph_from_model(single("Conv", [(1, c_in, hw, hw)], (1, c_out, hw, hw), weights=[("w", (c_out, c_in, k, k))],
                                   attrs=dict(pads=[k // 2] * 4)), name=f"conv{c_in}x{c_out}")


def unfused(edited_profile, name: str):
    """A shipped profile with its fusion rules removed, and every operator run where it is asked (no fallback:
    a layer falling back to the host pays link transfers that depend on its neighbours, see test_deployability)."""
    def edit(document):
        document["mapping"].update(rules=[])
        document.pop("runtime_support", None)

    return edited_profile(name, edit, where=f"{name}-unfused")


def test_single_conv_on_jetson_nano_by_hand():
    est = edgeperf.estimate(conv(), datasheet("jetson-nano"), precision="fp16")
    layer = est.layers[0]
    macs = 32 * 28 * 28 * 16 * 9                        # 3_612_672
    flops = 2 * macs                                    # no bias
    elements = 16 * 28 * 28 + 32 * 16 * 9 + 32 * 28 * 28  # in + weights + out = 42_240
    compute_ms = flops / (472.0 * 1e6)                  # fp16 peak 472 GFLOP/s = 472e6 flop/ms
    memory_ms = elements * 2 / (25.6 * 1e6)             # 2 bytes each at 25.6 GB/s
    assert layer.macs == macs
    assert layer.bytes_ == elements * 2
    assert layer.compute_ms == pytest.approx(compute_ms)
    assert layer.memory_ms == pytest.approx(memory_ms)
    assert layer.latency_ms == pytest.approx(max(compute_ms, memory_ms))
    assert layer.bound == "compute"
    # energy: (idle 1250 mW + active 3330 mW) x latency; mW x ms / 1000 = mJ
    assert layer.energy_mj == pytest.approx((1250 + 3330) * layer.latency_ms / 1000)
    assert est.total_energy_mj == pytest.approx(layer.energy_mj)
    assert est.energy_calibrated is False


def test_gpu_clock_and_power_mode_scale_compute_by_hand():
    base = edgeperf.estimate(conv(), "jetson-nano", precision="fp16")
    slow = edgeperf.estimate(conv(), "jetson-nano", precision="fp16", freq_mhz={"gpu": 460.8})
    assert slow.layers[0].compute_ms == pytest.approx(base.layers[0].compute_ms * 921.6 / 460.8)
    assert slow.layers[0].memory_ms == pytest.approx(base.layers[0].memory_ms)  # EMC unchanged
    five = edgeperf.estimate(conv(), "jetson-nano", precision="fp16", power_mode="5W")
    # the 5W mode caps the GPU at 640 MHz: the highest step at or below is 614.4 MHz
    assert five.operating_point.freq_mhz["gpu"] == 614.4
    assert five.operating_point.freq_mhz["cpu"] == 918.0
    assert five.layers[0].compute_ms == pytest.approx(base.layers[0].compute_ms * 921.6 / 614.4)
    # without voltages the dynamic power scales with f: active 3330 mW x 614.4/921.6
    assert five.layers[0].power_mw == pytest.approx(1250 + 3330 * 614.4 / 921.6)


def test_default_precision_and_its_note():
    est = edgeperf.estimate(conv(), "jetson-nano")
    assert est.precision == "fp16"
    assert any("default deployment precision" in note for note in est.notes)
    assert edgeperf.estimate(conv(), "jetson-nano", precision="fp32").precision == "fp32"


def test_json_contract_keys():
    document = edgeperf.estimate("zoo:mobilenet_v2", "raspberry-pi-4").to_dict()
    for key in ("total_latency_ms", "total_energy_mj", "total_macs", "platform", "precision", "layers"):
        assert key in document
    for layer in document["layers"]:
        for key in ("name", "op_type", "macs", "latency_ms", "energy_mj"):
            assert key in layer
    assert document["total_macs"] == 300_774_272
    assert document["total_latency_ms"] == pytest.approx(sum(layer["latency_ms"] for layer in document["layers"])
                                                         + document["inference_overhead_ms"])
    assert document["total_latency_ms_low"] < document["total_latency_ms"] < document["total_latency_ms_high"]
    json.dumps(document)  # serialisable


@pytest.mark.parametrize("platform", list_profiles())
@given(c_in=st.integers(1, 256), c_out=st.integers(1, 256), extra=st.integers(1, 256), hw=st.integers(1, 64))
@settings(max_examples=25, deadline=None)
def test_more_channels_never_cost_less(platform, c_in, c_out, extra, hw):
    small = edgeperf.estimate(conv(c_in, c_out, hw), platform)
    wider = edgeperf.estimate(conv(c_in, c_out + extra, hw), platform)
    deeper = edgeperf.estimate(conv(c_in + extra, c_out, hw), platform)
    assert wider.total_latency_ms >= small.total_latency_ms
    assert deeper.total_latency_ms >= small.total_latency_ms
    energies = (small.total_energy_mj, wider.total_energy_mj, deeper.total_energy_mj)
    if load_profile(platform).power.has_model:
        assert min(energies) >= 0
    else:                                   # no power model: energy unknown, never a made-up 0
        assert energies == (None, None, None)


unary = st.sampled_from(["Relu", "Sigmoid", "Tanh", "HardSwish", "Neg"])


@pytest.mark.parametrize("platform", ["jetson-nano", "intel-ncs2", "raspberry-pi-3"])
@given(ops=st.lists(unary, min_size=1, max_size=6), channels=st.integers(1, 64), hw=st.integers(1, 32))
@settings(max_examples=25, deadline=None)
def test_chain_estimate_is_the_sum_of_its_layers(platform, ops, channels, hw, edited_profile):
    profile = unfused(edited_profile, platform)
    shape = (1, channels, hw, hw)
    names = [f"t{i}" for i in range(len(ops) + 1)]
    nodes = [helper.make_node(op, [names[i]], [names[i + 1]], name=f"n{i}") for i, op in enumerate(ops)]
    chain = graph_from_model(model(nodes, [tensor("t0", shape)], [tensor(names[-1], shape)]))
    whole = edgeperf.estimate(chain, profile)
    parts = [edgeperf.estimate(graph_from_model(single(op, [shape], shape)), profile) for op in ops]
    fixed_ms, fixed_mj = edgeperf.estimator.inference_overhead(profile)   # paid once by the chain, once by each part
    assert whole.total_latency_ms - fixed_ms == pytest.approx(sum(p.total_latency_ms - fixed_ms for p in parts))
    assert whole.total_energy_mj - fixed_mj == pytest.approx(sum(p.total_energy_mj - fixed_mj for p in parts))


@given(steps=st.lists(st.sampled_from(load_profile("jetson-nano").clocks["gpu"].available_mhz), min_size=2,
                      max_size=2, unique=True))
@settings(max_examples=30, deadline=None)
def test_higher_clock_is_never_slower(steps):
    low, high = sorted(steps)
    slow = edgeperf.estimate("zoo:resnet18", "jetson-nano", freq_mhz={"gpu": low})
    fast = edgeperf.estimate("zoo:resnet18", "jetson-nano", freq_mhz={"gpu": high})
    assert fast.total_latency_ms <= slow.total_latency_ms
    assert fast.total_energy_mj > 0 and slow.total_energy_mj > 0


@pytest.mark.parametrize("platform", list_profiles())
def test_every_shipped_profile_estimates_the_zoo(platform):
    for name in ("resnet18", "mobilenet_v2"):
        est = edgeperf.estimate(f"zoo:{name}", platform)
        has_power = load_profile(platform).power.has_model
        assert est.total_latency_ms > 0
        if has_power:
            assert est.total_energy_mj > 0 and all(layer.energy_mj >= 0 for layer in est.layers)
        else:       # unknown energy is None (null in JSON, "unknown" in the table), never 0
            assert est.total_energy_mj is None and all(layer.energy_mj is None for layer in est.layers)
            assert any("no power model" in note for note in est.notes)
            assert est.to_dict()["total_energy_mj"] is None
        assert all(layer.latency_ms >= 0 for layer in est.layers)
        # shares are of the total, which includes the per-inference overhead outside every layer
        overhead_share = est.inference_overhead_ms / est.total_latency_ms
        assert sum(layer.share for layer in est.layers) + overhead_share == pytest.approx(1.0)


def test_fp16_is_faster_than_fp32_on_a_gpu():
    fp16 = edgeperf.estimate("zoo:resnet18", "jetson-tx2", precision="fp16")
    fp32 = edgeperf.estimate("zoo:resnet18", "jetson-tx2", precision="fp32")
    assert fp16.total_latency_ms < fp32.total_latency_ms


def test_empty_graph_costs_only_the_runtime_call():
    graph = edgeperf.Graph(name="empty", layers=())
    est = edgeperf.estimate(graph, "jetson-nano")
    assert est.layers == () and est.total_latency_ms == load_profile("jetson-nano").inference_overhead_ms
    bound = edgeperf.estimate(graph, datasheet("jetson-nano"))
    assert bound.total_latency_ms == 0 and bound.total_energy_mj == 0


def test_weights_needed_only_as_shapes():
    # an initializer with no data at all still estimates
    proto = single("Gemm", [(1, 64)], (1, 10), weights=[("w", (10, 64))], attrs=dict(transB=1))
    assert not proto.graph.initializer[0].raw_data
    est = edgeperf.estimate(graph_from_model(proto), "raspberry-pi-3")
    assert est.total_macs == 640


def test_weight_initializer_helper_builds_dims_only():
    assert weight("w", (2, 3)).dims == [2, 3]


def test_a_frequency_between_steps_runs_at_the_step_below():
    # the 5W mode's 640 MHz GPU cap is not a step: devfreq runs the Nano GPU at 614.4 MHz
    est = edgeperf.estimate(conv(), "jetson-nano", power_mode="5W", freq_mhz={"gpu": 640})
    assert est.operating_point.freq_mhz["gpu"] == 614.4
    assert any("gpu=640 MHz is not a step: runs at 614.4 MHz" in note for note in est.notes)
    exact = edgeperf.estimate(conv(), "jetson-nano", power_mode="5W", freq_mhz={"gpu": 614.4})
    assert est.total_latency_ms == exact.total_latency_ms


def test_a_profile_is_what_the_estimator_reads_of_a_platform():
    from edgeperf.estimator import PlatformProfile

    assert all(isinstance(load_profile(name), PlatformProfile) for name in list_profiles())
    assert not isinstance(object(), PlatformProfile)
