"""Seed 002 reproduced: energy is not monotone in the clocks, the optimum saves 5-25 % on the Nano and 2-20 % on the
Xavier NX against the modelled governor, and the NX uses 2-4x less energy per inference. Also the voltage tables'
arithmetic against the L4T kernel's CVB formula, and the operating model's reading of bad input."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

import edgeperf
from edgeperf import ProfileError
from edgeperf.profiles import load_profile, operating_models
from tests._seed002 import BOARDS, NETWORKS, all_sweeps, parts_at


@pytest.fixture(scope="module")
def sweeps():
    return all_sweeps()


def test_nano_saves_5_to_25_percent_with_an_interior_gpu_minimum_for_every_network_and_batch(sweeps):
    nano = {key: s for key, s in sweeps.items() if key[0] == "jetson-nano-pytorch"}
    assert len(nano) == 26
    savings = {key: s.saving_pct for key, s in nano.items()}
    assert all(5.0 <= v <= 25.0 for v in savings.values()), savings
    assert all(s.interior_gpu_minimum for s in nano.values())
    # the optimum lies below the maximum clocks on both axes (seed 002: 'energy-optimal below the governor')
    assert all(s.optimum[0] < s.gpu_mhz.size - 1 for s in nano.values())


def test_xavier_nx_saves_2_to_20_percent_with_an_interior_gpu_minimum(sweeps):
    nx = {key: s for key, s in sweeps.items() if key[0] == "jetson-xavier-nx-pytorch"}
    assert all(2.0 <= s.saving_pct <= 20.0 for s in nx.values()), {k: s.saving_pct for k, s in nx.items()}
    assert all(s.interior_gpu_minimum for s in nx.values())


def test_xavier_nx_uses_2_to_4_times_less_energy_than_the_nano(sweeps):
    ratios = {(n, b): sweeps[("jetson-xavier-nx-pytorch", n, b)].optimum_mj / sweeps[("jetson-nano-pytorch", n, b)].optimum_mj
              for n, (_, batches, _) in NETWORKS.items() for b in batches}
    assert 0.25 <= float(np.median(list(ratios.values()))) <= 0.5
    # the compute-heavy networks each lie in the band; MobileNet v2 and BERT-tiny lie above it (docs/accuracy.md, 'Why
    # MobileNet v2 and BERT-tiny miss the NX/Nano band'; the next test holds the cause)
    for network in ("AlexNet", "ResNet-18", "YOLOv4-tiny", "DistilBERT"):
        assert all(0.25 <= r <= 0.5 for (n, _), r in ratios.items() if n == network), ratios


def test_the_two_networks_above_the_band_are_lifted_by_dram_energy_and_cpu_side_time(sweeps):
    """MobileNet v2 moves 160 MB per inference at the same DRAM energy per byte on both boards: without that part
    its ratio is in the band. BERT-tiny's run is half CPU-side wait, which the NX shortens only by its CPU speed."""
    def parts(board, network, batch):
        s = sweeps[(board, network, batch)]
        g, c = s.optimum
        return parts_at(board, network, batch, float(s.gpu_mhz[g]), float(s.cpu_mhz[c]))

    nano, nx = (parts(board, "MobileNet v2", 8) for board in BOARDS)
    assert nx.dram_mj == pytest.approx(nano.dram_mj, rel=1e-12) and nano.dram_mj > 0.2 * nano.total_mj
    assert nx.total_mj / nano.total_mj > 0.5 > (nx.total_mj - nx.dram_mj) / (nano.total_mj - nano.dram_mj)
    nano, nx = (parts(board, "BERT-tiny", 16) for board in BOARDS)
    assert nano.cpu_wait_ms > 0.4 * nano.latency_ms and nx.cpu_wait_ms > 0.5 * nx.latency_ms
    assert nx.floor_mj / nano.floor_mj > 0.5            # the floor over a run whose CPU-side half shrinks by 1/1.85


def test_cpu_clock_moves_latency_less_than_gpu_clock_on_the_nano(sweeps):
    """Seed 002 l.82-84: latency monotonic in both clocks, the CPU's impact smaller than the GPU's (over the
    networks: BERT-tiny, whose run is mostly CPU work, is the exception the model predicts)."""
    cpu_effects, gpu_effects = [], []
    for (board, _, _), s in sweeps.items():
        if board != "jetson-nano-pytorch":
            continue
        assert np.all(np.diff(s.latency_ms, axis=0) <= 1e-9) and np.all(np.diff(s.latency_ms, axis=1) <= 1e-9)
        cpu_effects.append(s.latency_ms[-1, 0] / s.latency_ms[-1, -1])     # lowest CPU clock, GPU at max
        gpu_effects.append(s.latency_ms[0, -1] / s.latency_ms[-1, -1])     # lowest GPU clock, CPU at max
    assert 1.0 < np.median(cpu_effects) < np.median(gpu_effects) / 2


def test_energy_against_the_cpu_clock_turns_up_more_on_the_xavier_nx(sweeps):
    """Seed 002 l.146: the CPU clock's non-monotonic effect on energy is more prominent on the NX: energy rises
    more towards its lowest CPU clock (the optimum's GPU clock held) than on the Nano."""
    def rise(board):
        values = []
        for key, s in sweeps.items():
            if key[0] == board:
                line = s.energy_mj[s.optimum[0], :]
                values.append(line[0] / line.min())
        return float(np.median(values))

    assert rise("jetson-xavier-nx-pytorch") > rise("jetson-nano-pytorch") > 1.0


def test_the_shipped_nano_finds_its_optimum_below_max_clocks():
    """Issue 14's first complaint: 'edgeperf dvfs zoo:resnet18 --platform jetson-nano' found the optimum at max clocks."""
    report = edgeperf.dvfs("zoo:resnet18", "jetson-nano")
    assert report.energy_saving_vs_governor_pct > 5.0
    assert report.energy_optimal.freq_mhz["gpu"] < 921.6
    assert not any("constant voltage" in note for note in report.notes)
    assert {"gpu", "cpu", "emc"} <= set(report.points[0].freq_mhz)


def cvb_mv(khz: int, c0: int, speedo: int = 2036, temp_c: int = 25) -> int:
    """The L4T kernel's tegra_get_cvb_t_voltage arithmetic (integer, truncating), rounded up to the vdd-gpu grid
    (708 mV + 10 mV steps, from the Nano boot log), floored at pll_min_millivolts 818 (gpu_cvb_dvfs_table speedo 2)."""
    c1, c2, c3, c4, c5 = 8144, -940, 808, -21583, 226          # NA_FREQ_CVB_TABLE's speedo and thermal coefficients

    def div(a, b):
        return int(a / b)                                       # C integer division truncates towards zero
    uv = div((div(c2 * speedo, 100) + c1) * speedo, 100) + c0 + div((div(c3 * speedo, 100) + c4 + div(c5 * temp_c, 10))
                                                                    * temp_c, 10)
    return max(708 + 10 * math.ceil((uv / 1000 - 708) / 10), 818)


def test_nano_gpu_voltages_are_the_kernel_cvb_table_at_speedo_2036():
    # c0 of NA_FREQ_CVB_TABLE (tegra210-dvfs.c) at three rows: the floor, the first step above it, the top
    assert cvb_mv(460800, 1023751) == 818
    assert cvb_mv(537600, 1065642) == 838
    assert cvb_mv(921600, 1275100) == 1048
    model = load_profile("jetson-nano").operating
    assert float(model.voltage("gpu", 460.8)) == 818
    assert float(model.voltage("gpu", 537.6)) == 838
    assert float(model.voltage("gpu", 921.6)) == 1048
    assert float(model.voltage("cpu", 1479.0)) == 1090 and float(model.voltage("cpu", 102.0)) == 900


def test_every_assumption_is_marked_and_every_number_cited():
    for model in operating_models().values():
        assert set(model.citations) >= {"floor_mw", "busy_mw", "dispatch_us", "leak_v0_mv"}
        for key, (source, _) in model.citations.items():
            assert source in model.sources
        keys = {key for key, _, _ in model.assumptions()}
        assert {"leak_v0_mv", "cpu_core_mw", "overlap_exposed"} <= keys
    nx = operating_models()["jetson-xavier-nx"]
    assert {"voltage_mv.gpu", "voltage_mv.cpu", "busy_mw", "floor_mw"} <= {k for k, _, _ in nx.assumptions()}
    assert "voltage_mv.gpu" not in {k for k, _, _ in operating_models()["jetson-nano"].assumptions()}


def test_operating_model_errors_are_one_line(tmp_path, capsys):
    from edgeperf.cli import main
    from edgeperf.profiles import shipped_profile_path

    doc = json.loads(shipped_profile_path("jetson-nano").read_text())
    doc["operating_model"] = "no-such-board"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    assert main(["estimate", "zoo:resnet18", "-p", str(path)]) == 2
    err = capsys.readouterr().err
    assert "operating_model" in err and "jetson-nano" in err and err.count("\n") == 1
    doc["operating_model"] = "jetson-nano"
    del doc["clocks"]["domains"]["cpu"]
    del doc["power_modes"]["MAXN"]["caps_mhz"]["cpu"], doc["power_modes"]["5W"]["caps_mhz"]["cpu"]
    path.write_text(json.dumps(doc))
    with pytest.raises(ProfileError, match="clock domain 'cpu'"):
        edgeperf.load_profile(str(path))


def test_batch_lowers_the_cost_per_inference_where_the_gpu_has_idle_lanes():
    one = edgeperf.estimate("zoo:mobilenet_v2", "jetson-nano-pytorch", batch=1)
    eight = edgeperf.estimate("zoo:mobilenet_v2", "jetson-nano-pytorch", batch=8)
    assert eight.batch == 8 and eight.total_latency_ms > one.total_latency_ms
    assert eight.throughput_per_s > one.throughput_per_s
    assert eight.energy_per_inference_mj < one.energy_per_inference_mj
    t = one.throughput
    assert t.batch_1_per_s == pytest.approx(one.throughput_per_s)
    assert t.saturated_per_s >= 0.95 * max(t.per_s) and t.saturating_batch in t.batches
    assert list(t.per_s) == sorted(t.per_s)              # throughput never falls as the batch grows
    document = eight.to_dict()
    assert document["throughput"]["saturating_batch"] == t.saturating_batch
    assert document["energy_per_inference_mj"] == pytest.approx(eight.total_energy_mj / 8)


BLOCKS = Path(__file__).resolve().parents[2] / "shared" / "external" / "hwnasbench_fbnet_block_lut.csv"


@pytest.mark.skipif(not BLOCKS.is_file(), reason="../shared/external (HW-NAS-Bench data) is not present")
def test_hwnasbench_tx2_held_out_block_energy_is_below_25_percent():
    """The blocks refit_public_profiles.py holds out (Random(0) shuffle, first third): measured energy against the
    jetson-tx2-fbnet profile's, fitted as P0 T + e_flop F + e_byte bytes on the other two thirds."""
    import csv
    import random

    rows = [r for r in csv.DictReader(open(BLOCKS)) if float(r["edgegpu_latency"] or 0) > 0]
    random.Random(0).shuffle(rows)
    held_out = rows[: len(rows) // 3]
    profile = load_profile("jetson-tx2-fbnet")
    predicted = np.array([edgeperf.estimate(f"zoo:fbnet-block:{r['key']}", profile).total_energy_mj for r in held_out])
    measured = np.array([float(r["edgegpu_energy"]) for r in held_out])
    mape = float(np.mean(np.abs(predicted - measured) / measured))
    assert len(held_out) == 71 and mape < 0.25
    assert profile.power.pj_per_flop > 0 and profile.power.pj_per_byte > 0
