"""Comparing models, boards and precisions in one call; throughput; datasheet bounds; unknown energy (issue 17)."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass

import pytest

import edgeperf
from edgeperf.cli import main
from edgeperf.estimator import Comparison, ComparisonCell, graph_from_model
from tests._cli import EXAMPLE, run
from tests._models import model, tensor, weight
from tests._profiles import datasheet, datasheet_file
from onnx import helper



def test_compare_gives_a_cell_per_model_board_and_precision():
    result = edgeperf.compare([EXAMPLE, "zoo:resnet18"], ["jetson-nano", "raspberry-pi-4"], precisions=["fp16", "fp32"])
    assert result.models == (EXAMPLE, "zoo:resnet18")
    assert result.columns == (("jetson-nano", "fp16"), ("jetson-nano", "fp32"), ("raspberry-pi-4", "fp16"),
                              ("raspberry-pi-4", "fp32"))
    assert len(result.cells) == 8
    # each cell is the estimate edgeperf.estimate gives for that model, board and precision
    cell = result.cell("zoo:resnet18", "jetson-nano", "fp32")
    alone = edgeperf.estimate("zoo:resnet18", "jetson-nano", precision="fp32")
    assert cell.estimate.total_latency_ms == alone.total_latency_ms
    assert cell.estimate.total_energy_mj == alone.total_energy_mj
    # the Pi 4 runs fp32 only: its fp16 cells say why they are empty, and the rest still runs
    skipped = result.cell(EXAMPLE, "raspberry-pi-4", "fp16")
    assert skipped.estimate is None and "does not run fp16" in skipped.skipped


def test_compare_refuses_when_no_cell_can_run():
    with pytest.raises(edgeperf.InputError, match="no platform runs"):
        edgeperf.compare([EXAMPLE], ["jetson-nano"], precisions=["int8"])   # Maxwell: no int8


def test_estimate_with_several_platforms_prints_the_matrix_and_no_longer_keeps_only_the_last(capsys, tmp_path):
    nano_file, tx2_file = datasheet_file("jetson-nano", tmp_path), datasheet_file("jetson-tx2", tmp_path)
    out = run(["estimate", EXAMPLE, "zoo:resnet18", "-p", nano_file, "-p", tx2_file, "--precision", "fp16",
               "--precision", "fp32"], capsys)
    for header in ("jetson-nano", "jetson-tx2", "fp16", "fp32", "zoo:resnet18", "conv3dense1"):
        assert header in out
    assert "/s" in out and " mJ" in out          # throughput and energy in every cell
    assert "lower bound" in out                   # both are datasheet rooflines: the flag says so
    document = json.loads(run(["estimate", EXAMPLE, "-p", nano_file, "-p", tx2_file, "-f", "json"], capsys))
    assert document["schema"] == "edgeperf.compare/1"
    assert [c["platform"] for c in document["cells"]] == ["jetson-nano", "jetson-tx2"]
    nano = edgeperf.estimate(EXAMPLE, nano_file)
    assert document["cells"][0]["latency_ms"] == pytest.approx(nano.total_latency_ms)
    assert document["cells"][0]["throughput_per_s"] == pytest.approx(1000.0 / nano.total_latency_ms)
    assert document["cells"][0]["latency_is_bound"] is True
    rows = list(csv.DictReader(io.StringIO(run(["estimate", EXAMPLE, "-p", nano_file, "-p", tx2_file, "-f",
                                                "csv"], capsys))))
    assert [r["platform"] for r in rows] == ["jetson-nano", "jetson-tx2"]
    assert float(rows[0]["latency_ms"]) == pytest.approx(nano.total_latency_ms)


def test_compare_plot_is_written(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    target = tmp_path / "compare.png"
    run(["estimate", EXAMPLE, "zoo:resnet18", "-p", "jetson-nano-nb201", "-p", "raspberry-pi-4", "--plot", str(target)],
        capsys)
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@dataclass
class _WithInterval:
    """An estimate whose profile gives an interval (the field set r16's profiles add to Estimate)."""

    total_latency_ms: float = 10.0
    total_latency_ms_low: float = 7.5
    total_latency_ms_high: float = 14.0
    interval_coverage: float = 0.9
    total_energy_mj: float = 3.0
    throughput_per_s: float = 100.0
    latency_is_bound: bool = False
    precision: str = "fp16"
    notes: tuple = ()


def test_the_interval_column_appears_when_estimates_carry_one():
    from edgeperf._cli._common import console
    from edgeperf._cli._compare import comparison_csv, print_comparison

    plain = edgeperf.compare([EXAMPLE], [datasheet("jetson-nano")], precisions=["fp16", "fp32"])
    assert not plain.has_intervals and edgeperf.compare([EXAMPLE], ["jetson-nano"]).has_intervals   # a fitted one has
    cell = ComparisonCell(model="m", platform="board", precision=None, estimate=_WithInterval())
    with_interval = Comparison(models=("m",), columns=(("board", None),), cells=(cell,))
    assert with_interval.has_intervals and cell.interval_ms == (7.5, 14.0)
    assert cell.to_dict()["latency_ms_low"] == 7.5 and cell.to_dict()["interval_coverage"] == 0.9
    screen = console()
    with screen.capture() as captured:
        print_comparison(with_interval, screen)
    assert "[7.50, 14.0] ms" in captured.get() and "interval" in captured.get()
    with screen.capture() as captured:
        print_comparison(plain, screen)
    assert "interval" not in captured.get()
    assert comparison_csv(with_interval).splitlines()[1].startswith("m,board,fp16,10.0,7.5,14.0,0.9,100.0")


def test_throughput_is_inferences_per_second_at_the_models_batch(tmp_path, capsys):
    est = edgeperf.estimate(EXAMPLE, "jetson-nano")
    assert est.batch == 1
    assert est.throughput_per_s == pytest.approx(1000.0 / est.total_latency_ms)
    assert est.to_dict()["throughput_per_s"] == pytest.approx(est.throughput_per_s)
    # a batch of 4 images: one run makes 4 inferences
    batched = edgeperf.estimate("zoo:resnet18", "jetson-nano", input_shapes={"input": (4, 3, 224, 224)})
    assert batched.batch == 4
    assert batched.throughput_per_s == pytest.approx(4 * 1000.0 / batched.total_latency_ms)
    table = run(["estimate", EXAMPLE, "-p", "jetson-nano-nb201"], capsys)
    assert "inferences/s at batch 1" in table


def test_an_onnx_lstms_sequence_is_not_its_batch():
    x = tensor("x", (100, 2, 40))     # ONNX's default layout: [sequence, batch, features]
    nodes = [helper.make_node("LSTM", ["x", "W", "R"], ["y"], hidden_size=8, name="lstm")]
    onnx_model = model(nodes, [x], [tensor("y", None)], [weight("W", (1, 32, 40)), weight("R", (1, 32, 8))])
    assert edgeperf.estimator.graph_batch(graph_from_model(onnx_model)) == 2


def test_a_datasheet_profile_says_its_latency_is_a_bound(capsys, tmp_path):
    nano_file = datasheet_file("jetson-nano", tmp_path)
    bound = edgeperf.estimate(EXAMPLE, nano_file)               # kind: datasheet
    fitted = edgeperf.estimate(EXAMPLE, "jetson-nano")          # kind: fitted
    assert bound.latency_is_bound and not fitted.latency_is_bound
    assert bound.to_dict()["latency_is_bound"] is True and fitted.to_dict()["latency_is_bound"] is False
    assert any("lower bound" in note for note in bound.notes)
    assert not any("lower bound" in note for note in fitted.notes)
    table = run(["estimate", EXAMPLE, "-p", nano_file], capsys)
    assert "total (a lower bound)" in table and ">= " in table
    assert "lower bound" not in run(["estimate", EXAMPLE, "-p", "jetson-nano"], capsys)


def test_unknown_energy_prints_unknown_and_null(capsys):
    table = run(["estimate", EXAMPLE, "-p", "snapdragon-855-cpu-nb201"], capsys)
    assert "unknown" in table and "0.000" not in table
    document = json.loads(run(["estimate", EXAMPLE, "-p", "snapdragon-855-cpu-nb201", "-f", "json"], capsys))
    assert document["total_energy_mj"] is None and all(layer["energy_mj"] is None for layer in document["layers"])


def test_small_values_keep_significant_figures(capsys, tmp_path):
    # conv3dense1's softmax on a Nano's datasheet roofline takes about 3e-6 ms: it used to print as 0.0000
    table = run(["estimate", EXAMPLE, "-p", datasheet_file("jetson-nano", tmp_path)], capsys)
    assert "0.0000 " not in table and "e-0" in table
