"""CLI output formats and the import-weight promise."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import pytest

from edgeperf.cli import main

EXAMPLE = "examples/conv3dense1.onnx"


def run(args, capsys):
    code = main(args)
    out = capsys.readouterr()
    assert code == 0, out.err
    return out.out


def test_table_shows_layers_totals_and_notes(capsys):
    out = run(["estimate", EXAMPLE, "-p", "jetson-nano"], capsys)
    assert "conv3dense1 on jetson-nano (fp16" in out
    assert "Conv+Relu" in out and "total" in out
    assert "note: energy not calibrated" in out
    assert "119.53k" in out  # params


def test_json_and_csv_agree(capsys):
    doc = json.loads(run(["estimate", EXAMPLE, "-p", "raspberry-pi-4", "-f", "json"], capsys))
    rows = list(csv.DictReader(io.StringIO(run(["estimate", EXAMPLE, "-p", "raspberry-pi-4", "-f", "csv"], capsys))))
    layers = [r for r in rows if r["op_type"] not in ("total", "overhead", "other")]
    assert [r["name"] for r in layers] == [layer["name"] for layer in doc["layers"]]
    overhead = [float(r["latency_ms"]) for r in rows if r["op_type"] == "overhead"]   # the board's runtime call
    assert overhead == [pytest.approx(doc["inference_overhead_ms"])]
    assert sum(float(r["latency_ms"]) for r in layers) + overhead[0] == pytest.approx(doc["total_latency_ms"])
    # conv1 3x3/2 32: 32*14*14*1*9 = 56_448 MACs
    assert int(rows[0]["macs"]) == 56_448


def test_csv_has_the_overhead_and_total_rows_and_names_model_and_platform(capsys):
    # jetson-nano-nb201 has a per-inference overhead outside every layer: the CSV used to drop it
    doc = json.loads(run(["estimate", EXAMPLE, "-p", "jetson-nano-nb201", "-f", "json"], capsys))
    assert doc["inference_overhead_ms"] > 0
    rows = list(csv.DictReader(io.StringIO(run(["estimate", EXAMPLE, "-p", "jetson-nano-nb201", "-f", "csv",
                                                "--top", "2"], capsys))))
    assert {(r["model"], r["platform"]) for r in rows} == {("conv3dense1", "jetson-nano-nb201")}
    kinds = [r["op_type"] for r in rows]
    assert kinds[-3:] == ["other", "overhead", "total"] and kinds.count("total") == 1
    overhead, total = rows[-2], rows[-1]
    assert float(overhead["latency_ms"]) == pytest.approx(doc["inference_overhead_ms"])
    assert float(total["latency_ms"]) == pytest.approx(doc["total_latency_ms"])
    assert float(total["energy_mj"]) == pytest.approx(doc["total_energy_mj"])
    # the rows above the total add up to it: 2 layers + the 3 other layers + the overhead
    assert sum(float(r["latency_ms"]) for r in rows[:-1]) == pytest.approx(doc["total_latency_ms"])
    assert sum(float(r["energy_mj"]) for r in rows[:-1]) == pytest.approx(doc["total_energy_mj"])


def test_top_keeps_the_slowest_layers_and_the_totals(capsys):
    full = json.loads(run(["estimate", "zoo:resnet18", "-p", "jetson-tx2", "-f", "json"], capsys))
    top = json.loads(run(["estimate", "zoo:resnet18", "-p", "jetson-tx2", "-f", "json", "--top", "3"], capsys))
    slowest = sorted(full["layers"], key=lambda layer: layer["latency_ms"], reverse=True)[:3]
    assert [layer["name"] for layer in top["layers"]] == [layer["name"] for layer in slowest]
    assert top["total_latency_ms"] == full["total_latency_ms"]
    table = run(["estimate", "zoo:resnet18", "-p", "jetson-tx2", "--top", "3"], capsys)
    assert f"... {len(full['layers']) - 3} more layers" in table


def test_output_file_is_written_atomically(tmp_path, capsys):
    target = tmp_path / "est.json"
    run(["estimate", EXAMPLE, "-p", "jetson-nano", "-f", "json", "-o", str(target)], capsys)
    assert json.loads(target.read_text())["platform"] == "jetson-nano"
    assert [p.name for p in tmp_path.iterdir()] == ["est.json"]  # no temporary file left behind


def test_usage_errors_exit_2(capsys):
    assert main(["estimate", EXAMPLE]) == 2  # --platform missing
    assert "platform" in capsys.readouterr().err
    assert main(["estimate", EXAMPLE, "-p", "jetson-nano", "--format", "xml"]) == 2
    capsys.readouterr()
    assert main(["frobnicate"]) == 2


def test_import_and_estimate_do_not_load_heavy_packages():
    code = (
        "import sys, edgeperf\n"
        "edgeperf.estimate('examples/conv3dense1.onnx', 'jetson-nano')\n"
        "from edgeperf.cli import main\n"
        "main(['estimate', 'zoo:mobilenet_v2', '-p', 'raspberry-pi-4', '-f', 'json', '-o', '/dev/null'])\n"
        "heavy = sorted(m for m in ('torch', 'optuna', 'onnxruntime', 'tensorflow', 'matplotlib', 'scipy.stats',\n"
        "                           'scipy.optimize') if m in sys.modules)\n"
        "print(heavy)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_an_error_while_ctrl_c_unwinds_is_reported_as_the_interrupt(monkeypatch, capsys):
    import edgeperf.cli as cli

    def interrupted_then_cleanup_fails(*args, **kwargs):
        try:
            raise KeyboardInterrupt
        finally:
            raise FileNotFoundError("lock file vanished during cleanup")

    monkeypatch.setattr(cli, "app", interrupted_then_cleanup_fails)
    assert cli.main(["estimate"]) == 130
    err = capsys.readouterr().err
    assert "interrupted" in err and err.count("\n") == 1


def test_profile_list_quotes_the_first_sentence_of_quality_whole():
    from edgeperf._cli._common import first_sentence as _first_sentence

    assert _first_sentence("MAPE 4.8 %, 93 % within +-10 %, Spearman 0.967. Peaks are the datasheet's.") == \
        "MAPE 4.8 %, 93 % within +-10 %, Spearman 0.967"
    assert _first_sentence("ANNETTE reports 7.44 % mean error") == "ANNETTE reports 7.44 % mean error"
