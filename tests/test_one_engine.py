"""One engine: a single estimate, a DVFS grid, a thermal run and a search block give the same figures.

Run over every shipped profile (and over a cost form registered only for this test), because a
rule that lived in one evaluation path and not in another would make them disagree.
"""

from __future__ import annotations

import numpy as np
import pytest

import edgeperf
from edgeperf import load_model, load_profile, map_graph
from edgeperf.dse import DesignSpace, parse_spec
from edgeperf.estimator import COST_MODELS, CostModel, ParamSpec
from edgeperf.operating import explore_dvfs, frequency_grid, simulate_sustained
from edgeperf.profiles import list_profiles

NETWORKS = ("zoo:mobilenet_v2", "zoo:squeezenet1_1")
GRAPHS = {name: load_model(name) for name in NETWORKS}


def grid_points(profile, count=5):
    """A few points of the profile's grid, spread from the lowest clocks to the highest."""
    grid = frequency_grid(profile)
    size = len(next(iter(grid.values())))
    return [{name: float(values[i]) for name, values in grid.items()}
            for i in sorted(set(np.linspace(0, size - 1, min(count, size)).astype(int)))]


@pytest.mark.parametrize("name", list_profiles())
@pytest.mark.parametrize("network", NETWORKS)
def test_estimate_equals_the_dvfs_grid_at_every_sampled_point(name, network):
    profile = load_profile(name)
    precision = profile.default_precision
    report = explore_dvfs(map_graph(GRAPHS[network], profile.mapping), profile, precision=precision)
    by_clock = {tuple(sorted(p.freq_mhz.items())): p for p in report.points}
    for freqs in grid_points(profile):
        single = edgeperf.estimate(GRAPHS[network], profile, precision=precision, freq_mhz=freqs)
        point = by_clock[tuple(sorted(freqs.items()))]
        assert point.latency_ms == pytest.approx(single.total_latency_ms, rel=1e-12)
        if single.total_energy_mj is None:            # energy unknown: the grid says so too, never 0
            assert point.energy_mj is None and point.power_mw is None and report.energy_optimal is None
        else:
            assert point.energy_mj == pytest.approx(single.total_energy_mj, rel=1e-12)
        # the layers and the overhead as the estimate reports them (stretched alike by a network term) add up
        assert single.total_latency_ms == pytest.approx(sum(l.latency_ms for l in single.layers)
                                                        + single.inference_overhead_ms, rel=1e-12)
        if profile.network_term is None:              # (a network term scales the overhead with the layers)
            assert single.inference_overhead_ms >= profile.inference_overhead_ms   # plus CPU pre/post (operating models)
        # the interval a board profile gives is the same at the same clocks (None where it has none)
        assert (point.latency_ms_low is None) == (single.total_latency_ms_low is None) == (profile.uncertainty is None)
        if profile.uncertainty is not None:
            assert point.latency_ms_low == pytest.approx(single.total_latency_ms_low, rel=1e-12)
            assert point.latency_ms_high == pytest.approx(single.total_latency_ms_high, rel=1e-12)


@pytest.mark.parametrize("name", list_profiles())
def test_a_search_block_equals_the_estimate(name):
    profile = load_profile(name)
    spec = parse_spec({"models": list(NETWORKS), "platforms": [name], "precisions": [profile.default_precision],
                       "objectives": ["min latency_ms"]})
    space = DesignSpace(spec)
    for c, config in enumerate(space.configs):
        mode, freqs = space.points[config.platform][0]
        columns = space.block(c, 0).columns
        single = edgeperf.estimate(GRAPHS[NETWORKS[config.model]], profile, precision=config.precision,
                                   power_mode=mode, freq_mhz=freqs)
        assert columns["latency_ms"][0] == pytest.approx(single.total_latency_ms, rel=1e-12)
        if single.total_energy_mj is None:             # energy unknown: NaN in the table, None in a design
            assert np.isnan(columns["energy_mj"][0]) and np.isnan(columns["power_mw"][0])
        else:
            assert columns["energy_mj"][0] == pytest.approx(single.total_energy_mj, rel=1e-12)


@pytest.mark.parametrize("name", [n for n in list_profiles() if load_profile(n).thermal is not None])
def test_a_cool_sustained_run_takes_the_estimated_time_per_inference(name):
    profile = load_profile(name)
    mapped = map_graph(GRAPHS["zoo:squeezenet1_1"], profile.mapping)
    run = simulate_sustained(mapped, profile, precision=profile.default_precision, inferences=3)
    single = edgeperf.estimate(GRAPHS["zoo:squeezenet1_1"], profile)
    assert run.latency_ms_trace[1] == pytest.approx(single.total_latency_ms, rel=1e-12)   # not throttled yet
    assert run.latency_ms_trace[0] == pytest.approx(single.total_latency_ms + profile.thermal.first_inference_ms)


def _scaled_parts(features, params):
    """The parts of a form invented for this test: scaled compute, plain memory, a fixed overhead."""
    compute = params.get("compute_scale", 1.0) * features.flops / features.flops_per_ms
    memory = features.bytes_ / features.bytes_per_ms
    return compute, memory, np.full(features.size, float(params.get("overhead_ms", 0.0)))


def test_a_new_cost_form_is_evaluated_alike_everywhere(monkeypatch, edited_profile):
    # registered with the "sum" rule; the grid, the search and the single estimate all take it from the entry
    monkeypatch.setitem(COST_MODELS, "test_additive", CostModel(
        _scaled_parts, (ParamSpec("compute_scale", 0.0, 1e6, 1.0), ParamSpec("overhead_ms", 0.0, 1e4, 0.0)), "sum"))
    profile = edited_profile("jetson-tx2", lambda document: document["layer_models"].update(conv={
        "form": "test_additive", "params": {"compute_scale": 3.0, "overhead_ms": 0.01}, "source": "seed001"}))
    mapped = map_graph(GRAPHS["zoo:mobilenet_v2"], profile.mapping)
    report = explore_dvfs(mapped, profile, precision="fp16")
    conv = [l for l in edgeperf.estimate(GRAPHS["zoo:mobilenet_v2"], profile, precision="fp16").layers
            if l.op_class == "conv"]
    assert conv and all(l.latency_ms == pytest.approx(l.compute_ms + l.memory_ms + 0.01) for l in conv)
    for point in report.points[::4]:
        single = edgeperf.estimate(GRAPHS["zoo:mobilenet_v2"], profile, precision="fp16", freq_mhz=dict(point.freq_mhz))
        assert point.latency_ms == pytest.approx(single.total_latency_ms, rel=1e-12)
        assert point.energy_mj == pytest.approx(single.total_energy_mj, rel=1e-12)


def grid_agrees(graph, mapped, profile, precision):
    """Each sampled clock point of the DVFS grid has the single estimate's latency and energy; (estimate, point)."""
    report = explore_dvfs(mapped, profile, precision=precision)
    by_clock = {tuple(sorted(p.freq_mhz.items())): p for p in report.points}
    for freqs in grid_points(profile, 3):
        single = edgeperf.estimate(graph, profile, precision=precision, freq_mhz=freqs)
        point = by_clock[tuple(sorted(freqs.items()))]
        assert point.latency_ms == pytest.approx(single.total_latency_ms, rel=1e-12)
        assert (point.energy_mj is None) == (single.total_energy_mj is None)
        if single.total_energy_mj is not None:
            assert point.energy_mj == pytest.approx(single.total_energy_mj, rel=1e-12)
        yield single, point


# Networks that exercise what the board profiles add to the layer costs: weights streamed past the Edge
# TPU's parameter memory (VGG-16's 138 M parameters), Winograd convolutions (ResNet-18 on TensorRT and
# ncnn), int8 at an effective peak (the Pi 4), and layers of a class no fit saw (an interval widened by it).
BOARD_CASES = [("coral-usb", "zoo:vgg16", "int8"), ("coral-edgetpu", "zoo:vgg16", "int8"),
               ("jetson-nano", "zoo:resnet18", "fp16"), ("raspberry-pi-4-ncnn", "zoo:resnet18", "fp32"),
               ("raspberry-pi-4", "zoo:mobilenet_v3_small", "int8"), ("jetson-tx2", "zoo:yolov3_tiny", "fp16")]


@pytest.mark.parametrize("name,network,precision", BOARD_CASES)
def test_streamed_weights_winograd_and_intervals_agree_everywhere(name, network, precision):
    profile = load_profile(name)
    graph = load_model(network)
    mapped = map_graph(graph, profile.mapping)
    for single, point in grid_agrees(graph, mapped, profile, precision):
        assert (point.latency_ms_low, point.latency_ms_high) == pytest.approx(
            (single.total_latency_ms_low, single.total_latency_ms_high), rel=1e-12)
    single = edgeperf.estimate(graph, profile, precision=precision)
    if name.startswith("coral"):   # the streamed weights are in the layers' clock-independent overhead
        streamed = [layer for layer in single.layers if "streams-weights" in layer.flags]
        assert streamed and all(layer.overhead_ms > 0 for layer in streamed)
    spec = parse_spec({"models": [network], "platforms": [name], "precisions": [precision],
                       "objectives": ["min latency_ms"]})
    space = DesignSpace(spec)
    mode, freqs = space.points[space.configs[0].platform][0]
    columns = space.block(0, 0).columns
    at_point = edgeperf.estimate(graph, profile, precision=precision, power_mode=mode, freq_mhz=freqs)
    assert columns["latency_ms"][0] == pytest.approx(at_point.total_latency_ms, rel=1e-12)
    if profile.thermal is not None:
        run = simulate_sustained(mapped, profile, precision=precision, inferences=3)
        assert run.latency_ms_trace[1] == pytest.approx(single.total_latency_ms, rel=1e-12)


def search_and_thermal_agree(graph, network, mapped, profile, precision, single, path):
    """A search block (the profile written to ``path``) and a cool sustained run give the estimate's figures."""
    import json

    path.write_text(json.dumps(profile.to_document()))
    spec = parse_spec({"models": [network], "platforms": [str(path)], "precisions": [precision],
                       "objectives": ["min latency_ms"]})
    space = DesignSpace(spec)
    mode, freqs = space.points[space.configs[0].platform][0]
    at_point = edgeperf.estimate(graph, profile, precision=precision, power_mode=mode, freq_mhz=freqs)
    assert space.block(0, 0).columns["latency_ms"][0] == pytest.approx(at_point.total_latency_ms, rel=1e-12)
    if profile.thermal is not None:
        run = simulate_sustained(mapped, profile, precision=precision, inferences=3)
        assert run.latency_ms_trace[1] == pytest.approx(single.total_latency_ms, rel=1e-12)


# The critical-path network term (its factor rests on the graph's longest path at reference clocks): a board with an
# operating model (jetson-nano), one that hands layers to the host (coral-edgetpu), one with a thermal model and
# DVFS grid (jetson-tx2), on SqueezeNet, whose fire modules run two convolutions side by side.
PATH_CASES = ["jetson-nano", "coral-edgetpu", "jetson-tx2", "raspberry-pi-4"]


@pytest.mark.parametrize("name", PATH_CASES)
def test_a_critical_path_term_is_applied_alike_everywhere(name, edited_profile, tmp_path):
    def add_term(document):
        document["network_term"] = {"form": "critical_path", "source": next(iter(document["sources"])),
                                    "params": {"parallel": 0.6}}

    profile = edited_profile(name, add_term)
    plain = load_profile(name)
    graph, network = GRAPHS["zoo:squeezenet1_1"], "zoo:squeezenet1_1"
    precision = profile.default_precision
    single = edgeperf.estimate(graph, profile, precision=precision)
    assert single.total_latency_ms < 0.97 * edgeperf.estimate(graph, plain, precision=precision).total_latency_ms
    mapped = map_graph(graph, profile.mapping)
    for at, _ in grid_agrees(graph, mapped, profile, precision):
        assert at.total_latency_ms == pytest.approx(sum(l.latency_ms for l in at.layers) + at.inference_overhead_ms,
                                                    rel=1e-12)
    search_and_thermal_agree(graph, network, mapped, profile, precision, single, tmp_path / f"{name}-path.json")


@pytest.mark.parametrize("name", PATH_CASES)
def test_per_signature_residuals_are_applied_alike_everywhere(name, edited_profile, tmp_path):
    """A profile's per-signature residuals (with a critical-path term too): estimate, DVFS grid, search, thermal."""
    from edgeperf.estimator import layer_signatures

    graph, network = GRAPHS["zoo:squeezenet1_1"], "zoo:squeezenet1_1"
    plain = load_profile(name)
    signatures = layer_signatures(map_graph(graph, plain.mapping))
    table = {signatures[1]: 0.2, signatures[-2]: -0.001}      # a fire module's squeeze and a late layer

    def add_residuals(document):
        document["signature_residuals"] = {"source": next(iter(document["sources"])), "strength": 1.0,
                                           "residual_ms": table}
        document["network_term"] = {"form": "critical_path", "source": next(iter(document["sources"])),
                                    "params": {"parallel": 0.5}}

    profile = edited_profile(name, add_residuals)
    precision = profile.default_precision
    single = edgeperf.estimate(graph, profile, precision=precision)
    without = edgeperf.estimate(graph, edited_profile(name, lambda d: (add_residuals(d), d.pop("signature_residuals"))),
                                precision=precision)
    assert single.total_latency_ms > without.total_latency_ms     # +0.2 ms on every layer of that signature
    mapped = map_graph(graph, profile.mapping)
    for at, _ in grid_agrees(graph, mapped, profile, precision):
        assert at.total_latency_ms == pytest.approx(sum(l.latency_ms for l in at.layers) + at.inference_overhead_ms,
                                                    rel=1e-12)
    search_and_thermal_agree(graph, network, mapped, profile, precision, single,
                             tmp_path / f"{name}-residuals.json")
