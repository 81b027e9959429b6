"""The prior over network-fit coefficients: shipped data, validation, alignment, its target, and fits leaning on it."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

import edgeperf
from edgeperf import ProfileError
from edgeperf.cli import main
from edgeperf.fitting import Prior, fit_from_networks, load_prior, parse_prior, with_sibling_merge
from edgeperf.fitting._prior import PROBE, Reference, prior_target, probe_features, variant_key
from edgeperf.profiles import load_profile

from ._profiles import datasheet
from .test_fit import GRAPHS, NB201, _patch_loader, measured, truth_profile, write_table

GRAPHS.setdefault(PROBE, edgeperf.load_model(PROBE))   # the unit-conversion probe, served by the patched loader

TRUTH = {"default": {"overhead_ms": 0.01, "compute_scale": 2.0, "memory_scale": 2.0},
         "conv": {"overhead_ms": 0.05, "compute_scale": 3.0, "memory_scale": 1.0},
         "pool": {"overhead_ms": 0.02, "compute_scale": 1.0, "memory_scale": 4.0}}


def test_shipped_prior_loads_with_its_provenance():
    prior = load_prior()
    assert len(prior.references) == 21 and set(prior.families) == {"tensorrt", "tflite"}
    assert "lodo_fit.py" in prior.provenance["source"] and prior.provenance["fitted_on"]
    names = {r.device for r in prior.references}
    assert {"lb-nano-fp16", "nb201-raspi4", "fbnet-tx2"} <= names
    for reference in prior.references:
        assert reference.networks == 1000 and "shared/external" in reference.source
        for family in prior.families:
            assert set(reference.fits[family]) == {"plain-one", "plain-split", "merged-one", "merged-split"}
    assert len(prior.without("jetson-nano").references) == 19   # the Nano's fp16 and fp32 columns


def _document(**changes):
    document = load_prior().to_document()
    for path, value in changes.items():
        where = document
        keys = path.split(".")
        for key in keys[:-1]:
            where = where[int(key)] if isinstance(where, list) else where[key]
        where[keys[-1]] = value
    return document


@pytest.mark.parametrize("changes,fragment", [
    ({"schema": "x"}, "schema must be 'edgeperf.network-prior/1'"),
    ({"provenance": {}}, "provenance must say what the prior was fitted on"),
    ({"references.0.fits.tensorrt.plain-one.conv": [1.0, -2.0, 0.0, 0.0, 0.0]}, "must be 5 finite numbers >= 0"),
    ({"references.0.fits.tensorrt.plain-twice": {}}, "is not a variant"),
    ({"references.0.fits.openvino": {}}, "is not a family"),
    ({"references": []}, "references must be a non-empty list"),
    ({"families.tflite.probe_features": [1.0, -1.0]}, "families.tflite.probe_features must be 5 finite numbers"),
    ({"references.0.networks": "many"}, "references[0].networks must be a whole number of networks >= 1, got 'many'"),
    ({"references.0.fits.tensorrt": [1, 2]}, "fits.tensorrt must be an object of variants"),
    ({"references.0.fits.tensorrt.plain-one": 3}, "plain-one must be an object of classes, got 3"),
    ({"families.tensorrt.mapping": "trt"}, "families.tensorrt must have base_profile and precision"),
])
def test_bad_prior_documents_are_refused_naming_the_key(changes, fragment):
    with pytest.raises(ProfileError, match=fragment.replace("[", r"\[")):
        parse_prior(_document(**changes))


def test_a_base_uses_the_family_with_its_fusion_rules_only():
    prior = load_prior()
    def rules(profile):
        return profile.to_document()["mapping"]

    # the -nb201 profiles keep the fusion rules the prior was fitted with (TensorRT's, TensorFlow Lite's)
    assert prior.family_for(rules(load_profile("jetson-nano-nb201"))) == "tensorrt"
    assert prior.family_for(rules(with_sibling_merge(load_profile("jetson-nano-fp32-nb201")))) == "tensorrt"
    assert prior.family_for(rules(load_profile("coral-edgetpu-nb201"))) == "tflite"
    # the board profiles' runtimes also fold Q/DQ, elide copies and run Winograd: their classes differ
    assert prior.family_for(rules(load_profile("jetson-nano"))) is None
    assert prior.family_for(rules(load_profile("raspberry-pi-4"))) is None
    assert prior.family_for(rules(load_profile("intel-ncs2"))) is None


def test_the_unit_conversion_rests_on_the_priors_own_probe_row():
    """The Nano fp16 NB201 profile has the peaks the prior's TensorRT base had: a conversion factor of 1 per column.

    (The shipped jetson-nano profile is now a fitted board profile with other peaks and a Winograd
    work scale; the prior stores its base's probe row, so that change cannot shift the references.)
    """
    prior = load_prior()
    stored = prior.families["tensorrt"]["probe_features"]
    assert probe_features(load_profile("jetson-nano-nb201"), "fp16").tolist() == pytest.approx(stored, rel=1e-12)
    assert probe_features(load_profile("jetson-nano"), "fp16").tolist() != pytest.approx(stored, rel=1e-3)


def _prior(fits_by_device: dict) -> Prior:
    """References in the units of the Nano's datasheet roofline (the truth's and the fits' base)."""
    nano = datasheet("jetson-nano")
    references = tuple(Reference(device=name, hardware=name, title=name, source="test", networks=1,
                                 fits={"tensorrt": fits}) for name, fits in fits_by_device.items())
    return Prior(families={"tensorrt": {"base_profile": "jetson-nano", "precision": "fp16",
                                        "mapping": nano.to_document()["mapping"],
                                        "probe_features": probe_features(nano, "fp16").tolist()}},
                 references=references, provenance={"source": "test"})


def test_aligned_orders_classes_divides_by_units_and_skips_references_lacking_a_class():
    prior = _prior({"a": {"plain-one": {"conv": [1, 2, 3, 4, 5], "pool": [6, 7, 8, 9, 10]}},
                    "b": {"plain-one": {"conv": [1, 1, 1, 1, 1]}}})
    aligned = prior.aligned("tensorrt", False, False, ["pool", "conv"], units=[1, 2, 4, 1, 1])
    assert [name for name, _ in aligned] == ["a"]      # b has no pool coefficients
    # pool then conv; compute columns halved, input-memory columns quartered
    assert aligned[0][1].tolist() == [6, 3.5, 2, 9, 10, 1, 1, 0.75, 4, 5]
    assert prior.aligned("tensorrt", True, False, ["conv"]) == []   # no merged-one fits


def test_target_of_references_proportional_to_the_truth_is_the_truth():
    rng = np.random.default_rng(0)
    x = rng.uniform(0.5, 2.0, size=(8, 3))
    truth = np.array([0.3, 1.5, 0.7])
    y = x @ truth
    references = [(f"r{k}", truth * factor) for k, factor in enumerate((0.5, 2.0, 3.0, 7.0))]
    target, weights = prior_target(x, y, np.zeros(8), references)
    assert target == pytest.approx(truth, rel=1e-9)
    # identical shapes: every coefficient's spread is the 2 % floor, pull 1 / (mean y * 0.02)
    assert weights == pytest.approx(np.full(3, 1.0 / (y.mean() * 0.02)))
    assert prior_target(x, y, np.zeros(8), references[:3]) is None      # rank 2 needs four references


def test_few_networks_lean_on_a_prior_that_knows_the_device(monkeypatch):
    """Five networks cannot pin twelve coefficients; references shaped like the truth can."""
    _patch_loader(monkeypatch)
    truth = truth_profile(TRUTH)
    coefficients = {}
    for op_class in ("conv", "pool", "elementwise", "gemm"):
        p = TRUTH.get(op_class, TRUTH["default"])
        one = [p["overhead_ms"], p["compute_scale"], p["memory_scale"], 0.0, 0.0]
        coefficients[op_class] = one
    fits = {variant_key(m, s): {c: (v[:3] + [v[2], v[2]] if s else v) for c, v in coefficients.items()}
            for m in (False, True) for s in (False, True)}
    # four reference devices: the truth at different speeds (a device is its shape times a speed)
    prior = _prior({f"dev{k}": {key: {c: [f * x for x in v] for c, v in fit.items()} for key, fit in fits.items()}
                    for k, f in enumerate((0.5, 1.0, 2.0, 4.0))})
    train, test = measured(truth, NB201[:5]), measured(truth, NB201[5:24])
    base = datasheet("jetson-nano")

    def worst(result):
        return max(abs(edgeperf.estimate(GRAPHS[s.model], result.profile, precision="fp16").total_latency_ms
                       - s.latency_ms) / s.latency_ms for s in test)

    alone = fit_from_networks(train, base, precision="fp16")
    leaned = fit_from_networks(train, base, precision="fp16", prior=prior)
    record = leaned.profile.provenance.details["prior"]
    assert record["chosen"] is True and record["references"] == 4 and record["lean"] > 0.5
    assert record["cv_mape_with"] < record["cv_mape_without"]
    assert "lean" in leaned.profile.quality and leaned.profile.to_document()["provenance"]["prior"]["chosen"] is True
    assert worst(leaned) < 0.02 and worst(alone) > 2 * worst(leaned)


def test_fit_cli_uses_the_shipped_prior_unless_told_not_to(monkeypatch, tmp_path, capsys):
    _patch_loader(monkeypatch)
    truth = truth_profile(TRUTH)
    table = write_table(tmp_path / "t.csv", [[s.model, repr(s.latency_ms)] for s in measured(truth, NB201[:12])])
    out = tmp_path / "p.json"
    # a base with TensorRT's rules as the prior knows them (the board profile jetson-nano has more rewrites)
    assert main(["fit", "--networks", str(table), "--out", str(out), "--precision", "fp16",
                 "--base", "jetson-nano-nb201"]) == 0
    printed = capsys.readouterr().out
    assert "prior (" in printed and "network term:" in printed
    provenance = json.loads(out.read_text())["provenance"]
    assert provenance["prior"]["source"] == "benchmarks/lodo_fit.py --write-prior"
    # the FBNet columns' references have no elementwise class under TensorRT's rules: 16 of 21 cover these networks
    assert provenance["prior"]["references"] == 16 and "network_term" in provenance
    assert main(["fit", "--networks", str(table), "--out", str(out), "--precision", "fp16", "--prior", "none",
                 "--network-term", "no"]) == 0
    provenance = json.loads(out.read_text())["provenance"]
    assert "prior" not in provenance and "network_term" not in provenance
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"schema": "edgeperf.network-prior/0"}))
    assert main(["fit", "--networks", str(table), "--out", str(tmp_path / "q.json"), "--prior", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "schema must be" in err and "Traceback" not in err and not (tmp_path / "q.json").exists()


@pytest.mark.parametrize("content,fragment", [
    (None, "is a directory"),                 # a folder where the file should be
    ("{not json", "not valid JSON (line 1"),
    ('{"schema": 1e999}', "finite"),
])
def test_unreadable_prior_files_are_one_line_errors(tmp_path, content, fragment):
    path = tmp_path / "prior.json"
    if content is None:
        path.mkdir()
    else:
        path.write_text(content)
    with pytest.raises(ProfileError, match=fragment.replace("(", r"\(")) as caught:
        load_prior(path)
    assert "\n" not in str(caught.value) and str(path) in str(caught.value)
