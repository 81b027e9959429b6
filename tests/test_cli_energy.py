"""CLI: dvfs, simulate and fit-thermal, their formats, plots and errors."""

from __future__ import annotations

import csv
import io
import json

import pytest

from edgeperf.cli import main
from tests.test_dvfs_thermal import synthetic_trace


def run(args, capsys, code=0):
    result = main(args)
    out = capsys.readouterr()
    assert result == code, out.err
    return out


def test_dvfs_table_json_and_csv_agree(capsys):
    table = run(["dvfs", "zoo:mobilenet_v2", "-p", "jetson-tx2", "--max-latency-ms", "1.0"], capsys).out
    assert "min energy" in table and "min latency" in table and "below max clocks" in table
    doc = json.loads(run(["dvfs", "zoo:mobilenet_v2", "-p", "jetson-tx2", "-f", "json"], capsys).out)
    rows = list(csv.DictReader(io.StringIO(run(["dvfs", "zoo:mobilenet_v2", "-p", "jetson-tx2", "-f", "csv"],
                                               capsys).out)))
    assert len(rows) == len(doc["points"]) == 13
    assert [float(r["energy_mj"]) for r in rows] == pytest.approx([p["energy_mj"] for p in doc["points"]])
    assert doc["energy_optimal"]["energy_mj"] == min(p["energy_mj"] for p in doc["points"])


def test_dvfs_and_simulate_plots_are_png(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    run(["dvfs", "zoo:mobilenet_v2", "-p", "jetson-nano", "--plot", str(tmp_path / "d.png")], capsys)
    run(["simulate", "zoo:inception_v4", "-p", "coral-edgetpu", "-n", "5000", "--plot", str(tmp_path / "s.png")], capsys)
    for name in ("d.png", "s.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_simulate_json_keys(capsys):
    doc = json.loads(run(["simulate", "zoo:inception_v4", "-p", "coral-edgetpu", "-n", "20000", "-f", "json"],
                         capsys).out)
    for key in ("throttle_events", "total_time_s", "energy_j", "max_temp_c", "latency_ms_trace"):
        assert key in doc
    assert len(doc["latency_ms_trace"]) == 20000
    assert doc["throttle_events"] and doc["max_temp_c"] >= 65.0


def test_fit_thermal_command(tmp_path, capsys):
    t, temp, power = synthetic_trace(base=35.0, r=8.0, tau=50.0)
    path = tmp_path / "trace.csv"
    path.write_text("time_s,temp_c,power_mw\n" + "".join(f"{a},{b},{c}\n" for a, b, c in zip(t, temp, power)))
    out = run(["fit-thermal", str(path)], capsys).out
    assert "thermal resistance: 8.000 C/W" in out and "time constant: 50.0 s" in out


@pytest.mark.parametrize("args, message", [
    (["simulate", "zoo:googlenet", "-p", "jetson-nano", "-n", "5"], "no thermal model"),
    (["simulate", "zoo:googlenet", "-p", "coral-edgetpu", "-n", "-3"], "positive integer"),
    (["simulate", "zoo:googlenet", "-p", "coral-edgetpu", "-n", "5", "--gap-ms", "nan"], "gap-ms"),
    (["dvfs", "zoo:googlenet", "-p", "jetson-nano", "--power-mode", "77W"], "no power mode"),
    (["dvfs", "zoo:googlenet", "-p", "jetson-nano", "--max-latency-ms", "0"], "max-latency-ms"),
    (["dvfs", "zoo:googlenet", "-p", "jetson-nano", "--plot", "/nonexistent/dir/x.png"], "does not exist"),
])
def test_bad_input_is_one_line_exit_2(args, message, capsys):
    err = run(args, capsys, code=2).err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_fit_thermal_bad_trace(tmp_path, capsys):
    path = tmp_path / "bad.csv"
    path.write_text("time_s,temp_c\n0,40\n")
    assert "missing column(s) power_mw" in run(["fit-thermal", str(path)], capsys, code=2).err
    path.write_text("time_s,temp_c,power_mw\n0,forty,1\n")
    assert "line 2: temp_c 'forty' is not a number" in run(["fit-thermal", str(path)], capsys, code=2).err
