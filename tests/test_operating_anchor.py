"""An operating model anchored to a fitted board model: at the reference clocks and batch 1 the estimate is the
board model's latency (the fit's accuracy is kept); the CPU, GPU and memory clocks and the batch move it from there.

The board model alone is the same profile without its operating model (``operating=None``), which the engine
evaluates on its other path (no launch queue, no occupancy, no CPU rail)."""

from __future__ import annotations

import dataclasses
import json

import pytest

import edgeperf
from edgeperf.profiles import load_profile, operating_models
from edgeperf.profiles._operating import _PATH

NETWORKS = ("zoo:squeezenet1_1", "zoo:resnet18", "zoo:resnet50", "zoo:vgg16", "zoo:mobilenet_v2")


def _bare(name):
    profile = load_profile(name)
    return profile, dataclasses.replace(profile, operating=None)


@pytest.mark.parametrize("board", ["jetson-nano", "jetson-xavier-nx"])
@pytest.mark.parametrize("network", NETWORKS)
def test_at_reference_clocks_and_batch_1_the_estimate_is_the_board_model(board, network):
    profile, bare = _bare(board)
    assert profile.operating is not None and profile.operating.anchored
    operated, alone = edgeperf.estimate(network, profile), edgeperf.estimate(network, bare)
    assert operated.total_latency_ms == pytest.approx(alone.total_latency_ms, rel=1e-9, abs=0.0)
    assert operated.batch == 1 and operated.total_energy_mj is not None


def test_lowering_the_cpu_clock_raises_latency_by_at_least_the_pre_post_processing_it_slows():
    profile, _ = _bare("jetson-nano")
    numbers = json.loads(_PATH.read_text())["boards"]["jetson-nano"]["numbers"]
    pre_post = numbers["pre_post_ms"]["value"]        # ms at the reference CPU clock, 1479 MHz
    steps = profile.clocks["cpu"].available_mhz
    latencies = [edgeperf.estimate("zoo:resnet18", profile, freq_mhz={"cpu": f}).total_latency_ms for f in steps]
    assert all(b <= a for a, b in zip(latencies, latencies[1:]))          # faster CPU, never slower
    top = latencies[-1]
    assert latencies[0] > top                                              # 102 MHz is slower than 1479 MHz
    assert latencies[0] - top >= pre_post * (1479.0 / 102.0 - 1.0) * (1 - 1e-9)
    low = edgeperf.estimate("zoo:resnet18", profile, freq_mhz={"cpu": 518.4})
    assert low.total_energy_mj != edgeperf.estimate("zoo:resnet18", profile).total_energy_mj


def test_gpu_clock_and_batch_still_move_the_anchored_estimate():
    profile, bare = _bare("jetson-nano")
    slow_gpu = edgeperf.estimate("zoo:resnet18", profile, freq_mhz={"gpu": 460.8})
    assert slow_gpu.total_latency_ms > 1.5 * edgeperf.estimate("zoo:resnet18", profile).total_latency_ms
    one = edgeperf.estimate("zoo:mobilenet_v2", profile, batch=1)
    eight, eight_alone = (edgeperf.estimate("zoo:mobilenet_v2", p, batch=8) for p in (profile, bare))
    assert eight.throughput_per_s > one.throughput_per_s                  # per-image cost falls with batch
    assert eight.total_latency_ms != pytest.approx(eight_alone.total_latency_ms, rel=1e-6)


def test_an_unfitted_roofline_gets_the_cpu_side_work_added_whole():
    profile, bare = _bare("jetson-nano-pytorch")
    assert not profile.operating.anchored
    assert edgeperf.estimate("zoo:resnet18", profile).total_latency_ms > \
        edgeperf.estimate("zoo:resnet18", bare).total_latency_ms + 0.3     # pre/post 0.3 ms at least


def test_every_shipped_operating_model_says_whether_it_is_anchored_and_why():
    document = json.loads(_PATH.read_text())
    for name, model in operating_models().items():
        source, _ = model.citations["latency_at_reference"]
        assert source in document["sources"]
        assert model.latency_at_reference == ("board-model" if model.anchored else "added")
        assert model.anchored == ("pytorch" not in name)
