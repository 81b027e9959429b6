"""Fitting the power model: a published figure reproduced exactly, a multi-point sweep recovered, bad tables."""

from __future__ import annotations


import pytest

import edgeperf
from edgeperf.cli import main
from edgeperf.fitting import fit_power_model, read_power_table
from edgeperf.profiles import load_profile, parse_profile


def write(tmp_path, text):
    path = tmp_path / "power.csv"
    path.write_text(text)
    return path


def test_seed001_nano_figures_give_the_shipped_power_model(tmp_path):
    # seed 001: Jetson Nano idle 1.25 W, 4.58 W on average while running DNNs (at max clocks)
    rows = read_power_table(write(tmp_path, "state,power_mw,gpu_mhz\nidle,1250,\nbusy,4580,921.6\n"))
    document = fit_power_model(rows, load_profile("jetson-nano"), source="seed001").to_document()
    assert document["power"]["idle_mw"]["value"] == 1250
    assert document["power"]["active_mw"]["default"]["value"] == pytest.approx(4580 - 1250)
    assert document["power"]["calibrated"] is True


def test_a_dvfs_power_sweep_recovers_known_coefficients(tmp_path, edited_profile):
    # a board with GPU voltages and a CPU domain: P = 1000 + 3000 s_gpu + 800 s_cpu, measured at 6 points
    base = edited_profile("jetson-nano", lambda doc: doc["clocks"]["domains"]["gpu"].update(
        voltage_v={"value": [0.8 + 0.3 * i / 11 for i in range(12)], "source": "notes-dvfs"}))
    gpu, cpu = base.clocks["gpu"], base.clocks["cpu"]
    lines = ["state,power_mw,gpu_mhz,cpu_mhz", "idle,1000,,"]
    for g, c in [(921.6, 1479), (460.8, 1479), (76.8, 918), (614.4, 102), (921.6, 918), (307.2, 1224)]:
        s_gpu = (g / 921.6) * (gpu.voltage_at(g) / gpu.voltage_at(921.6)) ** 2
        lines.append(f"busy,{1000 + 3000 * s_gpu + 800 * c / cpu.reference_mhz},{g},{c}")
    document = fit_power_model(read_power_table(write(tmp_path, "\n".join(lines) + "\n")), base).to_document()
    assert document["power"]["active_mw"]["default"]["value"] == pytest.approx(3000, rel=1e-4)
    assert document["power"]["domain_mw"]["cpu"]["value"] == pytest.approx(800, rel=1e-4)
    fitted = parse_profile(document)
    low = edgeperf.estimate("zoo:resnet18", fitted, freq_mhz={"gpu": 460.8, "cpu": 918})
    layer = low.layers[0]
    s_gpu = 0.5 * (gpu.voltage_at(460.8) / gpu.voltage_at(921.6)) ** 2
    assert layer.power_mw == pytest.approx(1000 + 3000 * s_gpu + 800 * 918 / 1479, rel=1e-4)


@pytest.mark.parametrize("text, message", [
    ("power_mw\n100\n", "missing column 'state'"),
    ("state,power_mw\nasleep,100\n", "state must be idle or busy"),
    ("state,power_mw\nidle,100\n", "no busy rows"),
    ("state,power_mw,gpu_mhz\nbusy,-5,921.6\n", "power_mw must be > 0"),
    ("state,power_mw,npu_mhz\nbusy,5000,100\n", "no clock domain 'npu'"),
    ("state,power_mw,gpu_mhz\nidle,1.25,\nbusy,4.58,921.6\n", "looks like watts"),
    ("state,power_mw,gpu_mhz,emc_mhz\nbusy,5000,921.6,1600\n", None),
])
def test_bad_power_tables(tmp_path, text, message, capsys):
    code = main(["fit-power", str(write(tmp_path, text)), "--base", "jetson-nano", "--out", str(tmp_path / "p.json")])
    err = capsys.readouterr().err
    if message is None:
        assert code == 0
        return
    assert code == 2 and message in err and err.count("\n") == 1


def test_the_power_fit_returns_a_new_profile_and_leaves_its_base_alone(tmp_path):
    base = load_profile("jetson-nano")
    before = base.to_document()
    rows = read_power_table(write(tmp_path, "state,power_mw,gpu_mhz\nidle,1250,\nbusy,4580,921.6\n"))
    fitted = fit_power_model(rows, base, source="seed001")
    assert base.to_document() == before and base.power.calibrated is False
    assert fitted.power.calibrated is True and fitted.provenance.power_fit.busy_points == 1
    assert parse_profile(fitted.to_document()).to_document() == fitted.to_document()
