"""Design-space search: specs, cut points, links, design metrics by hand, Pareto fronts, optuna studies."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import edgeperf
from edgeperf.profiles import shipped_profile_path
from edgeperf.dse import (
    DesignSpace,
    cut_points,
    load_spec,
    lora_time_on_air_s,
    measured_compression,
    parse_spec,
    pareto_mask,
    quantize_activation,
    search,
    shipped_links,
)

EXAMPLE = "examples/conv3dense1.onnx"


# ---- specs ---------------------------------------------------------------------------------------------------

BASE = {"models": ["zoo:mobilenet_v2"], "platforms": ["jetson-nano"]}


@pytest.mark.parametrize("change, message", [
    ({"models": []}, "models: must be a non-empty list"),
    ({"colour": "red"}, "unknown key(s) ['colour']"),
    ({"models": [{"model": "zoo:resnet18", "accuracy": 76.1}]}, "looks like a percentage"),
    ({"objectives": ["fastest"]}, "must be 'min METRIC' or 'max METRIC'"),
    ({"objectives": ["min latency_ms", "min latency_ms"]}, "names a metric twice"),
    ({"constraints": {"latency_ms": {"max": "fast"}}}, "must be a finite number"),
    ({"constraints": {"latency_ms": {"min": 5, "max": 1}}}, "min 5 is above max 1"),
    ({"constraints": {"speed": {"max": 1}}}, "unknown metric"),
    ({"precisions": ["fp8"]}, "unknown precision 'fp8'"),
    ({"operating_points": "all"}, "must be one of default, power_modes, grid"),
    ({"partition": {"server": "jetson-tx2", "links": ["carrier-pigeon"]}}, "unknown link 'carrier-pigeon'"),
    ({"partition": {"server": "jetson-tx2", "links": ["wifi"], "bits": [0]}}, "bits 1..32"),
    ({"partition": {"server": "jetson-tx2", "links": [{"mylink": {"kind": "rate", "uplink_mbps": -1}}]}},
     "must be a finite number >= 0"),
    ({"partition": {"server": "jetson-tx2", "links": ["wifi"], "compression_ratio": 0.5, "sample": "x.npy"}},
     "not both"),
    ({"platforms": ["jetson-nano", "jetson-nano"]}, "appears twice"),
])
def test_bad_specs_name_the_key_and_the_fix(change, message):
    with pytest.raises(edgeperf.InputError) as info:
        parse_spec({**BASE, **change}, where="s.yaml")
    assert message in str(info.value) and str(info.value).startswith("s.yaml: ")


def test_yaml_and_toml_files(tmp_path):
    yaml_file = tmp_path / "s.yaml"
    yaml_file.write_text("models: [zoo:resnet18]\nplatforms: [jetson-nano]\nconstraints:\n  latency_ms: {max: 50}\n")
    toml_file = tmp_path / "s.toml"
    toml_file.write_text('models = ["zoo:resnet18"]\nplatforms = ["jetson-nano"]\n[constraints.latency_ms]\nmax = 50\n')
    assert load_spec(yaml_file).constraints == load_spec(toml_file).constraints
    bad = tmp_path / "bad.yaml"
    bad.write_text("models: [zoo:resnet18\nplatforms: x\n")
    with pytest.raises(edgeperf.InputError, match="not valid YAML at line"):
        load_spec(bad)
    unsafe = tmp_path / "unsafe.yaml"
    unsafe.write_text("models: !!python/object/apply:os.system ['echo hacked']\nplatforms: [jetson-nano]\n")
    with pytest.raises(edgeperf.InputError, match="not valid YAML"):
        load_spec(unsafe)
    with pytest.raises(edgeperf.InputError, match="unknown spec format"):
        load_spec(EXAMPLE)


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                                        max_size=3), max_leaves=12)


@given(document=st.dictionaries(st.sampled_from(["models", "platforms", "precisions", "partition", "objectives",
                                                 "constraints", "operating_points", "name", "x"]), json_values))
@settings(max_examples=300, deadline=None)
def test_spec_parser_never_crashes(document):
    try:
        parse_spec(document)
    except edgeperf.InputError:
        pass


# ---- partition and links --------------------------------------------------------------------------------------


def test_cut_points_of_a_chain_skip_fused_kernels():
    graph = edgeperf.load_model(EXAMPLE)
    profile = edgeperf.load_profile("raspberry-pi-4")
    cuts = cut_points(graph, [edgeperf.map_graph(graph, profile.mapping)])
    # layers: conv_0 relu_0 conv_1 relu_1 conv_2 relu_2 flatten_0 gemm_0 softmax_0; Conv+Relu run fused,
    # so cuts after a Conv (positions 1, 3, 5) would split a kernel
    assert cuts.position.tolist() == [0, 2, 4, 6, 7, 8]
    assert cuts.after == ("input", "relu_0", "relu_1", "relu_2", "flatten_0", "gemm_0")
    assert cuts.elements.tolist() == [1 * 28 * 28, 32 * 14 * 14, 64 * 7 * 7, 32, 32, 10]
    unfused = cut_points(graph, [])
    assert unfused.position.tolist() == list(range(9))


def test_a_branch_needs_two_tensors():
    # x -> a ; x -> b ; a + b -> y: inside the branch two tensors are live
    from onnx import helper

    from edgeperf.estimator import graph_from_model
    from tests._models import model, tensor

    shape = (1, 4, 8, 8)
    nodes = [helper.make_node("Relu", ["x"], ["a"], name="a"), helper.make_node("Sigmoid", ["x"], ["b"], name="b"),
             helper.make_node("Add", ["a", "b"], ["y"], name="add")]
    graph = graph_from_model(model(nodes, [tensor("x", shape)], [tensor("y", shape)]))
    assert cut_points(graph, [], max_tensors=1).position.tolist() == [0]
    two = cut_points(graph, [], max_tensors=2)
    assert two.position.tolist() == [0, 1, 2]
    assert two.tensors[2] == ("a", "b") and two.elements[2] == 2 * 256


def test_link_transfer_by_hand():
    links = shipped_links()
    ms, mj = links["wifi"].transfer([1250.0])           # 10 000 bits at 10 Mbit/s = 1 ms
    assert ms[0] == pytest.approx(1.0)
    assert mj[0] == pytest.approx((283.17 * 10 + 132.86) * 1e-3)   # mW x s = mJ
    # LoRa SF7/125 kHz, 10 bytes: T_sym 1.024 ms; preamble 12.25 sym; payload 8 + ceil(96/28)*5 = 28 sym
    assert float(lora_time_on_air_s(10, 7, 125.0)) == pytest.approx((12.25 + 28) * 1.024e-3)
    lora = links["lora-sf7"]
    full = float(lora_time_on_air_s(222, 7, 125.0))
    ms, mj = lora.transfer([444.0])                   # two full packets, one off time of 99 x air time between
    assert ms[0] == pytest.approx((2 * full + full * 99) * 1000)
    assert mj[0] == pytest.approx(95.7 * 2 * full)


def test_quantize_activation_follows_seed003():
    values = np.array([-1.0, 0.0, 0.5, 1.0])
    # S = 0, M = 1: d = floor(f * 2^(b-1)) = -4, 0, 2, 4 at 3 bits, offset by 4 and clipped to 0..7
    packed = quantize_activation(values, 3)
    bits = np.unpackbits(packed)[:12].reshape(4, 3)
    codes = bits @ np.array([4, 2, 1])
    assert codes.tolist() == [0, 4, 6, 7]
    assert quantize_activation(values, 8).tolist() == [0, 128, 192, 255]


def test_measured_compression_sees_sparsity():
    graph = edgeperf.load_model(EXAMPLE)
    cuts = cut_points(graph, [])
    rng = np.random.default_rng(0)
    acts = {t: np.zeros(1000) for group in cuts.tensors for t in group}
    acts["input"] = rng.normal(size=1000)
    ratios = measured_compression(acts, cuts, (8, 2))
    assert ratios.shape == (cuts.size, 2)
    assert ratios[0, 0] > 0.8                         # noise does not compress
    assert ratios[1, 0] < 0.05                        # an all-zero activation does


def test_sample_measures_the_real_activations(tmp_path):
    pytest.importorskip("onnxruntime")
    sample = tmp_path / "digit.npy"
    np.save(sample, np.random.default_rng(0).random((1, 1, 28, 28), dtype=np.float32))
    spec = parse_spec({"models": [EXAMPLE], "platforms": ["raspberry-pi-4"], "objectives": ["min energy_mj"],
                       "partition": {"server": "jetson-tx2", "links": ["wifi"], "bits": [8], "sample": str(sample)}})
    space = DesignSpace(spec)
    ratios = space.configs[0].ratios
    assert ratios.shape == (6, 1) and np.all((ratios > 0) & (ratios <= 1))
    assert any("measured with zlib" in note for note in space.notes)
    np.save(sample, np.zeros((3, 3), dtype=np.float32))
    with pytest.raises(edgeperf.InputError, match="does not match the model input"):
        DesignSpace(spec)


# ---- design metrics ------------------------------------------------------------------------------------------


def with_overhead(name: str, ms: float, folder) -> str:
    """A copy of a shipped profile with a per-inference overhead, as a file."""
    document = json.loads(shipped_profile_path(name).read_text())
    document["inference_overhead_ms"] = {"value": ms, "source": next(iter(document["sources"]))}
    path = folder / f"{name}-overhead.json"
    path.write_text(json.dumps(document))
    return str(path)


def split_designs(result, device, server):
    """Each split design of a search over EXAMPLE with the estimated layers each side runs; unsplit ones are checked.

    Yields ``(design, prefix, suffix)``: the first ``position`` nodes run on the device. A design
    without a split must take the device estimate's time.
    """
    for i in range(result.n_evaluated):
        design = result.design(i)
        if design.partition is None:
            assert design.latency_ms == pytest.approx(device.total_latency_ms)
            continue
        on_device = set(edgeperf.load_model(EXAMPLE).layers[k].name for k in range(design.partition.position))
        yield (design, [layer for layer in device.layers if set(layer.nodes) <= on_device],
               [layer for layer in server.layers if not set(layer.nodes) & on_device])


@pytest.mark.parametrize("overheads", [(0.0, 0.0), (1.5, 0.7)])
def test_split_design_metrics_by_hand(overheads, tmp_path):
    device_fixed, server_fixed = overheads
    device_profile = with_overhead("raspberry-pi-4", device_fixed, tmp_path)
    server_profile = with_overhead("jetson-tx2", server_fixed, tmp_path)
    spec = parse_spec({"models": [EXAMPLE], "platforms": [device_profile], "precisions": ["fp32"],
                       "objectives": ["min energy_mj", "min latency_ms"],
                       "partition": {"server": server_profile, "links": ["wifi"], "bits": [8, 4],
                                     "compression_ratio": 0.5}})
    result = search(spec)
    assert result.n_evaluated == 1 + 6 * 1 * 2
    device = edgeperf.estimate(EXAMPLE, device_profile, precision="fp32")
    server = edgeperf.estimate(EXAMPLE, server_profile)
    idle_mw = edgeperf.load_profile("raspberry-pi-4").power.idle_mw
    for design, prefix, suffix in split_designs(result, device, server):
        p = design.partition
        elements = {"input": 784, "relu_0": 6272, "relu_1": 3136, "relu_2": 32, "flatten_0": 32, "gemm_0": 10}
        payload = math.ceil(elements[p.cut_after] * p.bits / 8) * 0.5
        transfer_ms = payload * 8 / 10e6 * 1000
        assert p.transfer_bytes == pytest.approx(payload)
        # each side pays its per-inference overhead once, if it runs any layer
        fixed_ms = (device_fixed if prefix else 0.0) + (server_fixed if suffix else 0.0)
        assert design.latency_ms == pytest.approx(sum(x.latency_ms for x in prefix) + transfer_ms
                                                  + sum(x.latency_ms for x in suffix) + fixed_ms)
        radio_mj = (283.17 * 10 + 132.86) * transfer_ms / 1000
        device_fixed_mj = idle_mw * device_fixed / 1000 if prefix else 0.0
        assert design.energy_mj == pytest.approx(sum(x.energy_mj for x in prefix) + radio_mj + device_fixed_mj)


def brute_force_front(points):
    keep = []
    for i, p in enumerate(points):
        dominated = any(all(q <= p) and any(q < p) for j, q in enumerate(points) if j != i)
        duplicate_before = any(np.array_equal(points[j], p) for j in range(i))
        keep.append(not dominated and not duplicate_before)
    return np.array(keep)


@given(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 6), st.integers(0, 6)), min_size=1, max_size=40))
@settings(max_examples=200, deadline=None)
def test_pareto_mask_matches_brute_force(rows):
    values = np.array(rows, dtype=float)
    assert pareto_mask(values).sum() == brute_force_front(values).sum()
    front = values[pareto_mask(values)]
    for p in values:
        assert any(np.all(f <= p) for f in front)


def test_traffic_light_example_reproduces_seed003():
    result = search("examples/traffic_light.yaml")
    cheapest = result.best_for("cost_eur")
    assert (cheapest.model, cheapest.platform) == ("yolov5s", "jetson-nano")     # seed 003's conclusion
    assert {d.platform for d in result.pareto} <= {"jetson-nano", "jetson-tx2"}
    assert all(d.latency_ms <= 100 and d.accuracy >= 0.55 for d in result.pareto)
    assert result.infeasible_by.get("latency_ms", 0) > 0
    document = result.to_dict()
    for key in ("pareto", "n_evaluated", "n_feasible"):
        assert key in document
    for key in ("model", "platform", "precision", "latency_ms", "energy_mj", "accuracy", "cost_eur", "operating_point",
                "partition"):
        assert key in document["pareto"][0]


def test_memory_constraint_and_no_feasible_design():
    spec = parse_spec({"models": ["zoo:vgg16"], "platforms": [{"platform": "intel-ncs2", "memory_bytes": 1000}],
                       "objectives": ["min latency_ms"]})
    result = search(spec)
    assert result.n_feasible == 0 and result.pareto == () and result.infeasible_by == {"memory": 1}
    assert any("no feasible design" in note for note in result.notes)


def test_grid_operating_points_expand_the_space():
    spec = {"models": ["zoo:mobilenet_v2"], "platforms": ["jetson-nano"], "precisions": ["fp16"],
            "objectives": ["min energy_mj", "min latency_ms"]}
    assert search(parse_spec(spec)).n_evaluated == 1
    grid = search(parse_spec({**spec, "operating_points": "grid"}))
    assert grid.n_evaluated == 12 * 15          # GPU x CPU steps (the EMC has one)
    dvfs = edgeperf.dvfs("zoo:mobilenet_v2", "jetson-nano", precision="fp16")
    assert grid.best_for("energy_mj").energy_mj == pytest.approx(dvfs.energy_optimal.energy_mj)


def test_batches_are_a_dimension_of_the_search_and_match_dvfs_per_inference():
    spec = {"models": ["zoo:mobilenet_v2"], "platforms": ["jetson-nano-pytorch"], "batches": [1, 8],
            "operating_points": "grid", "objectives": ["min energy_mj", "max throughput_per_s"]}
    result = search(parse_spec(spec))
    assert result.n_evaluated == 2 * 12 * 15
    dvfs = edgeperf.dvfs("zoo:mobilenet_v2", "jetson-nano-pytorch", batch=[1, 8])
    best = result.best_for("energy_mj")
    assert best.batch == dvfs.energy_optimal.batch == 8
    assert best.energy_mj == pytest.approx(dvfs.energy_optimal.energy_mj)
    fastest = result.best_for("throughput_per_s")
    assert fastest.batch == 8 and fastest.throughput_per_s == pytest.approx(8000.0 / fastest.latency_ms)
    with pytest.raises(edgeperf.InputError, match="batches"):
        parse_spec({**spec, "batches": [0]})


# ---- optuna --------------------------------------------------------------------------------------------------

SAMPLED = {"models": ["zoo:mobilenet_v2", "zoo:resnet18", "zoo:squeezenet1_1"],
           "platforms": ["jetson-nano", "jetson-tx2", "raspberry-pi-4"], "operating_points": "grid",
           "objectives": ["min latency_ms", "min energy_mj"], "constraints": {"latency_ms": {"max": 20}}}


def complete_trials(journal, name):
    optuna = pytest.importorskip("optuna")
    from edgeperf.dse._study import make_storage

    study = optuna.load_study(study_name=name, storage=make_storage(f"journal:{journal}"))
    return study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))


def test_study_continues_on_rerun(tmp_path):
    pytest.importorskip("optuna")
    journal = tmp_path / "s.journal"
    spec = parse_spec(SAMPLED)
    first = search(spec, trials=20, storage=f"journal:{journal}", study_name="s", sampler="tpe", seed=1)
    assert first.n_trials == 20 and first.n_evaluated <= 20     # n_evaluated: the distinct designs among them
    again = search(spec, trials=30, storage=f"journal:{journal}", study_name="s", sampler="tpe", seed=1)
    assert again.n_trials == 30 and any("already complete" in n for n in again.notes)
    assert len(complete_trials(journal, "s")) == 30
    exhaustive = search(spec)
    assert all(d.feasible for d in again.pareto)
    best = exhaustive.best_for("latency_ms").latency_ms
    assert all(d.latency_ms >= best - 1e-9 for d in again.pareto)


def test_workers_share_one_study_without_loss_or_duplicates(tmp_path):
    pytest.importorskip("optuna")
    journal = tmp_path / "w.journal"
    result = search(parse_spec(SAMPLED), trials=45, workers=3, storage=f"journal:{journal}", study_name="w",
                    sampler="random")
    trials = complete_trials(journal, "w")
    assert result.n_trials == 45 == len(trials)
    assert result.n_evaluated == len({tuple(t.user_attrs["design"]) for t in trials})
    assert len({t.number for t in trials}) == 45
    assert len({t.datetime_start for t in trials}) > 1


def test_killed_search_resumes_to_the_exact_budget(tmp_path):
    pytest.importorskip("optuna")
    spec_file = tmp_path / "k.yaml"
    import yaml

    spec_file.write_text(yaml.safe_dump(SAMPLED))
    journal = tmp_path / "k.journal"
    command = [sys.executable, "-m", "edgeperf.cli", "search", str(spec_file), "--trials", "300", "--sampler",
               "random", "--storage", f"journal:{journal}", "--study-name", "k", "--format", "json"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not journal.exists() or journal.stat().st_size < 20_000):
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    interrupted = len(complete_trials(journal, "k"))
    assert 0 < interrupted < 300
    finished = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr
    assert len(complete_trials(journal, "k")) == 300


def test_spec_files_resolve_relative_to_the_spec(tmp_path):
    import shutil

    folder = tmp_path / "study"
    folder.mkdir()
    shutil.copy(EXAMPLE, folder / "net.onnx")
    (folder / "spec.yaml").write_text("models: [net.onnx]\nplatforms: [raspberry-pi-4]\nprecisions: [fp32]\n"
                                      "objectives: [min latency_ms]\n")
    spec = load_spec(folder / "spec.yaml")
    assert spec.models[0].ref == str(folder / "net.onnx")
    assert search(spec).n_evaluated == 1


def test_sqlite_storage(tmp_path):
    pytest.importorskip("optuna")
    spec = parse_spec(SAMPLED)
    result = search(spec, trials=12, storage=f"sqlite:///{tmp_path / 's.db'}", study_name="q", sampler="random")
    assert result.n_trials == 12 and result.engine == "optuna:random"
    again = search(spec, trials=15, storage=f"sqlite:///{tmp_path / 's.db'}", study_name="q", sampler="random")
    assert again.n_trials == 15


def test_a_link_derived_from_a_shipped_one():
    spec = parse_spec({**BASE, "partition": {"server": "jetson-tx2",
                                             "links": [{"fast-wifi": {"base": "wifi", "uplink_mbps": 40}}]}})
    link = spec.partition.links[0]
    wifi = shipped_links()["wifi"]
    assert (link.name, link.kind, link.uplink_mbps) == ("fast-wifi", "rate", 40.0)
    assert link.power_alpha_mw_per_mbps == wifi.power_alpha_mw_per_mbps and link.power_beta_mw == wifi.power_beta_mw


def test_a_board_without_a_power_model_has_unknown_energy_in_the_search_not_zero():
    spec = {"models": ["zoo:mobilenet_v2"], "platforms": ["snapdragon-855-cpu-nb201"], "objectives": ["min latency_ms"]}
    result = search(parse_spec(spec))
    design = result.best_for("latency_ms")
    assert design.energy_mj is None and design.power_mw is None
    assert design.to_dict()["energy_mj"] is None


def test_a_search_constrains_the_pessimistic_end_of_the_interval():
    # issue 16 item 4: with an interval on every estimate, a search can bound its high end
    spec = {"models": ["zoo:resnet18"], "platforms": ["jetson-nano"], "precisions": ["fp16", "fp32"],
            "objectives": ["min latency_ms_high"]}
    result = search(parse_spec(spec))
    nano = next(d for d in (result.design(i) for i in range(result.n_evaluated)) if d.platform == "jetson-nano")
    single = edgeperf.estimate("zoo:resnet18", "jetson-nano", precision=nano.precision)
    assert nano.latency_ms == pytest.approx(single.total_latency_ms, rel=1e-9)
    assert nano.latency_ms_high == pytest.approx(single.total_latency_ms_high, rel=1e-9)
    assert nano.latency_ms_high > nano.latency_ms
    no_interval = search(parse_spec({"models": ["zoo:resnet18"], "platforms": ["snapdragon-855-cpu-nb201"]})).design(0)
    assert no_interval.latency_ms_high == no_interval.latency_ms       # no interval: the estimate itself
    limit = (nano.latency_ms + nano.latency_ms_high) / 2               # the estimate passes, its high end does not
    bounded = search(parse_spec({**spec, "precisions": [nano.precision],
                                 "constraints": {"latency_ms_high": {"max": limit}}}))
    assert bounded.n_feasible == 0 and bounded.infeasible_by == {"latency_ms_high": 1}
