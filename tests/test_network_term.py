"""The network-level term: its formula, its place in profiles, the engine's use of it, and fitting it."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import edgeperf
from edgeperf import ProfileError
from edgeperf.estimator import (NetworkTerm, evaluate_layers, evaluate_points, map_graph, network_factor,
                                network_scale, network_totals, reference_costs, resolve_operating_point)
from edgeperf.fitting import fit_from_networks
from edgeperf.profiles import load_profile, parse_profile

from ._profiles import datasheet
from .test_fit import NB201, GRAPHS, _patch_loader, measured, truth_profile

TERM = NetworkTerm(gamma=1.2, reference_ms=10.0, lower_ms=5.0, upper_ms=40.0)


@pytest.mark.parametrize("additive_ms,factor", [
    (10.0, 1.0),                        # at the reference: (10 / 10) ** 0.2
    (20.0, 2.0 ** 0.2),                 # 1.148698...: inside the fitted range
    (40.0, 4.0 ** 0.2),                 # the upper end
    (80.0, 4.0 ** 0.2),                 # beyond it, proportional: the factor stays the upper end's
    (5.0, 0.5 ** 0.2),                  # 0.870550...: the lower end
    (1.0, 0.5 ** 0.2),                  # below it, the lower end's factor
])
def test_power_law_factor_by_hand(additive_ms, factor):
    assert network_scale(additive_ms, TERM) == pytest.approx(factor, rel=1e-12)
    # total = reference * (A / reference) ** gamma inside the range: A = 20 -> 10 * 2 ** 1.2 = 22.97397 ms
    if 5.0 <= additive_ms <= 40.0:
        assert additive_ms * network_scale(additive_ms, TERM) == pytest.approx(10.0 * (additive_ms / 10.0) ** 1.2)


def test_no_term_and_gamma_one_change_nothing_and_arrays_work():
    assert network_scale(12.3, None) == 1.0
    assert network_scale(12.3, NetworkTerm(gamma=1.0, reference_ms=3.0, lower_ms=1.0, upper_ms=9.0)) == 1.0
    grid = network_scale(np.array([5.0, 20.0, 80.0]), TERM)
    assert grid.shape == (3,) and grid[1] == pytest.approx(2.0 ** 0.2)
    with pytest.raises(ValueError, match="finite"):
        network_scale(-1.0, TERM)


@given(gamma=st.floats(0.5, 2.0), a=st.floats(0.01, 500.0), b=st.floats(0.01, 500.0))
@settings(max_examples=200, deadline=None)
def test_total_never_decreases_when_the_layer_sum_grows(gamma, a, b):
    term = NetworkTerm(gamma=gamma, reference_ms=8.0, lower_ms=2.0, upper_ms=30.0)
    low, high = sorted((a, b))
    assert low * network_scale(low, term) <= high * network_scale(high, term) * (1 + 1e-12)


@pytest.mark.parametrize("changes,fragment", [
    ({"gamma": 9.0}, "gamma must be in [0.25, 4]"),
    ({"lower_ms": 50.0}, "must not exceed upper_ms"),
    ({"reference_ms": 0.0}, "reference_ms must be a positive"),
    ({"form": "spline"}, "form must be one of"),
])
def test_bad_terms_are_refused(changes, fragment):
    fields = {"gamma": 1.2, "reference_ms": 10.0, "lower_ms": 5.0, "upper_ms": 40.0, **changes}
    with pytest.raises(ValueError, match=fragment.replace("[", r"\[")):
        NetworkTerm(**fields)


def with_term(profile, params=None, **extra):
    document = profile.to_document()
    document["network_term"] = {"form": "power_law", "source": next(iter(document["sources"])),
                                "params": params or {"gamma": 1.2, "reference_ms": 10.0, "lower_ms": 5.0,
                                                     "upper_ms": 40.0}, **extra}
    return parse_profile(json.loads(json.dumps(document)), where="test")


@pytest.mark.parametrize("params,extra,fragment", [
    ({"gamma": 1.2, "reference_ms": 10.0, "lower_ms": 5.0}, {}, "network_term.params must be an object with exactly"),
    ({"gamma": "1.2", "reference_ms": 10.0, "lower_ms": 5.0, "upper_ms": 40.0}, {}, "gamma must be a number"),
    ({"gamma": 1.2, "reference_ms": 10.0, "lower_ms": 5.0, "upper_ms": 40.0}, {"curve": 1}, "unknown keys ['curve']"),
    ({"gamma": 0.1, "reference_ms": 10.0, "lower_ms": 5.0, "upper_ms": 40.0}, {}, "gamma must be in"),
])
def test_profile_schema_validates_the_term(params, extra, fragment):
    with pytest.raises(ProfileError, match=fragment.replace("[", r"\[")):
        with_term(load_profile("jetson-nano"), params, **extra)


def test_estimate_dvfs_and_layer_evaluation_apply_the_term_alike():
    profile = with_term(load_profile("jetson-nano-nb201"))
    plain = load_profile("jetson-nano-nb201")
    graph = edgeperf.load_model("zoo:resnet18")
    with_, without = edgeperf.estimate(graph, profile), edgeperf.estimate(graph, plain)
    additive = without.total_latency_ms
    assert 5.0 < additive < 40.0   # 19.4 ms: inside the term's range, so the factor is (A / 10) ** 0.2
    expected = (additive / 10.0) ** 0.2
    assert with_.total_latency_ms == pytest.approx(additive * expected)
    assert with_.total_energy_mj == pytest.approx(without.total_energy_mj * expected)
    assert with_.total_latency_ms == pytest.approx(sum(l.latency_ms for l in with_.layers) + with_.inference_overhead_ms)
    assert any("network term" in note for note in with_.notes)
    # DVFS totals (thermal runs use the same function) at the reference clocks equal the estimate's
    mapped = map_graph(graph, profile.mapping)
    costs = reference_costs(mapped, profile, "fp16")
    clocks = {name: np.array([domain.reference_mhz]) for name, domain in profile.clocks.items()}
    latency, energy = evaluate_points(costs, profile, clocks)
    point = resolve_operating_point(profile)
    assert dict(point.freq_mhz) == {k: v[0] for k, v in clocks.items()}
    assert latency[0] == pytest.approx(with_.total_latency_ms) and energy[0] == pytest.approx(with_.total_energy_mj)
    # per-layer evaluation (search) summed through network_totals gives the same total; the factor is the estimate's
    layer_ms, layer_mj = evaluate_layers(costs, profile, {k: v[0] for k, v in clocks.items()})
    assert network_factor(costs, layer_ms.sum()) == pytest.approx(expected)
    total_ms, total_mj = network_totals(costs, layer_ms.sum(), layer_mj.sum())
    assert total_ms == pytest.approx(with_.total_latency_ms) and total_mj == pytest.approx(with_.total_energy_mj)
    # a device running the first half of the layers carries the whole network's factor, and its overhead once
    half = len(layer_ms) // 2
    part_ms, _ = network_totals(costs, layer_ms[:half].sum(), 0.0, whole_ms=layer_ms.sum())
    assert part_ms == pytest.approx((layer_ms[:half].sum() + costs.fixed_ms) * expected)


def test_host_placed_layers_dvfs_grids_and_comparisons_carry_the_term():
    """Layers the Edge TPU hands to the host scale with the rest; a DVFS grid and a compare cell give the same total."""
    from edgeperf.operating import explore_dvfs

    from .test_deployability import conv_chain

    graph, plain = conv_chain("LeakyRelu"), load_profile("coral-edgetpu")
    without = edgeperf.estimate(graph, plain)
    additive = without.total_latency_ms
    # reference at half the network's additive total, inside the range: factor (A / (A / 2)) ** 0.2 = 2 ** 0.2
    bent = with_term(plain, {"gamma": 1.2, "reference_ms": additive / 2, "lower_ms": additive / 4,
                             "upper_ms": additive * 4})
    with_ = edgeperf.estimate(graph, bent)
    bounds = [layer.bound for layer in with_.layers]
    assert bounds[1:] == ["host", "host"] and bounds == [layer.bound for layer in without.layers]   # same placement
    assert [a.latency_ms for a in with_.layers] == pytest.approx([b.latency_ms * 2 ** 0.2 for b in without.layers])
    assert with_.total_latency_ms == pytest.approx(additive * 2 ** 0.2)
    assert with_.total_energy_mj == pytest.approx(without.total_energy_mj * 2 ** 0.2)
    report = explore_dvfs(map_graph(graph, bent.mapping), bent, precision="int8")
    top = max(report.points, key=lambda p: p.freq_mhz["tpu"])
    assert top.latency_ms == pytest.approx(with_.total_latency_ms)
    assert top.energy_mj == pytest.approx(with_.total_energy_mj)
    cell = edgeperf.compare([graph], [bent, plain]).cells
    assert [c.estimate.total_latency_ms for c in cell] == pytest.approx([with_.total_latency_ms, additive])


def test_fit_keeps_a_power_law_the_data_has_and_recovers_it(monkeypatch):
    _patch_loader(monkeypatch)
    truth = truth_profile({"default": {"overhead_ms": 0.01, "compute_scale": 2.0, "memory_scale": 2.0},
                                           "conv": {"overhead_ms": 0.05, "compute_scale": 3.0, "memory_scale": 1.0}})
    samples = measured(truth, NB201)
    additive = np.array([s.latency_ms for s in samples])
    reference = float(np.exp(np.log(additive).mean()))
    bent_truth = with_term(truth, {"gamma": 1.3, "reference_ms": reference, "lower_ms": float(additive.min()),
                                   "upper_ms": float(additive.max())})
    bent = measured(bent_truth, NB201)
    base = datasheet("jetson-nano")
    kept = fit_from_networks(bent, base, precision="fp16", network_term=None)
    record = kept.profile.provenance.network_term
    assert record.chosen == "power_law" and kept.profile.network_term.gamma == 1.3
    assert record.cv_mape["power_law"] < 0.02 and record.cv_mape["none"] > 2 * record.cv_mape["power_law"]
    assert kept.profile.to_document()["network_term"]["source"] == "fit-jetson-nano-fitted"   # cited, written
    for sample in bent:
        assert edgeperf.estimate(GRAPHS[sample.model], kept.profile, precision="fp16").total_latency_ms == \
            pytest.approx(sample.latency_ms, rel=0.03)
    # data without a bend: the term is not kept, and the profile has none
    straight = fit_from_networks(samples, base, precision="fp16", network_term=None)
    assert straight.profile.provenance.network_term.chosen == "none"
    assert "network_term" not in straight.profile.to_document() and straight.profile.network_term is None
    # asked not to: no term considered, nothing recorded
    assert fit_from_networks(bent, base, precision="fp16").profile.provenance.network_term is None


def test_search_designs_carry_the_term_on_device_and_split_alike(tmp_path):
    """A search's whole-network design equals the estimate; a split's device side carries the whole network's factor."""
    import math

    from edgeperf.dse import parse_spec, search

    from .test_dse import EXAMPLE, split_designs, with_overhead

    path = with_overhead("raspberry-pi-4", 0.5, tmp_path)
    document = json.loads(open(path).read())
    document["network_term"] = {"form": "power_law", "source": next(iter(document["sources"])),
                                "params": {"gamma": 1.3, "reference_ms": 0.5, "lower_ms": 0.1, "upper_ms": 50.0}}
    (tmp_path / "bent.json").write_text(json.dumps(document))
    bent = str(tmp_path / "bent.json")
    device = edgeperf.estimate(EXAMPLE, bent, precision="fp32")
    plain = edgeperf.estimate(EXAMPLE, path, precision="fp32")
    factor = device.total_latency_ms / plain.total_latency_ms
    assert factor == pytest.approx((plain.total_latency_ms / 0.5) ** 0.3)   # inside [0.1, 50] ms
    spec = parse_spec({"models": [EXAMPLE], "platforms": [bent], "precisions": ["fp32"],
                       "objectives": ["min latency_ms"],
                       "partition": {"server": "jetson-tx2", "links": ["wifi"], "bits": [8], "compression_ratio": 0.5}})
    result = search(spec)
    server = edgeperf.estimate(EXAMPLE, "jetson-tx2")
    checked = 0
    for design, prefix, suffix in split_designs(result, device, server):
        p = design.partition
        transfer_ms = math.ceil({"input": 784, "relu_0": 6272, "relu_1": 3136, "relu_2": 32, "flatten_0": 32,
                                 "gemm_0": 10}[p.cut_after] * 8 / 8) * 0.5 * 8 / 10e6 * 1000
        # device layers as the estimate stretched them, and its overhead stretched alike, once
        device_ms = sum(x.latency_ms for x in prefix) + (0.5 * factor if prefix else 0.0)
        server_ms = sum(x.latency_ms for x in suffix) + (server.inference_overhead_ms if suffix else 0.0)
        assert design.latency_ms == pytest.approx(device_ms + transfer_ms + server_ms)
        checked += 1
    assert checked >= 3


def test_profiles_show_prints_the_term(capsys):
    from edgeperf.cli import main

    assert main(["profiles", "show", "snapdragon-855-cpu-nb201"]) == 0
    out = capsys.readouterr().out
    assert "network term: power law, gamma 1.3" in out   # the shipped refit kept gamma 1.3 (its provenance says why)
