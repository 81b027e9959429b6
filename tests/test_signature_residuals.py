"""Per-signature residuals: the signature, their place in profiles, the engine's use of them, and fitting them."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

import edgeperf
from edgeperf import ProfileError
from edgeperf.estimator import SignatureResiduals, layer_signatures, map_graph
from edgeperf.fitting import NetworkSample, fit_from_networks
from edgeperf.profiles import parse_profile
from edgeperf.zoo import random_nb201

from ._profiles import datasheet_document

CELLS = [f"zoo:nb201-latbench:{random_nb201(random.Random(i))}" for i in range(60)]
GRAPHS = {ref: edgeperf.load_model(ref) for ref in CELLS}
TRAIN, UNSEEN = CELLS[:40], CELLS[40:]
COEFFICIENTS = {"default": {"overhead_ms": 0.01, "compute_scale": 2.0, "memory_scale": 2.0},
                "conv": {"overhead_ms": 0.05, "compute_scale": 3.0, "memory_scale": 1.0}}
# the 3x3 convolution with ReLU of the second stage (32 channels, 16x16) and the 3x3 average pooling of the first
CONV_32 = ("conv Conv+Relu conv-bn-act-add out 1x32x16x16 in 8192 w 9216 wr 8192 macs 2359296 flops 4726784 batch 1 "
           "c_in 32 c_out 32 d_out 1 h_out 16 w_out 16 k_area 9 groups 1")
CONV_16 = CONV_32.replace("1x32x16x16 in 8192 w 9216 wr 8192", "1x16x32x32 in 16384 w 2304 wr 16384").replace(
    "flops 4726784", "flops 4734976").replace("c_in 32 c_out 32 d_out 1 h_out 16 w_out 16", "c_in 16 c_out 16 d_out 1 "
                                                                                           "h_out 32 w_out 32")
POOL_16 = ("pool AveragePool  out 1x16x32x32 in 16384 w 0 wr 16384 macs 0 flops 147456 batch 1 c_in 16 c_out 16 "
           "d_out 1 h_out 32 w_out 32 k_area 9 groups 1")


def profile_with(table: dict | None, coefficients=COEFFICIENTS):
    """jetson-nano's datasheet facts, known step-linear models, and the per-signature residuals ``table``."""
    document = datasheet_document("jetson-nano")
    document["layer_models"] = {c: {"form": "step_linear", "params": p, "source": "seed001"}
                                for c, p in coefficients.items()}
    if table is not None:
        document["signature_residuals"] = {"source": "seed001", "strength": 0.01, "residual_ms": table}
    return parse_profile(document, where="truth")


def measured(profile, refs):
    return [NetworkSample(model=ref, latency_ms=edgeperf.estimate(GRAPHS[ref], profile, precision="fp16")
                          .total_latency_ms, line=i) for i, ref in enumerate(refs)]


@pytest.fixture
def cached_graphs(monkeypatch):
    """Serve the graphs built once at import instead of rebuilding them for every fit."""
    from edgeperf.fitting import _networks

    real = _networks.load_model
    monkeypatch.setattr(_networks, "load_model",
                        lambda ref, input_shapes=None: GRAPHS[ref] if ref in GRAPHS else real(ref, input_shapes=input_shapes))


def test_the_signatures_used_here_are_what_the_mapping_gives():
    """The signatures the tests below name (written out by hand) occur in the cells, in varying numbers."""
    mapping = profile_with(None).mapping
    counts = np.array([[layer_signatures(map_graph(GRAPHS[r], mapping)).count(s) for s in (CONV_32, CONV_16, POOL_16)]
                       for r in CELLS])
    # five cells per stage (LatBench's network), each with up to three such edges in this sample: 0 to 15
    assert counts.max(axis=0).tolist() == [15, 15, 15] and counts.min(axis=0).tolist() == [0, 0, 0]
    # NB201 repeats one cell in three stages: the 3x3 convolutions of stages 1 and 2 come in equal numbers
    assert (counts[:, 0] == counts[:, 1]).all()


def test_layers_of_equal_shapes_at_different_places_share_a_signature():
    # FBNet positions 2 and 3 both take 24 channels to 24 at 32x32, stride 1: the same k3_e3 block in both
    graph = edgeperf.load_model("zoo:fbnet:" + "-".join(["0", "2", "2", "2"] + ["8"] * 18))
    mapped = map_graph(graph, profile_with(None).mapping)
    signatures = layer_signatures(mapped)
    expand = [i for i, s in enumerate(signatures) if "out 1x72x32x32" in s and "k_area 1 " in s]
    assert len(expand) == 2 and signatures[expand[0]] == signatures[expand[1]]
    assert mapped.layers[expand[0]].name != mapped.layers[expand[1]].name
    # the k3_e3 expansion of position 1 reads 16 channels, not 24: another signature
    assert sum("out 1x48x32x32" in s and "c_in 16 " in s for s in signatures) == 1


def test_an_unknown_signature_changes_nothing_and_a_known_one_adds_its_residual_to_each_of_its_layers():
    graph = GRAPHS[CELLS[0]]
    plain = edgeperf.estimate(graph, profile_with(None), precision="fp16")
    unknown = edgeperf.estimate(graph, profile_with({"conv Conv out 1x7x7x7": 5.0}), precision="fp16")
    assert [l.latency_ms for l in unknown.layers] == [l.latency_ms for l in plain.layers]
    assert unknown.total_latency_ms == plain.total_latency_ms
    corrected = edgeperf.estimate(graph, profile_with({CONV_32: 0.25, POOL_16: -0.001}), precision="fp16")
    signatures = layer_signatures(map_graph(graph, profile_with(None).mapping))
    expected = [{CONV_32: 0.25, POOL_16: -0.001}.get(s, 0.0) for s in signatures]
    assert any(expected)
    assert [a.latency_ms - b.latency_ms for a, b in zip(corrected.layers, plain.layers)] == pytest.approx(expected)
    assert [a.overhead_ms - b.overhead_ms for a, b in zip(corrected.layers, plain.layers)] == pytest.approx(expected)
    assert corrected.total_latency_ms - plain.total_latency_ms == pytest.approx(sum(expected))


def test_a_negative_residual_never_makes_a_layer_faster_than_zero():
    graph = GRAPHS[CELLS[0]]
    clipped = edgeperf.estimate(graph, profile_with({POOL_16: -1000.0}), precision="fp16")
    signatures = layer_signatures(map_graph(graph, profile_with(None).mapping))
    pools = [l for l, s in zip(clipped.layers, signatures) if s == POOL_16]
    assert pools and all(l.latency_ms == pytest.approx(0.0, abs=1e-12) for l in pools)


def test_the_table_round_trips_through_a_profile_file_and_bad_tables_are_refused():
    profile = profile_with({CONV_32: 0.25, POOL_16: -0.001})
    document = profile.to_document()
    assert document["signature_residuals"] == {"source": "seed001", "strength": 0.01,
                                               "residual_ms": {CONV_32: 0.25, POOL_16: -0.001}}
    again = parse_profile(json.loads(json.dumps(document)), where="again")
    assert again.signature_residuals == profile.signature_residuals
    assert again.to_document()["signature_residuals"] == document["signature_residuals"]
    for bad, fragment in [({"residual_ms": {CONV_32: "0.2"}}, "must be a number"),
                          ({"residual_ms": {CONV_32: 1e9}}, "residual_ms"),
                          ({"residual_ms": [1.0]}, "must be an object of signature -> ms"),
                          ({"strength": 0.0}, "signature_residuals.strength"),
                          ({"source": "nowhere"}, "nowhere"),
                          ({"extra": 1}, "must have source, strength and residual_ms")]:
        broken = json.loads(json.dumps(document))
        broken["signature_residuals"].update(bad)
        with pytest.raises(ProfileError, match=fragment):
            parse_profile(broken, where="broken")
    with pytest.raises(ValueError, match="non-empty string"):
        SignatureResiduals(residual_ms={" ": 1.0}, strength=1.0)


def _synthetic(offsets_ms, noise=0.0, n=80, seed=0):
    """A fit variant whose design cannot express per-signature time, and latencies with known offsets.

    Two operator classes with random work (the five columns of each), and per network 0-3 layers of
    each of six signatures drawn independently of that work; latency = the class model + offsets.
    """
    from types import SimpleNamespace

    from edgeperf.fitting._critical_fit import NetworkLayers

    rng = np.random.default_rng(seed)
    x = np.column_stack([rng.integers(5, 30, n), rng.uniform(0.5, 3.0, (n, 4)),
                         rng.integers(5, 30, n), rng.uniform(0.5, 3.0, (n, 4))]).astype(float)
    w = np.array([0.02, 2.0, 1.5, 0.0, 0.0, 0.05, 3.0, 1.0, 0.0, 0.0])
    counts = rng.integers(0, 4, (n, len(offsets_ms)))
    signatures = tuple(np.repeat(np.arange(len(offsets_ms)), row) for row in counts)
    layers = NetworkLayers(classes=tuple(np.zeros(len(s), dtype=int) for s in signatures),
                           feats=tuple(np.zeros((len(s), 5)) for s in signatures),
                           paths=tuple(([], []) for _ in signatures), n_classes=2, signatures=signatures,
                           signature_names=tuple(f"sig{i}" for i in range(len(offsets_ms))))
    y = (x @ w + counts @ np.asarray(offsets_ms)) * (1 + rng.normal(0.0, noise, n))
    variant = SimpleNamespace(merge=False, split=True, x=x, offsets=np.zeros((n, 1)), layers=layers, columns=None)
    return variant, y


@pytest.mark.parametrize("offsets_ms", [[0.4, -0.3, 0.0, 0.0, 0.2, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, -0.5]])
def test_the_network_fit_recovers_known_per_signature_offsets(offsets_ms):
    # networks of 15-60 ms: offsets of 0.2-0.5 ms per layer, 1-3 % of a network each time
    from edgeperf.fitting._network_fit import choose_network_model
    from edgeperf.fitting._networks import _RIDGE_GRID, _solve

    variant, y = _synthetic(offsets_ms)
    choice = choose_network_model([variant], y, folds=5, seed=0, solve=_solve, ridge_grid=_RIDGE_GRID,
                                  signature_residuals=None)
    assert choice.signature_record["chosen"] and choice.residual_strength == 0.01   # the weakest shrinkage tried
    recovered = [choice.residual_ms.get(f"sig{i}", 0.0) for i in range(6)]
    assert recovered == pytest.approx(offsets_ms, abs=0.01)
    assert choice.signature_record["cv_mape_with"] < 0.1 * choice.signature_record["cv_mape_without"]
    assert np.abs(choice.predict(variant.x, np.zeros(len(y)), variant.layers) / y - 1).max() < 0.002


def test_the_network_fit_keeps_no_residuals_where_there_are_none():
    from edgeperf.fitting._network_fit import choose_network_model
    from edgeperf.fitting._networks import _RIDGE_GRID, _solve

    variant, y = _synthetic([0.0] * 6, noise=0.02)
    choice = choose_network_model([variant], y, folds=5, seed=0, solve=_solve, ridge_grid=_RIDGE_GRID,
                                  signature_residuals=None)
    assert not choice.signature_record["chosen"] and choice.residual_ms is None
    forced = choose_network_model([variant], y, folds=5, seed=0, solve=_solve, ridge_grid=_RIDGE_GRID,
                                  signature_residuals=True)
    assert forced.residual_ms and forced.signature_record["rule"] == "forced"


FBNETS = ["zoo:fbnet:" + "-".join(str(r.randrange(9)) for r in [random.Random(i)] for _ in range(22)) for i in range(70)]
FBNET_GRAPHS = {ref: edgeperf.load_model(ref) for ref in FBNETS}
GRAPHS.update(FBNET_GRAPHS)


def _fbnet_signature(*parts: str) -> str:
    """The one signature of the FBNet sample that contains every fragment in ``parts``."""
    mapping = profile_with(None).mapping
    found = {s for ref in FBNETS for s in layer_signatures(map_graph(GRAPHS[ref], mapping)) if all(p in s for p in parts)}
    assert len(found) == 1, found
    return found.pop()


def test_edgeperf_fit_follows_per_signature_offsets_the_class_model_cannot(cached_graphs):
    # truth: the per-class models, +0.2 ms on every 24 -> 144 expansion at 32x32 (a k*_e6 block of positions 2-4)
    # and -0.05 ms on every ungrouped 112 -> 112 1x1 expansion at 8x8 (a k*_e1 block of positions 15-17);
    # the networks take 3-4.5 ms: offsets of 1-6 % of a network each time the kernel occurs. With 50 networks
    # and 135 signatures the table is not unique (the class coefficients take what they can express): what must
    # hold is that the fit follows the networks it has not seen, where the class model alone does not
    wide = _fbnet_signature("Relu", "out 1x144x32x32", "c_in 24 ", "groups 1")
    narrow = _fbnet_signature("Relu", "out 1x112x8x8", "c_in 112 ", "k_area 1 groups 1")
    truth = profile_with({wide: 0.2, narrow: -0.05})
    train, unseen = FBNETS[:50], FBNETS[50:]
    samples = measured(truth, train)
    base = parse_profile(datasheet_document("jetson-nano"), where="base")
    plain = fit_from_networks(samples, base, precision="fp16")
    fitted = fit_from_networks(samples, base, precision="fp16", signature_residuals=None)
    record = fitted.profile.provenance.signature_residuals
    assert record.chosen == "per_signature"
    assert record.cv_mape["per_signature"] < 0.6 * record.cv_mape["none"]
    table = fitted.profile.signature_residuals.residual_ms
    assert table[wide] > 0.01 and table[narrow] < -0.005
    truths = np.array([edgeperf.estimate(GRAPHS[r], truth, precision="fp16").total_latency_ms for r in unseen])
    with_ = np.array([edgeperf.estimate(GRAPHS[r], fitted.profile, precision="fp16").total_latency_ms for r in unseen])
    without = np.array([edgeperf.estimate(GRAPHS[r], plain.profile, precision="fp16").total_latency_ms for r in unseen])
    assert np.abs(with_ / truths - 1).mean() < 0.6 * np.abs(without / truths - 1).mean()
    # the profile's estimates of the training networks are the fit's own predictions (one model, two paths)
    trained = np.array([edgeperf.estimate(GRAPHS[s.model], fitted.profile, precision="fp16").total_latency_ms
                        for s in samples])
    assert np.abs(trained / [s.latency_ms for s in samples] - 1).mean() == pytest.approx(fitted.training.mape, rel=1e-6)
    document = fitted.profile.to_document()
    assert document["signature_residuals"]["source"] == "fit-jetson-nano-fitted"
    assert document["provenance"]["signature_residuals"]["chosen"] == "per_signature"


def test_data_without_offsets_keeps_no_table_and_a_fit_not_asked_records_nothing(cached_graphs):
    samples = measured(profile_with(None), FBNETS[:50])
    base = parse_profile(datasheet_document("jetson-nano"), where="base")
    fitted = fit_from_networks(samples, base, precision="fp16", signature_residuals=None)
    assert fitted.profile.provenance.signature_residuals.chosen == "none"
    assert fitted.profile.signature_residuals is None and "signature_residuals" not in fitted.profile.to_document()
    asked_not = fit_from_networks(samples, base, precision="fp16")
    assert asked_not.profile.provenance.signature_residuals is None


def test_on_noise_alone_the_table_is_rarely_kept_and_then_small(cached_graphs):
    """The per-class truth with 3 % measurement noise, six seeded draws: the one-standard-error rule keeps
    residuals that only fit noise in a minority of draws, and those it keeps are shrunk to under 1 % of a network."""
    clean = measured(profile_with(None), FBNETS[:50])
    mean_ms = float(np.mean([s.latency_ms for s in clean]))
    base = parse_profile(datasheet_document("jetson-nano"), where="base")
    kept = 0
    for seed in range(6):
        noise = np.random.default_rng(seed).normal(0.0, 0.03, len(clean))
        samples = [NetworkSample(model=s.model, latency_ms=s.latency_ms * (1 + e), line=s.line)
                   for s, e in zip(clean, noise)]
        table = fit_from_networks(samples, base, precision="fp16", signature_residuals=None).profile.signature_residuals
        if table is not None:
            kept += 1
            assert max(abs(v) for v in table.residual_ms.values()) < 0.01 * mean_ms
    assert kept <= 2


def test_a_base_profiles_residuals_do_not_leak_into_a_new_fit(cached_graphs):
    samples = measured(profile_with(None), TRAIN)
    base = profile_with({CONV_32: 0.3})
    fitted = fit_from_networks(samples, base, precision="fp16")
    assert fitted.profile.signature_residuals is None
    assert fitted.cross_validation.mape < 0.01
