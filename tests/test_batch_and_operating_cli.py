"""The command line of batch, throughput and operating models: estimate --batch, dvfs over CPU x GPU x batch,
profiles show with the operating model's sources and assumptions, energy unknown printed as unknown."""

from __future__ import annotations

import json

import pytest

from edgeperf.cli import main
from tests._cli import run


def test_estimate_batch_prints_and_writes_throughput_at_batch_1_and_saturation(capsys):
    out = run(["estimate", "zoo:mobilenet_v2", "-p", "jetson-nano-pytorch", "--batch", "8", "--top", "2"], capsys)
    assert "at batch 8" in out and "mJ per inference" in out and "saturates at batch" in out
    document = json.loads(run(["estimate", "zoo:mobilenet_v2", "-p", "jetson-nano-pytorch", "--batch", "8", "-f",
                               "json"], capsys))
    assert document["batch"] == 8
    assert document["throughput_per_s"] == pytest.approx(8000 / document["total_latency_ms"])
    assert document["energy_per_inference_mj"] == pytest.approx(document["total_energy_mj"] / 8)
    assert document["throughput"]["batch_1_per_s"] < document["throughput_per_s"]


@pytest.mark.parametrize("args, words", [
    (["--batch", "0"], "--batch must be an integer"),
    (["--host-ms-per-item", "-1"], "--host-ms-per-item"),
])
def test_bad_batch_and_host_time_exit_2_with_one_line(args, words, capsys):
    assert main(["estimate", "zoo:resnet18", "-p", "jetson-nano", *args]) == 2
    err = capsys.readouterr().err
    assert words in err and err.count("\n") == 1


def test_batch_refused_in_a_comparison(capsys):
    assert main(["estimate", "zoo:resnet18", "-p", "jetson-nano", "-p", "jetson-tx2", "--batch", "4"]) == 2
    assert "--batch applies to one estimate" in capsys.readouterr().err


def test_dvfs_sweeps_cpu_gpu_and_batch(capsys):
    document = json.loads(run(["dvfs", "zoo:resnet18", "-p", "jetson-nano", "--batch", "1", "--batch", "4", "-f",
                               "json"], capsys))
    assert document["batches"] == [1, 4]
    assert len(document["points"]) == 2 * 12 * 15
    assert {p["batch"] for p in document["points"]} == {1, 4}
    best = document["energy_optimal"]
    assert best["energy_mj"] == min(p["energy_mj"] for p in document["points"])
    assert best["freq_mhz"]["cpu"] < 1479.0 and best["freq_mhz"]["gpu"] < 921.6
    csv_out = run(["dvfs", "zoo:resnet18", "-p", "jetson-nano", "-f", "csv"], capsys)
    assert csv_out.splitlines()[0] == "gpu_mhz,emc_mhz,cpu_mhz,batch,latency_ms,throughput_per_s,power_mw,energy_mj"


def test_dvfs_on_a_board_without_power_says_energy_unknown(capsys):
    out = run(["dvfs", "zoo:resnet18", "-p", "snapdragon-855-cpu-nb201"], capsys)
    assert "energy unknown" in out and "0.000" not in out
    document = json.loads(run(["dvfs", "zoo:resnet18", "-p", "snapdragon-855-cpu-nb201", "-f", "json"], capsys))
    assert document["energy_optimal"] is None and document["energy_saving_vs_governor_pct"] is None
    assert all(p["energy_mj"] is None and p["power_mw"] is None for p in document["points"])


def test_profiles_show_lists_the_operating_model_and_its_assumptions(capsys):
    out = run(["profiles", "show", "jetson-xavier-nx"], capsys)
    assert "operating model jetson-xavier-nx" in out
    assert "voltage gpu (MHz:mV) [assumed-t194-shape]" in out
    assert "busy_mw = 4640 [fitted-seed002-ratio] FITTED" in out
    assert "[t210-gpu-cvb]" in run(["profiles", "show", "jetson-nano"], capsys)


def test_compare_shows_throughput_at_the_saturating_batch(capsys):
    out = run(["estimate", "zoo:resnet18", "-p", "jetson-xavier-nx", "-p", "jetson-nano"], capsys)
    rows = run(["estimate", "zoo:resnet18", "-p", "jetson-xavier-nx", "-p", "jetson-nano", "-f", "csv"], capsys)
    header, nx, nano = (line.split(",") for line in rows.splitlines()[:3])
    column = {name: header.index(name) for name in ("saturating_batch", "saturated_per_s", "throughput_per_s")}
    assert f"/s at batch {nx[column['saturating_batch']]})" in out
    # the NX's 384 lanes (and its per-run overheads, fitted on the TX2) fill at a larger batch than the Nano's 128
    assert int(nx[column["saturating_batch"]]) > int(nano[column["saturating_batch"]]) > 1
    for row in (nx, nano):
        assert float(row[column["saturated_per_s"]]) > float(row[column["throughput_per_s"]])


def test_host_time_is_refused_where_no_operating_model_uses_it(capsys):
    assert main(["estimate", "zoo:resnet18", "-p", "jetson-tx2", "--host-ms-per-item", "1"]) == 2
    assert "operating model" in capsys.readouterr().err
    assert main(["dvfs", "zoo:resnet18", "-p", "jetson-tx2", "--host-ms-per-item", "1"]) == 2
    slow = json.loads(run(["estimate", "zoo:resnet18", "-p", "jetson-nano", "--host-ms-per-item", "5", "-f", "json"],
                          capsys))
    fast = json.loads(run(["estimate", "zoo:resnet18", "-p", "jetson-nano", "-f", "json"], capsys))
    assert slow["total_latency_ms"] == pytest.approx(fast["total_latency_ms"] + 5 - 0.3)   # pre/post at the top clock


def test_a_batch_beyond_the_board_memory_is_said(capsys):
    out = run(["estimate", "zoo:resnet50", "-p", "jetson-nano", "--batch", "100000", "-f", "json"], capsys)
    assert any("does not fit" in note for note in json.loads(out)["notes"])
    out = run(["estimate", "zoo:resnet50", "-p", "jetson-nano", "--batch", "8", "-f", "json"], capsys)
    assert not any("does not fit" in note for note in json.loads(out)["notes"])
