"""The critical-path network term: the longest path on hand-built graphs, the term in profiles and estimates, fitting it."""

from __future__ import annotations

import json

import numpy as np
import pytest
from onnx import helper

import edgeperf
from edgeperf import ProfileError
from edgeperf.estimator import (NO_FUSION, NetworkTerm, critical_share, graph_from_model, layer_paths, longest_path,
                                map_graph, network_scale)
from edgeperf.fitting import fit_from_networks
from edgeperf.fitting._critical_fit import NetworkLayers, longest_paths, path_rows
from edgeperf.profiles import load_profile, parse_profile

from ._models import model, tensor, weight
from ._profiles import datasheet
from .test_fit import GRAPHS, NB201, _patch_loader, measured, truth_profile


def _conv(name, source, out, w):
    return helper.make_node("Conv", [source, w], [out], kernel_shape=[3, 3], pads=[1, 1, 1, 1], name=name)


def chain_graph():
    """x -> a -> b -> c -> y: three 3x3 convolutions in a row."""
    nodes = [_conv("a", "x", "t1", "w0"), _conv("b", "t1", "t2", "w1"), _conv("c", "t2", "y", "w2")]
    return graph_from_model(model(nodes, [tensor("x", (1, 8, 16, 16))], [tensor("y", (1, 8, 16, 16))],
                                  [weight(f"w{i}", (8, 8, 3, 3)) for i in range(3)]), name="chain")


def fork_graph():
    """x -> a -> {b, relu -> c} -> add -> y: two branches after a, the second through a layer a runtime may elide."""
    nodes = [_conv("a", "x", "t1", "w0"), _conv("b", "t1", "t2", "w1"),
             helper.make_node("Relu", ["t1"], ["r"], name="relu"), _conv("c", "r", "t3", "w2"),
             helper.make_node("Add", ["t2", "t3"], ["y"], name="add")]
    return graph_from_model(model(nodes, [tensor("x", (1, 8, 16, 16))], [tensor("y", (1, 8, 16, 16))],
                                  [weight(f"w{i}", (8, 8, 3, 3)) for i in range(3)]), name="fork")


def test_longest_path_of_a_chain_is_its_sum_and_of_a_fork_its_longer_branch():
    chain = map_graph(chain_graph(), NO_FUSION)
    assert [layer.name for layer in chain.layers] == ["a", "b", "c"]
    paths = layer_paths(chain)
    assert longest_path(paths, np.array([1.0, 2.0, 3.0])) == pytest.approx(6.0)
    assert critical_share(paths, np.array([1.0, 2.0, 3.0])) == pytest.approx(1.0)
    fork = map_graph(fork_graph(), NO_FUSION)
    assert [layer.name for layer in fork.layers] == ["a", "b", "relu", "c", "add"]
    paths = layer_paths(fork)
    assert [p.tolist() for p in paths.preds] == [[], [0], [0], [2], [1, 3]]
    cost = np.array([1.0, 5.0, 0.5, 2.0, 1.0])    # a, b | relu, c, add: 1 + max(5, 2.5) + 1 = 7 of 9.5
    assert longest_path(paths, cost) == pytest.approx(7.0)
    assert critical_share(paths, cost) == pytest.approx(7.0 / 9.5)
    cost[3] = 4.0                                  # now the relu branch is longer: 1 + 4.5 + 1 = 6.5 ... of 11
    assert longest_path(paths, cost) == pytest.approx(7.0)   # b's 5 still wins
    cost[3] = 6.0                                  # 1 + 6.5 + 1 = 8.5
    assert longest_path(paths, cost) == pytest.approx(8.5)
    # several cost columns at once (operating points): each column its own path
    both = longest_path(paths, np.column_stack([[1.0, 5.0, 0.5, 2.0, 1.0], [1.0, 1.0, 0.5, 6.0, 1.0]]))
    assert both.tolist() == pytest.approx([7.0, 8.5])


def test_elided_layers_are_looked_through():
    elide = edgeperf.estimator.Mapping(elide=("activation",), rules=())
    fork = map_graph(fork_graph(), elide)
    assert [layer.name for layer in fork.layers] == ["a", "b", "c", "add"]
    paths = layer_paths(fork)
    assert [p.tolist() for p in paths.preds] == [[], [0], [0], [1, 2]]   # c depends on a through the elided relu
    assert longest_path(paths, np.array([1.0, 2.0, 3.0, 1.0])) == pytest.approx(5.0)


def test_the_fit_helpers_follow_the_longest_path():
    fork = map_graph(fork_graph(), NO_FUSION)
    dag = NetworkLayers.dag(layer_paths(fork))
    # two classes (0: conv, 1: other), raw features: count, compute, three memory columns
    feats = np.array([[1, 1.0, 0, 0, 0], [1, 5.0, 0, 0, 0], [1, 0.5, 0, 0, 0], [1, 2.0, 0, 0, 0], [1, 1.0, 0, 0, 0]])
    layers = NetworkLayers(classes=(np.array([0, 0, 1, 0, 1]),), feats=(feats,), paths=(dag,), n_classes=2)
    w = np.array([0.0, 1.0, 0, 0, 0, 0.0, 1.0, 0, 0, 0])          # cost = compute
    assert longest_paths(layers, w).tolist() == pytest.approx([7.0])
    row = path_rows(layers, w)[0]                                 # a, b (conv) and add (other) on the path
    assert row.tolist() == pytest.approx([2, 6.0, 0, 0, 0, 1, 1.0, 0, 0, 0])
    w[1] = 0.2                                                    # relu 0.5 + c 0.4 still under b 1.0
    assert longest_paths(layers, w).tolist() == pytest.approx([0.2 + 1.0 + 1.0])


@pytest.mark.parametrize("parallel,share,serial,factor", [
    (0.0, 0.5, 1.0, 1.0),                    # no term
    (1.0, 1.0, 1.0, 1.0),                    # a chain: the path is the sum
    (1.0, 0.5, 0.0, 0.5),                    # all parallel, half on the path: T = C
    (0.5, 0.6, 2.0, 0.84),                   # S 8, C 4.8, F 2: T = 0.5 * 10 + 0.5 * 6.8 = 8.4 of 10
])
def test_critical_path_factor_by_hand(parallel, share, serial, factor):
    term = NetworkTerm(form="critical_path", parallel=parallel)
    assert network_scale(10.0, term, critical_share=share, serial_ms=serial) == pytest.approx(factor)


def with_path_term(name: str, parallel: float, **extra):
    document = load_profile(name).to_document()
    document["network_term"] = {"form": "critical_path", "source": next(iter(document["sources"])),
                                "params": {"parallel": parallel}, **extra}
    return parse_profile(json.loads(json.dumps(document)), where="test")


def test_the_term_round_trips_through_a_profile():
    profile = with_path_term("jetson-nano", 0.75)
    assert profile.network_term == NetworkTerm(form="critical_path", parallel=0.75)
    again = parse_profile(json.loads(json.dumps(profile.to_document())), where="again")
    assert again.network_term == profile.network_term
    assert again.to_document()["network_term"]["params"] == {"parallel": 0.75}


@pytest.mark.parametrize("params,fragment", [
    ({"parallel": 1.5}, "parallel must be in [0, 1]"),
    ({"parallel": -0.1}, "network_term.params.parallel"),
    ({"parallel": 0.5, "gamma": 1.2}, "must be an object with exactly ['parallel']"),
    ({"gamma": 1.2, "reference_ms": 10.0, "lower_ms": 5.0, "upper_ms": 40.0}, "exactly ['parallel']"),
])
def test_schema_bounds_the_parallel_share(params, fragment):
    document = load_profile("jetson-nano").to_document()
    document["network_term"] = {"form": "critical_path", "source": next(iter(document["sources"])), "params": params}
    with pytest.raises(ProfileError, match=fragment.replace("[", r"\[")):
        parse_profile(json.loads(json.dumps(document)), where="test")
    with pytest.raises(ValueError, match="not a parameter of the critical_path form"):
        NetworkTerm(form="critical_path", parallel=0.5, gamma=1.2)


def test_an_estimate_applies_the_term_with_its_graphs_longest_path():
    plain = load_profile("jetson-nano")
    bent = with_path_term("jetson-nano", 0.5)
    graph = edgeperf.load_model("zoo:squeezenet1_1")    # fire modules: two expand convolutions side by side
    without, with_ = edgeperf.estimate(graph, plain), edgeperf.estimate(graph, bent)
    mapped = map_graph(graph, plain.mapping)
    layer_ms = np.array([layer.latency_ms for layer in without.layers])
    c = longest_path(layer_paths(mapped), layer_ms)
    s, f = layer_ms.sum(), without.inference_overhead_ms
    assert c < 0.95 * s                                   # the branches matter on this network
    assert with_.total_latency_ms == pytest.approx(0.5 * (s + f) + 0.5 * (c + f), rel=1e-9)
    assert with_.total_latency_ms == pytest.approx(sum(l.latency_ms for l in with_.layers) + with_.inference_overhead_ms)
    assert any("critical path" in note for note in with_.notes)
    # a chain is unchanged by the term
    chain = chain_graph()
    assert edgeperf.estimate(chain, bent).total_latency_ms == pytest.approx(edgeperf.estimate(chain, plain).total_latency_ms)


def _nb201_truth():
    return truth_profile({"default": {"overhead_ms": 0.01, "compute_scale": 2.0, "memory_scale": 2.0},
                          "conv": {"overhead_ms": 0.05, "compute_scale": 3.0, "memory_scale": 1.0}})


def test_selection_picks_the_critical_path_on_branch_parallel_data(monkeypatch):
    _patch_loader(monkeypatch)
    truth = _nb201_truth()
    document = truth.to_document()
    document["network_term"] = {"form": "critical_path", "source": "seed001", "params": {"parallel": 0.75}}
    parallel = parse_profile(json.loads(json.dumps(document)), where="truth")
    samples = measured(parallel, NB201)
    additive = [s.latency_ms for s in measured(truth, NB201)]
    assert max(1 - s.latency_ms / a for s, a in zip(samples, additive)) > 0.15   # the branches shorten some a lot
    fit = fit_from_networks(samples, datasheet("jetson-nano"), precision="fp16", network_term=None)
    record = fit.profile.provenance.network_term
    assert record.chosen == "critical_path" and fit.profile.network_term.parallel == 0.75
    assert record.cv_mape["critical_path"] < 0.5 * record.cv_mape["none"]
    for sample in samples:     # the fitted profile, through the estimator, gives the measured times back
        assert edgeperf.estimate(GRAPHS[sample.model], fit.profile, precision="fp16").total_latency_ms == \
            pytest.approx(sample.latency_ms, rel=0.03)
    assert fit.profile.to_document()["network_term"] == {"form": "critical_path", "source": "fit-jetson-nano-fitted",
                                                        "params": {"parallel": 0.75},
                                                        "note": fit.profile.citations[("network_term",)].note}


def test_selection_keeps_the_term_out_of_additive_data(monkeypatch):
    _patch_loader(monkeypatch)
    samples = measured(_nb201_truth(), NB201)
    fit = fit_from_networks(samples, datasheet("jetson-nano"), precision="fp16", network_term=None)
    record = fit.profile.provenance.network_term
    assert record.chosen == "none" and fit.profile.network_term is None
    assert set(record.cv_mape) == {"none", "power_law", "critical_path"}


def test_a_cycle_made_by_merging_siblings_is_broken_at_the_earliest_layer():
    """x -> {a, b} (siblings); b -> c; a + c -> add. A mapping that fuses a with the add and merges a with b
    puts b and the add in one kernel that also waits for c, which waits for b: the cycle is broken there."""
    nodes = [_conv("a", "x", "t1", "w0"), _conv("b", "x", "t2", "w1"), _conv("c", "t2", "t3", "w2"),
             helper.make_node("Add", ["t1", "t3"], ["y"], name="add")]
    graph = graph_from_model(model(nodes, [tensor("x", (1, 8, 16, 16))], [tensor("y", (1, 8, 16, 16))],
                                   [weight(f"w{i}", (8, 8, 3, 3)) for i in range(3)]), name="cycle")
    rule = edgeperf.estimator.FusionRule(name="conv-add", primary=("Conv",), followers=("Add",), max_followers=1,
                                         absorb_inputs=())
    mapping = edgeperf.estimator.Mapping(rules=(rule,), merge_siblings=("Conv",))
    mapped = map_graph(graph, mapping)
    assert [layer.nodes for layer in mapped.layers] == [("a", "add", "b"), ("c",)]
    paths = layer_paths(mapped)
    assert paths.order.tolist() == [0, 1] and [p.tolist() for p in paths.preds] == [[], [0]]
    assert longest_path(paths, np.array([2.0, 3.0])) == pytest.approx(5.0)
    dag = NetworkLayers.dag(paths)
    layers = NetworkLayers(classes=(np.array([0, 0]),), feats=(np.array([[1, 2.0, 0, 0, 0], [1, 3.0, 0, 0, 0]]),),
                           paths=(dag,), n_classes=1)
    assert path_rows(layers, np.array([0.0, 1.0, 0, 0, 0]))[0].tolist() == pytest.approx([2, 5.0, 0, 0, 0])
