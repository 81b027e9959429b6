"""energy_parts: a run's energy under an operating model split into the engine's power terms (issue 14's analysis of
the NX/Nano ratio). The parts add up to the engine's total at any point, batch and CPU-side time; the static parts
are the operating model's powers times the run's latency, checked against numbers written out from boards.json."""

from __future__ import annotations

import numpy as np
import pytest

from edgeperf import load_model, load_profile, map_graph
from edgeperf.estimator import EnergyParts, energy_parts, evaluate_points, reference_costs


def _costs(profile_name, zoo, **kwargs):
    profile = load_profile(profile_name)
    return profile, reference_costs(map_graph(load_model(f"zoo:{zoo}"), profile.mapping), profile, "fp32", **kwargs)


@pytest.mark.parametrize("profile_name, zoo, kwargs", [
    ("jetson-nano-pytorch", "mobilenet_v2", {"batch": 8}),
    ("jetson-xavier-nx-pytorch", "bert_tiny", {"batch": 16, "host_ms_per_item": 2.0}),
    ("jetson-nano", "resnet18", {}),                                     # anchored: the board model holds the waits
])
@pytest.mark.parametrize("gpu_step, cpu_step", [(-1, -1), (0, 0), (5, 3)])
def test_the_parts_add_up_to_the_engines_latency_and_energy(profile_name, zoo, kwargs, gpu_step, cpu_step):
    profile, costs = _costs(profile_name, zoo, **kwargs)
    point = {"gpu": profile.clocks["gpu"].available_mhz[gpu_step], "cpu": profile.clocks["cpu"].available_mhz[cpu_step]}
    parts = energy_parts(costs, profile, point)
    latency, energy = evaluate_points(costs, profile, {k: np.array([v]) for k, v in point.items()})
    assert parts.latency_ms == pytest.approx(latency[0], rel=1e-9)
    assert parts.total_mj == pytest.approx(energy[0], rel=1e-9)
    assert parts.gpu_busy_ms > 0 and parts.dram_mj > 0 and parts.floor_mj > 0


def test_static_parts_are_the_boards_powers_times_the_runs_latency():
    """Jetson Nano (boards.json): floor 1250 mW; one busy CPU core 800 mW at 1479 MHz and 1090 mV; at 102 MHz and
    900 mV it draws 800 x (102 / 1479) x (900 / 1090)^2 = 37.61 mW. DRAM: 80 pJ per byte moved."""
    profile, costs = _costs("jetson-nano-pytorch", "resnet18", batch=4)
    top = energy_parts(costs, profile, {"gpu": 921.6, "cpu": 1479.0})
    assert top.floor_mj == pytest.approx(1250.0 * top.latency_ms / 1000.0, rel=1e-12)
    assert top.cpu_core_mj == pytest.approx(800.0 * top.latency_ms / 1000.0, rel=1e-12)
    low = energy_parts(costs, profile, {"gpu": 921.6, "cpu": 102.0})
    assert low.cpu_core_mj == pytest.approx(800.0 * (102.0 / 1479.0) * (900.0 / 1090.0) ** 2 * low.latency_ms / 1000.0,
                                            rel=1e-9)
    assert low.cpu_wait_ms > top.cpu_wait_ms            # a slower CPU exposes more of its launches
    assert top.dram_mj == pytest.approx(80.0 * float(costs.bytes_.sum()) * 1e-9, rel=1e-12)
    assert low.dram_mj == top.dram_mj                    # bytes moved do not depend on the clocks


def test_per_item_divides_every_part():
    profile, costs = _costs("jetson-nano-pytorch", "alexnet", batch=8)
    parts = energy_parts(costs, profile, {})
    one = parts.per_item(8)
    assert isinstance(one, EnergyParts)
    assert one.total_mj == pytest.approx(parts.total_mj / 8, rel=1e-12)
    assert one.cpu_wait_ms == pytest.approx(parts.cpu_wait_ms / 8, rel=1e-12)


def test_a_profile_without_an_operating_model_has_no_parts():
    profile, costs = _costs("raspberry-pi-4", "mobilenet_v2")
    with pytest.raises(ValueError, match="no operating model"):
        energy_parts(costs, profile, {})
