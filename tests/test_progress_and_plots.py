"""Progress of long work (library steps, CLI bars) and the plots people look at (issue 17, items 4 and 5)."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import edgeperf
from tests._profiles import datasheet
from edgeperf._progress import draws_bars, step
from edgeperf.cli import main
from edgeperf.fitting import NetworkSample, fit_from_networks, validate_table
from edgeperf.profiles import load_profile

EXAMPLE = "examples/conv3dense1.onnx"


class Bar:
    """A progress sink that draws bars: records every step and line."""

    def __init__(self):
        self.steps, self.lines = [], []

    def __call__(self, message):
        self.lines.append(message)

    def step(self, done, total, label):
        self.steps.append((done, total, label))


def test_a_plain_callable_keeps_its_lines_and_a_bar_gets_steps():
    lines, bar = [], Bar()
    step(lines.append, 1, 3, "networks", line="resnet18: 1.0 ms")
    step(bar, 1, 3, "networks", line="resnet18: 1.0 ms")
    assert lines == ["resnet18: 1.0 ms"] and bar.lines == [] and bar.steps == [(1, 3, "networks")]
    assert draws_bars(bar) and not draws_bars(lines.append)


def _samples():
    refs = ["zoo:resnet18", "zoo:mobilenet_v2", "zoo:squeezenet1_0", "zoo:googlenet"]
    return [NetworkSample(model=ref, latency_ms=float(10 + i), line=i + 2) for i, ref in enumerate(refs)]


def test_validate_table_and_fit_report_each_network():
    bar = Bar()
    validate_table(_samples(), load_profile("jetson-nano"), progress=bar)
    assert bar.steps == [(i, 4, "estimating networks") for i in range(5)]
    bar = Bar()
    fit_from_networks(_samples(), load_profile("jetson-nano"), merge_siblings=None, progress=bar)
    labels = {label for _, _, label in bar.steps}
    assert labels == {"networks", "networks, siblings merged"}       # both variants cross-validated
    assert all(total == 4 for _, total, _ in bar.steps) and (4, 4, "networks") in bar.steps


def test_measurements_report_n_of_n_from_where_a_resumed_file_left_off(tmp_path):
    from edgeperf.measure._pipeline import NETWORK_SWEEP, measure_items

    from tests.test_pipeline import Recorded

    device = Recorded({"a": (1.0, ()), "b": (2.0, ()), "c": (3.0, ())})
    items = [{"reference": ref, "input_size": None, "role": "train", "pass_": 0} for ref in "abc"]
    records, seen = [], []
    measure_items(items[:1], path=tmp_path / "s.csv", fmt=NETWORK_SWEEP, records=records, runner=device,
                  harness=device, model_of=lambda item: item["reference"])
    measure_items(items, path=tmp_path / "s.csv", fmt=NETWORK_SWEEP, records=records, runner=device, harness=device,
                  model_of=lambda item: item["reference"], steps=lambda done, total: seen.append((done, total)))
    assert seen == [(1, 3), (2, 3), (3, 3)]          # a was measured before: the bar starts at 1 of 3


def test_zoo_export_reports_its_stages(tmp_path):
    from edgeperf.zoo import export_model

    bar = Bar()
    export_model("resnet18", tmp_path / "r.onnx", progress=bar)
    assert bar.steps == [(0, 2, "exporting resnet18"), (1, 2, "exporting resnet18"), (2, 2, "exporting resnet18")]


def test_sampled_search_reports_completed_trials_from_the_storage(tmp_path):
    pytest.importorskip("optuna")
    spec = {"name": "tiny", "models": ["zoo:resnet18", "zoo:mobilenet_v2"], "platforms": ["jetson-nano"],
            "objectives": ["min latency_ms", "min energy_mj"]}
    bar = Bar()
    result = edgeperf.search(spec, trials=6, storage=f"journal:{tmp_path / 's.journal'}", progress=bar)
    counts = [done for done, total, _ in bar.steps]
    assert counts[0] == 0 and counts[-1] == 6 and counts == sorted(counts)
    assert {total for _, total, _ in bar.steps} == {6}
    assert result.n_trials == 6 and result.n_evaluated <= 4 <= 6    # 2 models x fp16/fp32: at most 4 distinct designs


def test_the_cli_bar_is_off_without_a_terminal_and_on_stderr_with_one(monkeypatch, capsys):
    from edgeperf._cli._progress import progress_bar

    with progress_bar() as sink:                     # pytest's stderr is not a terminal
        assert not draws_bars(sink)
        sink("a line")
    assert "a line" in capsys.readouterr().out
    with progress_bar(quiet=True) as sink:
        sink("hidden")
    assert "hidden" not in capsys.readouterr().out
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    with progress_bar() as sink:
        assert draws_bars(sink)
        sink.step(2, 5, "measuring networks")
    captured = capsys.readouterr()
    assert captured.out == ""                         # never on stdout, which may be piped JSON


# ---- plots ----------------------------------------------------------------------------------------------------


def test_simulation_spans_merge_and_plots_stay_small_at_70000_inferences(tmp_path):
    pytest.importorskip("matplotlib")
    from edgeperf._cli._plots import _spans, plot_simulation

    start = np.arange(10.0)
    capped = np.array([0, 1, 1, 0, 1, 0, 0, 0, 1, 1], dtype=bool)
    assert _spans(start, capped) == [(1.0, 3.0), (4.0, 5.0), (8.0, 9.0)]
    assert _spans(start, capped, merge_s=2.0) == [(1.0, 5.0), (8.0, 9.0)]
    # a roofline at 6 % of the Edge TPU's peak (the run was on such a profile) keeps the chip busy enough to
    # throttle again and again; the fitted profile's GoogLeNet leaves it idle most of the time
    def slow(document):
        document["layer_models"]["default"]["params"]["compute_efficiency"] = 0.0602

    result = edgeperf.simulate("zoo:googlenet", datasheet("coral-edgetpu", slow), inferences=70_000)
    assert len(result.throttle_events) > 30                 # many throttle events, as in the run
    target = tmp_path / "run.png"
    plot_simulation(result, target, bins=300)
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert target.stat().st_size < 400_000                  # curves, not 70,000 segments and 525 lines


def test_wide_ranges_get_log_axes():
    pytest.importorskip("matplotlib")
    from edgeperf._cli._plots import _log_if_wide, _pyplot

    plt = _pyplot()
    fig, ax = plt.subplots()
    _log_if_wide(ax, "y", [0.5, 2.0, 30.0])
    assert ax.get_yscale() == "linear"
    _log_if_wide(ax, "x", [0.5, 2.0, 3000.0])                # the partition example's LoRa designs
    assert ax.get_xscale() == "log"
    plt.close(fig)


@pytest.mark.parametrize("args", [
    ["estimate", EXAMPLE, "-p", "jetson-nano"],
    ["estimate", "zoo:resnet18", "-p", "jetson-nano-nb201", "--top", "12"],
])
def test_estimate_plot(tmp_path, capsys, args):
    pytest.importorskip("matplotlib")
    target = tmp_path / "estimate.png"
    assert main(args + ["--plot", str(target)]) == 0
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"wrote {target}" in capsys.readouterr().out


def test_validate_plot(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    table = tmp_path / "measured.csv"
    table.write_text("model,latency_ms\nzoo:resnet18,20\nzoo:mobilenet_v2,9\nzoo:squeezenet1_0,7\n")
    target = tmp_path / "validate.png"
    assert main(["validate", "--table", str(table), "-p", "jetson-nano", "--plot", str(target)]) == 0
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
