"""DVFS grid and sustained-run thermal simulation: hand-computed cases, properties, the analytic step response."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import edgeperf
from edgeperf import load_model, load_profile, map_graph
from edgeperf.estimator import evaluate_points, graph_from_model, reference_costs
from edgeperf.fitting import fit_thermal
from edgeperf.operating import explore_dvfs, frequency_grid, simulate_sustained
from tests._models import single
from tests._profiles import datasheet


def conv(c_in=16, c_out=32, hw=28, k=3):
    return graph_from_model(single("Conv", [(1, c_in, hw, hw)], (1, c_out, hw, hw), weights=[("w", (c_out, c_in, k, k))],
                                   attrs=dict(pads=[k // 2] * 4)), name="conv")


def test_grid_matches_single_estimates_at_every_point():
    profile = load_profile("jetson-nano")
    mapped = map_graph(load_model("zoo:mobilenet_v2"), profile.mapping)
    report = explore_dvfs(mapped, profile, precision="fp16")
    assert len(report.points) == 12          # 12 GPU steps x 1 EMC step
    for point in report.points[::3]:
        single_est = edgeperf.estimate("zoo:mobilenet_v2", profile, precision="fp16", freq_mhz=dict(point.freq_mhz))
        assert point.latency_ms == pytest.approx(single_est.total_latency_ms)
        assert point.energy_mj == pytest.approx(single_est.total_energy_mj)


def test_compute_bound_layer_by_hand_with_voltages():
    # add a voltage table to the Nano GPU: 0.8 V up to 460.8 MHz, rising linearly to 1.0 V at 921.6 MHz
    steps = load_profile("jetson-nano").clocks["gpu"].available_mhz
    volts = [0.8 if f <= 460.8 else 0.8 + 0.2 * (f - 460.8) / (921.6 - 460.8) for f in steps]

    def edit(doc):
        doc["clocks"]["domains"]["gpu"]["voltage_v"] = {"value": volts, "source": "notes-dvfs"}

    profile = datasheet("jetson-nano", edit)   # the datasheet roofline: numbers by hand
    mapped = map_graph(conv(), profile.mapping)
    costs = reference_costs(mapped, profile, "fp16")
    flops = 2 * 32 * 28 * 28 * 16 * 9
    compute_ref = flops / 472e6                      # ms at 921.6 MHz (472 GFLOP/s)
    assert costs.compute_ms[0] == pytest.approx(compute_ref)
    latency, energy = evaluate_points(costs, profile, {"gpu": np.array([460.8, 921.6])})
    assert latency[0] == pytest.approx(2 * compute_ref)     # half the clock, compute-bound
    assert latency[1] == pytest.approx(compute_ref)
    # power at 460.8 MHz: idle 1250 + 3330 x (460.8/921.6) x (0.8/1.0)^2 = 1250 + 1065.6 mW
    assert energy[0] == pytest.approx((1250 + 3330 * 0.5 * 0.64) * 2 * compute_ref / 1000)
    assert energy[1] == pytest.approx((1250 + 3330) * compute_ref / 1000)


def test_energy_is_u_shaped_for_a_memory_heavy_network_and_the_report_says_so():
    profile = load_profile("jetson-tx2")
    report = edgeperf.dvfs("zoo:mobilenet_v2", profile, precision="fp16")
    energies = [p.energy_mj for p in report.points]
    best = int(np.argmin(energies))
    assert 0 < best < len(energies) - 1              # interior minimum: not monotone either way
    assert report.energy_optimal.energy_mj == min(energies)
    assert report.latency_optimal.freq_mhz["gpu"] == 1300.5
    assert report.energy_saving_vs_max_pct > 0
    assert report.energy_saving_vs_max_pct == pytest.approx(100 * (1 - min(energies) / energies[-1]))
    document = report.to_dict()
    for key in ("points", "energy_optimal", "latency_optimal", "energy_saving_vs_max_pct"):
        assert key in document
    assert set(document["points"][0]) >= {"freq_mhz", "latency_ms", "power_mw", "energy_mj"}


def test_best_point_under_a_latency_limit():
    report = edgeperf.dvfs("zoo:resnet18", "jetson-nano", precision="fp16", max_latency_ms=20.0)
    feasible = [p for p in report.points if p.latency_ms <= 20.0]
    assert feasible and len(feasible) < len(report.points)
    assert report.best_under_limit == min(feasible, key=lambda p: (p.energy_mj, p.latency_ms))
    none = edgeperf.dvfs("zoo:resnet18", "jetson-nano", precision="fp16", max_latency_ms=1e-6)
    assert none.best_under_limit is None and any("no operating point" in n for n in none.notes)


def test_power_mode_caps_the_grid():
    grid = frequency_grid(load_profile("jetson-nano"), "5W")
    assert grid["gpu"].max() == 614.4             # 640 MHz cap snapped down to a step
    with pytest.raises(edgeperf.InputError, match="no power mode"):
        frequency_grid(load_profile("jetson-nano"), "99W")


@given(gpu=st.lists(st.sampled_from(load_profile("jetson-tx2").clocks["gpu"].available_mhz), min_size=2, max_size=2,
                    unique=True), network=st.sampled_from(["zoo:mobilenet_v2", "zoo:resnet18", "zoo:squeezenet1_1"]))
@settings(max_examples=20, deadline=None)
def test_higher_clock_never_slower_and_energy_positive(gpu, network):
    profile = load_profile("jetson-tx2")
    costs = reference_costs(map_graph(load_model(network), profile.mapping), profile, "fp16")
    low, high = sorted(gpu)
    latency, energy = evaluate_points(costs, profile, {"gpu": np.array([low, high])})
    assert latency[1] <= latency[0] + 1e-12
    assert np.all(energy > 0)


# ---- thermal ---------------------------------------------------------------------------------------------


def coral_variant(edited_profile, **thermal):
    def edit(doc):
        for key, value in thermal.items():
            doc["thermal"][key] = value

    return edited_profile("coral-edgetpu", edit)


def test_step_response_matches_the_analytic_solution(edited_profile):
    # no trip point reachable: the temperature follows T_ss + (T0 - T_ss) exp(-t / tau)
    profile = coral_variant(edited_profile, levels=[], first_inference_ms={"value": 0.0, "source": "seed000-thermal"})
    mapped = map_graph(load_model("zoo:mobilenet_v2"), profile.mapping)
    result = simulate_sustained(mapped, profile, precision="int8", inferences=20000)
    estimate = edgeperf.estimate("zoo:mobilenet_v2", profile)
    power_w = estimate.total_energy_mj / estimate.total_latency_ms      # mJ / ms = W
    thermal = profile.thermal
    t_ss = thermal.idle_c + thermal.resistance_c_per_w * (power_w - profile.power.idle_mw / 1000)
    t_end = np.cumsum(result.latency_ms_trace) / 1000
    expected = t_ss + (thermal.idle_c - t_ss) * np.exp(-t_end / thermal.time_constant_s)
    assert result.temp_c_trace == pytest.approx(expected, abs=1e-9)
    assert result.throttle_events == ()
    assert result.total_time_s == pytest.approx(t_end[-1])
    assert result.energy_j == pytest.approx(20000 * estimate.total_energy_mj / 1000)


def test_seed000_coral_inception_v1_never_throttles_and_v4_throttles_repeatedly():
    # seed 000 measured 17.97 ms per Inception v1 inference on the Coral; what this profile's estimate leaves
    # over is host time, the same for every network
    host_ms = 17.97 - edgeperf.estimate("zoo:googlenet", "coral-edgetpu").total_latency_ms
    v1 = edgeperf.simulate("zoo:googlenet", "coral-edgetpu", inferences=70000, gap_ms=host_ms)
    v4 = edgeperf.simulate("zoo:inception_v4", "coral-edgetpu", inferences=70000, gap_ms=host_ms)
    assert v1.throttle_events == () and v1.max_temp_c < 65.0
    assert len(v4.throttle_events) >= 2 and v4.max_temp_c >= 65.0
    assert {e.cap_mhz for e in v4.throttle_events} == {250.0}
    for run in (v1, v4):    # the first inference (model load) is the slowest of those at full clock
        full = run.clock_mhz_trace[1:] == 500.0
        assert run.latency_ms_trace[0] > run.latency_ms_trace[1:][full].max()
    assert v1.latency_ms_trace[0] == v1.latency_ms_trace.max()
    # throttled inferences run at 250 MHz and take longer than unthrottled ones
    assert v4.latency_ms_trace[v4.clock_mhz_trace == 250.0].min() > v4.latency_ms_trace[1]
    assert v4.total_time_s > 70000 * (v4.latency_ms_trace[1] + host_ms) / 1000


def test_hotter_ambient_throttles_sooner():
    cool = edgeperf.simulate("zoo:inception_v4", "coral-edgetpu", inferences=20000)
    hot = edgeperf.simulate("zoo:inception_v4", "coral-edgetpu", inferences=20000, ambient_c=35.0)
    assert hot.throttle_events[0].time_s < cool.throttle_events[0].time_s
    assert hot.total_time_s > cool.total_time_s


def test_simulation_rejects_bad_input():
    with pytest.raises(edgeperf.ProfileError, match="no thermal model"):
        edgeperf.simulate("zoo:googlenet", "jetson-nano", inferences=10)
    with pytest.raises(edgeperf.InputError, match="positive integer"):
        edgeperf.simulate("zoo:googlenet", "coral-edgetpu", inferences=0)
    with pytest.raises(edgeperf.LimitError):
        edgeperf.simulate("zoo:googlenet", "coral-edgetpu", inferences=10**9)
    with pytest.raises(edgeperf.InputError, match="ambient"):
        edgeperf.simulate("zoo:googlenet", "coral-edgetpu", inferences=10, ambient_c=math.nan)


def synthetic_trace(base=40.0, r=5.0, tau=80.0, dt=1.0, n=600):
    """Exact first-order response to a 1 W -> 3 W -> 0.5 W power profile, sampled every dt seconds."""
    power = np.where(np.arange(n) < 200, 1.0, np.where(np.arange(n) < 400, 3.0, 0.5))
    temp = np.empty(n)
    temp[0] = base + r * 1.0
    a = math.exp(-dt / tau)
    for i in range(n - 1):
        temp[i + 1] = a * temp[i] + (1 - a) * (base + r * power[i])
    return np.arange(n) * dt, temp, power * 1000


def test_fit_thermal_recovers_known_parameters():
    t, temp, power = synthetic_trace()
    fit = fit_thermal(t, temp, power)
    base, r, tau = fit.base_c, fit.resistance_c_per_w, fit.time_constant_s
    assert (base, r, tau) == pytest.approx((40.0, 5.0, 80.0), rel=1e-6)
    noisy = temp + np.random.default_rng(1).normal(0, 0.02, temp.size)
    fit = fit_thermal(t, noisy, power)
    base, r, tau = fit.base_c, fit.resistance_c_per_w, fit.time_constant_s
    assert r == pytest.approx(5.0, rel=0.05) and tau == pytest.approx(80.0, rel=0.1)


def test_fit_thermal_rejects_unusable_traces():
    t, temp, power = synthetic_trace()
    with pytest.raises(edgeperf.InputError, match="two power levels"):
        fit_thermal(t, temp, np.full(t.size, 1000.0))
    with pytest.raises(edgeperf.InputError, match="equally spaced"):
        fit_thermal(np.r_[t[:-1], t[-1] + 5], temp, power)
    with pytest.raises(edgeperf.InputError, match="at least 10"):
        fit_thermal(t[:5], temp[:5], power[:5])


def test_a_fan_curve_keeps_the_coral_below_its_trip_point(edited_profile):
    # a fan step at 62 C that halves the thermal resistance: Inception v4 settles below 65 C, never throttling
    fan = [{"temp_c": {"value": 62.0, "source": "seed000-thermal"},
            "resistance_c_per_w": {"value": 3.61, "source": "thermal-derived"}}]
    profile = coral_variant(edited_profile, fan=fan)
    mapped = map_graph(load_model("zoo:inception_v4"), profile.mapping)
    with_fan = simulate_sustained(mapped, profile, precision="int8", inferences=30000)
    without = simulate_sustained(mapped, load_profile("coral-edgetpu"), precision="int8", inferences=30000)
    assert without.throttle_events and not with_fan.throttle_events
    assert with_fan.max_temp_c < 65.0 and with_fan.total_time_s < without.total_time_s
    with pytest.raises(edgeperf.ProfileError, match="fan"):
        coral_variant(edited_profile, fan=[fan[0], {"temp_c": {"value": 70.0, "source": "seed000-thermal"},
                                    "resistance_c_per_w": {"value": 9.0, "source": "thermal-derived"}}])


@pytest.mark.parametrize("change, message", [
    ({"levels": "hot"}, "thermal.levels must be a list"),
    ({"levels": [{"temp_c": {"value": 70.0, "source": "apex-driver"}, "cap_mhz": {"value": 300.0, "source": "apex-driver"}}]},
     "thermal.levels[0].cap_mhz 300.0 is not a step"),
    ({"fan": [7]}, "thermal.fan[0] must be an object with temp_c and resistance_c_per_w"),
])
def test_bad_thermal_sections(change, message, edited_profile):
    with pytest.raises(edgeperf.ProfileError) as info:
        coral_variant(edited_profile, **change)
    assert message in str(info.value)


def test_per_inference_overhead_is_paid_once_at_idle_power_in_estimates_and_grids(edited_profile):
    profile = edited_profile("jetson-nano", lambda d: d.update(
        inference_overhead_ms={"value": 2.5, "source": "seed001"}))
    plain = edited_profile("jetson-nano", lambda d: d.pop("inference_overhead_ms"))
    est = edgeperf.estimate("zoo:mobilenet_v2", profile, precision="fp16")
    ref = edgeperf.estimate("zoo:mobilenet_v2", plain, precision="fp16")
    assert est.inference_overhead_ms == 2.5 and est.to_dict()["inference_overhead_ms"] == 2.5
    assert est.total_latency_ms == pytest.approx(ref.total_latency_ms + 2.5)
    assert est.total_energy_mj == pytest.approx(ref.total_energy_mj + plain.power.idle_mw * 2.5 / 1000.0)
    mapped = map_graph(load_model("zoo:mobilenet_v2"), profile.mapping)
    report = explore_dvfs(mapped, profile, precision="fp16")
    for point in report.points[::4]:   # the overhead is host time: the same at every clock
        single_est = edgeperf.estimate("zoo:mobilenet_v2", profile, precision="fp16", freq_mhz=dict(point.freq_mhz))
        assert point.latency_ms == pytest.approx(single_est.total_latency_ms)
        assert point.energy_mj == pytest.approx(single_est.total_energy_mj)
