"""CLI: edgeperf search, its formats, plot and errors."""

from __future__ import annotations

import csv
import io
import json

import pytest

from edgeperf.cli import main

TRAFFIC = "examples/traffic_light.yaml"


def run(args, capsys, code=0):
    result = main(args)
    out = capsys.readouterr()
    assert result == code, out.err
    return out


def test_table_json_and_csv(tmp_path, capsys):
    table = run(["search", TRAFFIC], capsys).out
    assert "Pareto front" in table and "best cost_eur (min): yolov5s on jetson-nano" in table
    doc = json.loads(run(["search", TRAFFIC, "-f", "json"], capsys).out)
    rows = list(csv.DictReader(io.StringIO(run(["search", TRAFFIC, "-f", "csv"], capsys).out)))
    assert len(rows) == doc["n_evaluated"]
    assert sum(r["feasible"] == "True" for r in rows) == doc["n_feasible"]
    assert {r["violated"] for r in rows if r["feasible"] == "False"} <= {"latency_ms", "accuracy", "memory"}


def test_csv_and_plot_files(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out = run(["search", "examples/iot_partition.yaml", "--csv", str(tmp_path / "all.csv"), "--plot",
               str(tmp_path / "front.png")], capsys).out
    assert "wrote every design" in out
    assert (tmp_path / "front.png").read_bytes()[:4] == b"\x89PNG"
    rows = list(csv.DictReader((tmp_path / "all.csv").open()))
    assert {r["link"] for r in rows} == {"", "wifi", "lora-sf7"}


@pytest.mark.parametrize("content, message", [
    ("models: [zoo:nope]\nplatforms: [jetson-nano]\n", "nope"),
    ("models: [zoo:resnet18]\nplatforms: [jetson-moon]\n", "jetson-moon"),
    ("models: [zoo:resnet18]\nplatforms: [jetson-nano]\nconstraints: {accuracy: {min: 90}}\n", "percentage"),
    ("models: [\n", "not valid YAML"),
    ("models: [zoo:resnet18]\nplatforms: [jetson-nano]\nobjectives: [min cost_eur]\n", None),
])
def test_bad_specs_exit_2_with_one_line(tmp_path, content, message, capsys):
    spec = tmp_path / "spec.yaml"
    spec.write_text(content)
    if message is None:
        run(["search", str(spec)], capsys)
        return
    err = run(["search", str(spec)], capsys, code=2).err
    assert message in err and err.count("\n") == 1


def test_bad_storage_and_trials(tmp_path, capsys):
    pytest.importorskip("optuna")
    err = run(["search", TRAFFIC, "--trials", "5", "--storage", "redis://x"], capsys, code=2).err
    assert "use journal:PATH" in err
    err = run(["search", TRAFFIC, "--trials", "0", "--storage", f"journal:{tmp_path / 'j'}"], capsys, code=2).err
    assert "--trials must be >= 1" in err
    err = run(["search", TRAFFIC, "--trials", "5", "--storage", "journal:/nonexistent/dir/j"], capsys, code=2).err
    assert "does not exist" in err
