"""Conformance suite run over every registered cost model, plus hand-computed values per form."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgeperf.estimator import COST_MODELS, Features, step_efficiency, validate_cost_params

PARAMS = {
    "roofline": {"compute_efficiency": 0.5, "memory_efficiency": 0.8, "overhead_ms": 0.01},
    "refined_roofline": {"compute_efficiency": 0.5, "memory_efficiency": 0.8, "overhead_ms": 0.01,
                         "steps": {"c_in": {"par": 32, "alpha": 0.5}, "c_out": {"par": 16, "alpha": 1.0}}},
    "step_linear": {"compute_scale": 2.0, "memory_scale": 1.5, "overhead_ms": 0.02,
                    "steps": {"c_in": {"par": 8}, "c_out": {"par": 32}}},
}


def test_every_registered_model_has_conformance_parameters():
    assert set(COST_MODELS) == set(PARAMS)


def features(flops, bytes_, c_in, c_out, h=7.0, w=7.0):
    n = len(flops)
    arr = lambda v: np.asarray(v, dtype=float) if np.ndim(v) else np.full(n, float(v))  # noqa: E731
    return Features(flops=arr(flops), bytes_=arr(bytes_), c_in=arr(c_in), c_out=arr(c_out), h_out=arr(h),
                    w_out=arr(w), flops_per_ms=np.full(n, 1e6), bytes_per_ms=np.full(n, 1e5))


layer_values = st.tuples(st.floats(0, 1e10), st.floats(0, 1e9), st.integers(1, 2048), st.integers(1, 2048))


@pytest.mark.parametrize("form", sorted(COST_MODELS))
@given(rows=st.lists(layer_values, min_size=1, max_size=20))
@settings(max_examples=60, deadline=None)
def test_vectorised_equals_one_at_a_time_and_is_non_negative(form, rows):
    function = COST_MODELS[form]
    params = validate_cost_params(form, PARAMS[form], "test")
    flops, bytes_, c_in, c_out = (list(col) for col in zip(*rows))
    together = function(features(flops, bytes_, c_in, c_out), params)
    for i in range(len(rows)):
        alone = function(features([flops[i]], [bytes_[i]], [c_in[i]], [c_out[i]]), params)
        assert alone.latency_ms[0] == pytest.approx(together.latency_ms[i])
    for part in (together.compute_ms, together.memory_ms, together.overhead_ms, together.latency_ms):
        assert np.all(part >= 0) and np.all(np.isfinite(part))
    assert np.all(together.latency_ms >= np.maximum(together.compute_ms, together.memory_ms) - 1e-12)


@pytest.mark.parametrize("form", sorted(COST_MODELS))
@given(row=layer_values, more_flops=st.floats(0, 1e10), more_bytes=st.floats(0, 1e9))
@settings(max_examples=60, deadline=None)
def test_more_work_never_costs_less(form, row, more_flops, more_bytes):
    function = COST_MODELS[form]
    params = validate_cost_params(form, PARAMS[form], "test")
    flops, bytes_, c_in, c_out = row
    base = function(features([flops], [bytes_], [c_in], [c_out]), params).latency_ms[0]
    bigger = function(features([flops + more_flops], [bytes_ + more_bytes], [c_in], [c_out]), params).latency_ms[0]
    assert bigger >= base - 1e-12


def test_roofline_by_hand():
    # compute: 2e6 flops / (1e6 flops/ms * 0.5) = 4 ms; memory: 1e5 bytes / (1e5 B/ms * 0.8) = 1.25 ms
    parts = COST_MODELS["roofline"](features([2e6], [1e5], [64], [64]), PARAMS["roofline"])
    assert parts.compute_ms[0] == pytest.approx(4.0)
    assert parts.memory_ms[0] == pytest.approx(1.25)
    assert parts.latency_ms[0] == pytest.approx(4.0 + 0.01)


def test_step_efficiency_by_hand():
    # 33 channels on 32 lanes: two passes, 33/64 lanes busy
    assert step_efficiency(np.array([33.0]), 32, 1.0)[0] == pytest.approx(33 / 64)
    # alpha 0 switches the step off
    assert step_efficiency(np.array([33.0]), 32, 0.0)[0] == pytest.approx(1.0)
    # alpha 0.5 blends: 1 / (0.5 + 0.5 * 64/33)
    assert step_efficiency(np.array([33.0]), 32, 0.5)[0] == pytest.approx(1 / (0.5 + 0.5 * 64 / 33))


def test_refined_roofline_by_hand():
    # c_in 33 on 32 lanes (alpha 0.5) and c_out 16 on 16 lanes (full): eff = 1 / (0.5 + 0.5 * 64/33)
    parts = COST_MODELS["refined_roofline"](features([2e6], [1e3], [33], [16]), PARAMS["refined_roofline"])
    eff = 1 / (0.5 + 0.5 * 64 / 33)
    assert parts.compute_ms[0] == pytest.approx(4.0 / eff)
    # a memory-bound layer keeps its memory time: 1e6 B / (1e5 B/ms * 0.8) = 12.5 ms
    parts = COST_MODELS["refined_roofline"](features([2e3], [1e6], [33], [16]), PARAMS["refined_roofline"])
    assert parts.compute_ms[0] == pytest.approx(2e3 / (1e6 * 0.5) / eff)
    assert parts.latency_ms[0] == pytest.approx(12.5 + 0.01)


def test_step_linear_by_hand():
    # c_in 9 padded to 16 (step 8), c_out 33 padded to 64 (step 32): work x (16/9) x (64/33)
    parts = COST_MODELS["step_linear"](features([9e5], [2e4], [9], [33]), PARAMS["step_linear"])
    padded = 9e5 * (16 / 9) * (64 / 33)
    assert parts.compute_ms[0] == pytest.approx(2.0 * padded / 1e6)
    assert parts.memory_ms[0] == pytest.approx(1.5 * 2e4 / 1e5)
    assert parts.latency_ms[0] == pytest.approx(parts.compute_ms[0] + parts.memory_ms[0] + 0.02)


def test_step_linear_has_steps_at_multiples():
    # latency is flat inside a step and jumps at its boundary (c_out step 32)
    params = PARAMS["step_linear"]
    at = lambda c: COST_MODELS["step_linear"](  # noqa: E731
        features([c * 1000.0], [0.0], [8], [c]), params).compute_ms[0]
    assert at(33) == pytest.approx(at(64) * 1.0, rel=1e-12)  # both pad to 64 channels of work
    assert at(65) > at(64)


@pytest.mark.parametrize("form,params,fragment", [
    ("roofline", {"compute_efficiency": 0.0}, "compute_efficiency"),
    ("roofline", {"compute_efficiency": float("nan")}, "compute_efficiency"),
    ("roofline", {"overhead_ms": -1}, "overhead_ms"),
    ("roofline", {"bogus": 1}, "unknown parameter"),
    ("refined_roofline", {"steps": {"c_in": {"par": 0}}}, "par"),
    ("refined_roofline", {"steps": {"depth": {"par": 4}}}, "unknown dimension"),
    ("refined_roofline", {"steps": {"c_in": {"par": 4, "alpha": 2}}}, "alpha"),
    ("magic", {}, "unknown cost model"),
])
def test_parameter_validation(form, params, fragment):
    with pytest.raises(ValueError, match=fragment):
        validate_cost_params(form, params, "where")


def test_step_linear_weighs_inputs_weights_and_outputs_separately_when_given_their_scales():
    function = COST_MODELS["step_linear"]
    f = features([0.0], [1000.0], [8], [8])   # 1000 bytes: 600 input, 300 weights, 100 output; 1e5 bytes per ms
    split = Features(**{k: getattr(f, k) for k in ("flops", "bytes_", "c_in", "c_out", "h_out", "w_out",
                                                   "flops_per_ms", "bytes_per_ms")},
                     weight_bytes=np.array([300.0]), out_bytes=np.array([100.0]))
    one = validate_cost_params("step_linear", {"memory_scale": 2.0, "compute_scale": 1.0}, "t")
    three = validate_cost_params("step_linear", {"memory_scale": 2.0, "weight_scale": 10.0, "output_scale": 0.5,
                                                 "compute_scale": 1.0}, "t")
    assert function(split, one).memory_ms[0] == pytest.approx(2.0 * 1000 / 1e5)     # every byte alike
    assert function(split, three).memory_ms[0] == pytest.approx((2.0 * 600 + 10.0 * 300 + 0.5 * 100) / 1e5)
    assert function(f, three).memory_ms[0] == pytest.approx(2.0 * 1000 / 1e5)       # no split known: one term


@pytest.mark.parametrize("form", sorted(COST_MODELS))
@given(row=layer_values, faster=st.floats(0.1, 10.0), wider=st.floats(0.1, 10.0))
@settings(max_examples=40, deadline=None)
def test_parts_scale_with_the_clocks_as_the_engine_assumes(form, row, faster, wider):
    # the engine computes parts once at reference clocks and rescales them: compute with 1 / throughput,
    # memory with 1 / bandwidth, overhead not at all; the entry's combine rule then makes the latency
    entry = COST_MODELS[form]
    params = validate_cost_params(form, PARAMS[form], "test")
    flops, bytes_, c_in, c_out = row
    base = entry(features([flops], [bytes_], [c_in], [c_out]), params)
    scaled_features = features([flops], [bytes_], [c_in], [c_out])
    scaled_features = type(scaled_features)(**{**{f: getattr(scaled_features, f) for f in scaled_features.__slots__},
                                               "flops_per_ms": scaled_features.flops_per_ms * faster,
                                               "bytes_per_ms": scaled_features.bytes_per_ms * wider})
    scaled = entry(scaled_features, params)
    assert scaled.compute_ms[0] == pytest.approx(base.compute_ms[0] / faster, rel=1e-12, abs=1e-300)
    assert scaled.memory_ms[0] == pytest.approx(base.memory_ms[0] / wider, rel=1e-12, abs=1e-300)
    assert scaled.overhead_ms[0] == base.overhead_ms[0]
    rule = {"max": max, "sum": lambda a, b: a + b}[entry.combine]
    assert scaled.latency_ms[0] == pytest.approx(rule(scaled.compute_ms[0], scaled.memory_ms[0]) + scaled.overhead_ms[0])
