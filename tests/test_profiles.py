"""Profiles: schema validation with clear messages, golden estimates for every shipped profile."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

import edgeperf
from edgeperf import ProfileError
from edgeperf.cli import main
from edgeperf.profiles import list_profiles, load_profile, parse_profile, shipped_profile_path
from tests._models import single

GOLDEN = Path(__file__).resolve().parent / "golden"
SHIPPED = ("coral-edgetpu", "coral-edgetpu-nb201", "coral-usb", "intel-ncs2", "jetson-nano", "jetson-nano-fp32-nb201",
           "jetson-nano-nb201", "jetson-nano-pytorch", "jetson-tx2", "jetson-tx2-fbnet", "jetson-xavier-nx",
           "jetson-xavier-nx-pytorch", "raspberry-pi-3", "raspberry-pi-3-ncnn", "raspberry-pi-3bplus",
           "raspberry-pi-3bplus-ncnn", "raspberry-pi-4", "raspberry-pi-4-armnn", "raspberry-pi-4-ncnn",
           "raspberry-pi-4-nb201", "snapdragon-855-cpu-nb201", "snapdragon-855-dsp-nb201", "snapdragon-855-gpu-nb201")


def document(name="jetson-nano") -> dict:
    return json.loads(shipped_profile_path(name).read_text())


def test_the_issue_asks_for_these_profiles():
    assert set(SHIPPED) == set(list_profiles())


@pytest.mark.parametrize("name", SHIPPED)
def test_every_number_cites_a_defined_source(name):
    doc = document(name)
    sources = doc["sources"]

    def walk(node, path):
        if isinstance(node, dict):
            if "value" in node and isinstance(node.get("value"), (int, float, list)):
                assert node.get("source") in sources, path
            for key, value in node.items():
                walk(value, f"{path}.{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{path}[{i}]")

    walk(doc, name)
    for key, model in doc["layer_models"].items():
        assert model["source"] in sources, key
    for rule in doc["mapping"]["rules"]:
        assert rule["source"] in sources
    profile = load_profile(name)
    assert profile.quality and profile.kind in ("datasheet", "calibrated", "fitted", "derived")


def mutate(path: str, value):
    doc = document()
    node = doc
    keys = path.split(".")
    for key in keys[:-1]:
        node = node[int(key)] if isinstance(node, list) else node[key]
    if value is _DELETE:
        del node[keys[-1]]
    else:
        node[keys[-1]] = value
    return doc


_DELETE = object()

BAD = [
    ("schema_version", 99, "schema_version 99 is not supported"),
    ("precisions.fp16.peak_gflops.value", -5, "precisions.fp16.peak_gflops.value must be > 0, got -5"),
    ("precisions.fp16.peak_gflops.value", "fast", "must be a number"),
    ("precisions.fp16.peak_gflops.source", "nowhere", "unknown source 'nowhere'"),
    ("precisions.fp16.peak_gflops", 472, '"value": number'),
    ("memory_bandwidth_gbps", _DELETE, "memory_bandwidth_gbps is missing"),
    ("default_precision", "int4", "'int4' is not among the profile's precisions"),
    ("power.idle_mw.value", -1, "power.idle_mw.value must be in"),
    ("power.active_mw.gpu_magic", {"value": 1, "source": "seed001"}, "not an operator class"),
    ("layer_models.default.form", "crystal_ball", "unknown cost model 'crystal_ball'"),
    ("layer_models.default.params.compute_scale", -1.0, "compute_scale must be a finite number"),
    ("clocks.compute_domain", "npu", "'npu' is not a defined clock domain"),
    ("clocks.domains.gpu.reference_mhz.value", 1000.0, "must be one of available_mhz"),
    ("power_modes.5W.caps_mhz.dsp", {"value": 1, "source": "seed001"}, "is not a clock domain"),
    ("mapping.rules.0.primary", [], "primary must list at least one"),
    ("mapping.rules", None, "mapping.rules must be a list"),   # found by the fuzz suite
    ("mapping.rules.0.colour", "red", "unknown keys ['colour']"),
    ("mapping.merge_siblings", ["Conv"], "mapping.merge_siblings must be an object with op_types"),
    ("mapping.merge_siblings", {"op_types": "Conv", "source": "trt-fusion"}, "must be an object with op_types"),
    ("mapping.merge_siblings", {"op_types": ["Conv"], "source": "rumour"}, "unknown source 'rumour'"),
    ("layer_models.conv", {"form": "step_linear", "params": {"weight_scale": -1}, "source": "seed001"},
     "weight_scale must be a finite number"),
    ("mapping.fold", {"op_types": "QuantizeLinear", "source": "trt-fusion"}, "mapping.fold must be an object with op_types"),
    ("mapping.copy_elision", [{"op_types": ["Pad"], "when": "sometimes", "source": "trt-fusion"}],
     "copy_elision.when must be one of"),
    ("mapping.winograd", {"kernel": 3, "work_scale": {"value": 1.5, "source": "trt-fusion"}},
     "mapping.winograd.work_scale.value must be in"),
    ("mapping.winograd", {"kernel": 0, "work_scale": {"value": 0.5, "source": "trt-fusion"}},
     "mapping.winograd.kernel must be an integer"),
    ("mapping.rules.0.subgraph", "yes", "subgraph must be true or false"),
    ("parameter_memory", {"on_chip_bytes": {"value": 8e6, "source": "seed001"}}, "parameter_memory.stream_gbps is missing"),
    ("uncertainty", {"coverage": 1.5, "residuals": 3, "method": "m", "half_width": {"value": 0.1, "source": "seed001"}},
     "uncertainty.coverage must be a number in (0, 1)"),
    ("uncertainty", {"coverage": 0.9, "residuals": 3, "method": "m", "half_width": {"value": 0.1, "source": "seed001"},
                     "fitted_classes": ["teleport"]}, "uncertainty.fitted_classes must be a list of operator classes"),
    ("turbo", True, "unknown top-level key(s) ['turbo']"),
    ("sources", {}, "sources must be a non-empty object"),
]


@pytest.mark.parametrize("path,value,fragment", BAD, ids=[b[0] + "=" + repr(b[1])[:12] for b in BAD])
def test_schema_violation_names_key_and_value(path, value, fragment):
    with pytest.raises(ProfileError) as info:
        parse_profile(mutate(path, value), where="bad.json")
    assert fragment in str(info.value)
    assert str(info.value).startswith("bad.json: ")


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_numbers_are_refused_at_parse_time(tmp_path, literal, capsys):
    text = shipped_profile_path("jetson-nano").read_text().replace('"value": 472.0', f'"value": {literal}', 1)
    path = tmp_path / "nan.json"
    path.write_text(text)
    with pytest.raises(ProfileError, match="not allowed"):
        load_profile(path)
    assert main(["estimate", "examples/conv3dense1.onnx", "-p", str(path)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "nan.json" in err


@pytest.mark.parametrize("content,fragment", [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "must be a JSON object"),
    ("", "not valid JSON"),
])
def test_corrupt_profile_files(tmp_path, content, fragment, capsys):
    path = tmp_path / "broken.json"
    path.write_text(content)
    assert main(["estimate", "examples/conv3dense1.onnx", "-p", str(path)]) == 2
    err = capsys.readouterr().err
    assert fragment in err and len(err.strip().splitlines()) == 1


def test_binary_profile_file(tmp_path, capsys):
    path = tmp_path / "binary.json"
    path.write_bytes(b"\xff\xfe\x00garbage")
    assert main(["profiles", "show", str(path)]) == 2
    assert "not a UTF-8" in capsys.readouterr().err


def test_missing_profile_path(tmp_path, capsys):
    assert main(["profiles", "show", str(tmp_path / "none.json")]) == 2
    assert "no such file" in capsys.readouterr().err


def by_hand(profile, precision: str, flops: float, elements: float, op_class: str = "activation") -> float:
    """Latency of one layer from the profile's own numbers (independent of the estimator).

    Roofline: ``max(flops / (eff_c peak), bytes / (eff_m bw)) + overhead``; step-linear (fitted
    profiles): ``overhead + compute_scale flops / peak + memory_scale bytes / bw``.
    """
    model = profile.layer_model(op_class)
    bits = {"fp32": 32, "fp16": 16, "int8": 8}[precision]
    peak_per_ms = profile.precisions[precision] * 1e6
    bytes_per_ms = profile.memory_bandwidth_gbps * 1e6
    operating = profile.operating
    occupancy, cpu_ms, exposed = 1.0, 0.0, 0.0
    if operating is not None and not operating.anchored:
        # an anchored operating model (a fitted board model) adds nothing at reference clocks and batch 1; otherwise
        # operating model: occupancy of the outputs (half the elements), the exposed shorter part (of a roofline's
        # max only), and the CPU's pre/post-processing of the one inference plus the launch of the one kernel
        outputs = elements / 2
        occupancy = outputs / (outputs + operating.occupancy_per_lane * operating.gpu_lanes)
        cpu_ms = (operating.pre_post_ms + operating.dispatch_us / 1000) / operating.cpu_speed
        exposed = operating.overlap_exposed
    if model.form == "step_linear":   # an elementwise layer: half the elements read, half written, no weights
        assert not model.params.get("steps")
        scale = model.params["memory_scale"]
        moved = (scale + model.params.get("output_scale", scale)) / 2 * elements * bits / 8
        return (model.params["overhead_ms"] + model.params["compute_scale"] * flops / (peak_per_ms * occupancy)
                + moved / bytes_per_ms + cpu_ms)
    assert model.form == "roofline"
    compute = flops / (peak_per_ms * model.params["compute_efficiency"] * occupancy)
    memory = elements * bits / 8 / (bytes_per_ms * model.params["memory_efficiency"])
    return max(compute, memory) + exposed * min(compute, memory) + model.params["overhead_ms"] + cpu_ms


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_profile_agrees_with_hand_computation(name):
    profile = load_profile(name)
    graph = edgeperf.estimator.graph_from_model(single("Relu", [(1, 64, 56, 56)], (1, 64, 56, 56)))
    est = edgeperf.estimate(graph, profile)
    elements = 2 * 64 * 56 * 56       # read + write
    flops = 64 * 56 * 56              # one max per element
    additive = by_hand(profile, est.precision, flops, elements) + profile.inference_overhead_ms   # once per inference
    term = profile.network_term
    if term is not None:   # the power law R (A / R) ** gamma, the nearer end's factor outside [lower, upper]
        clipped = min(max(additive, term.lower_ms), term.upper_ms)
        additive *= (clipped / term.reference_ms) ** (term.gamma - 1.0)
    assert est.total_latency_ms == pytest.approx(additive)


def golden_estimates(name: str) -> dict:
    result = {}
    for model in ("resnet18", "mobilenet_v2"):
        est = edgeperf.estimate(f"zoo:{model}", name)
        result[model] = {"precision": est.precision, "total_latency_ms": est.total_latency_ms,
                         "total_energy_mj": est.total_energy_mj,
                         "layers": [[layer.name, layer.op_type, layer.latency_ms] for layer in est.layers]}
    return result


@pytest.mark.parametrize("name", SHIPPED)
def test_golden_estimates(name):
    """Guards shipped profiles and the estimator against unintended change.

    After an intended change, regenerate with ``python -m tests.test_profiles`` and
    review the diff of tests/golden/ like any other change.
    """
    expected = json.loads((GOLDEN / f"{name}.json").read_text())
    actual = golden_estimates(name)
    for model, want in expected.items():
        got = actual[model]
        assert got["precision"] == want["precision"]
        assert got["total_latency_ms"] == pytest.approx(want["total_latency_ms"], rel=1e-9)
        if want["total_energy_mj"] is None:              # no power model: energy unknown
            assert got["total_energy_mj"] is None
        else:
            assert got["total_energy_mj"] == pytest.approx(want["total_energy_mj"], rel=1e-9)
        assert [row[:2] for row in got["layers"]] == [row[:2] for row in want["layers"]]
        assert [row[2] for row in got["layers"]] == pytest.approx([row[2] for row in want["layers"]], rel=1e-9)


def test_profiles_cli(capsys):
    assert main(["profiles", "list"]) == 0
    out = capsys.readouterr().out
    for name in SHIPPED:
        assert name in out
    assert main(["profiles", "show", "intel-ncs2"]) == 0
    out = capsys.readouterr().out
    assert "refined_roofline" in out and "annette-ncs2" in out
    assert main(["profiles", "show", "jetson-nano", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["name"] == "jetson-nano"


def test_user_profile_by_path(tmp_path):
    doc = copy.deepcopy(document())
    doc["name"] = "my-nano"
    doc["precisions"]["fp16"]["peak_gflops"]["value"] = 236.0
    path = tmp_path / "my-nano.json"
    path.write_text(json.dumps(doc))
    mine = edgeperf.estimate("zoo:resnet18", str(path), precision="fp16")
    shipped = edgeperf.estimate("zoo:resnet18", "jetson-nano", precision="fp16")
    assert mine.platform == "my-nano"
    assert mine.total_latency_ms > shipped.total_latency_ms



# ---- one parser, one serializer ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_profile_is_written_back_as_it_was_read(name):
    doc = document(name)
    written = load_profile(name).to_document()
    assert written == doc                                   # every key, value, source and note
    assert parse_profile(written).to_document() == doc


def test_parsing_copies_the_document_so_the_profile_never_changes_with_it():
    doc = document("jetson-nano-nb201")
    profile = parse_profile(doc)
    before = profile.to_document()
    doc["quality"] = "changed after parsing"
    doc["power"]["idle_mw"]["value"] = 1.0
    doc["runtime"]["name"] = "changed"
    doc["provenance"]["fitted_classes"].append("norm")
    doc["layer_models"]["conv"]["params"]["compute_scale"] = 99.0
    assert profile.to_document() == before
    assert profile.quality == before["quality"] and profile.power.idle_mw == before["power"]["idle_mw"]["value"]
    assert profile.provenance.fitted_classes == ("conv", "elementwise", "gemm", "pool")
    written = profile.to_document()
    written["sources"]["seed001"] = "changed in the copy"   # the serializer hands out a fresh document
    assert profile.to_document() == before


def test_a_number_set_without_a_citation_cannot_be_written():
    from dataclasses import replace
    from types import MappingProxyType

    profile = load_profile("jetson-nano")
    uncited = replace(profile, power=replace(profile.power, domain_mw=MappingProxyType({"cpu": 500.0})))
    assert uncited.power.domain_mw["cpu"] == 500.0          # the value is there, usable by the estimator
    with pytest.raises(ProfileError, match="power.domain_mw.cpu .* cites no source"):
        uncited.to_document()


def test_a_citation_of_an_undefined_source_is_refused_when_the_profile_is_made():
    from dataclasses import replace
    from types import MappingProxyType

    from edgeperf.profiles import Citation

    profile = load_profile("jetson-nano")
    with pytest.raises(ProfileError, match="unknown source"):
        replace(profile, citations=MappingProxyType({**profile.citations, ("power", "idle_mw"): Citation(source="x")}))


if __name__ == "__main__":
    GOLDEN.mkdir(exist_ok=True)
    for profile_name in SHIPPED:
        (GOLDEN / f"{profile_name}.json").write_text(json.dumps(golden_estimates(profile_name), indent=1) + "\n")
        print("wrote", GOLDEN / f"{profile_name}.json")
