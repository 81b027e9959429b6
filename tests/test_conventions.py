"""Python and tooling conventions, and the smaller honesty fixes of issue 17 (items 6, 10, 12, 14)."""

from __future__ import annotations

import json
import re
import sys
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
from onnx import TensorProto, helper

import edgeperf
from edgeperf.cli import main
from edgeperf.estimator import graph_from_model
from tests._cli import EXAMPLE, run
from tests._models import model, tensor, weight

ROOT = Path(__file__).resolve().parents[1]


# ---- item 6: conventions ----------------------------------------------------------------------------------------


def test_the_package_is_typed_and_says_its_version(capsys):
    assert resources.files("edgeperf").joinpath("py.typed").is_file()
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert '"edgeperf" = ["py.typed"]' in pyproject
    assert run(["--version"], capsys).strip() == f"edgeperf {edgeperf.__version__}"


def test_shell_completion_is_on(capsys, monkeypatch):
    # the shell is named, not detected: detection walks the parent processes, and a test run started
    # detached from any shell (nohup, a CI runner) has none to find
    monkeypatch.setenv("_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION", "1")
    out = run(["--show-completion", "bash"], capsys)
    assert "_EDGEPERF_COMPLETE" in out and "complete" in out


def test_extras_declare_what_is_imported_and_bound_torch_from_below():
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    assert extras["torch"] == ["torch>=2.13.0"]          # a lower bound: never clash with the user's torch
    everything = " ".join(sum(extras.values(), project["dependencies"]))
    assert "psutil" not in everything                     # declared and never imported
    # the package's own files: not tests, builds or any virtual environment (.venv, CI's .venv-ci, ...)
    package_sources = " ".join(p.read_text() for p in ROOT.rglob("*.py") if not any(
        part.startswith(".") or part in ("tests", "build", "site-packages") for part in p.relative_to(ROOT).parts))
    assert "import psutil" not in package_sources
    assert any(d.startswith("tomli") and "python_version < '3.11'" in d for d in project["dependencies"])
    assert any(d.startswith("pandas") for d in extras["pandas"])


def test_verbose_turns_on_the_librarys_loggers(capsys):
    import logging

    logger = logging.getLogger("edgeperf")
    try:
        assert main(["estimate", EXAMPLE, "-p", "jetson-nano", "-f", "json"]) == 0
        assert "INFO" not in capsys.readouterr().err          # quiet by default
        assert main(["-v", "estimate", EXAMPLE, "-p", "jetson-nano", "-f", "json"]) == 0
        captured = capsys.readouterr()
        assert "INFO edgeperf.estimator._load: loaded" in captured.err
        json.loads(captured.out)                              # stdout stays the JSON
    finally:                                                  # -v changed this process's logger: undo it
        for handler in [h for h in logger.handlers if getattr(h, "_edgeperf_cli", False)]:
            logger.removeHandler(handler)
        logger.setLevel(logging.NOTSET)


def test_reprs_are_short():
    est = edgeperf.estimate("zoo:resnet50", "jetson-nano")
    assert len(repr(est)) < 300 and "layers=<" in repr(est) and "resnet50" in repr(est)
    assert len(repr(edgeperf.load_model("zoo:resnet50"))) < 300
    report = edgeperf.dvfs("zoo:mobilenet_v2", "jetson-tx2")
    assert len(repr(report)) < 400 and "points=<13>" in repr(report)


def test_frames_have_one_row_per_record():
    pytest.importorskip("pandas")
    est = edgeperf.estimate(EXAMPLE, "jetson-nano-nb201")
    frame = est.to_frame()
    assert len(frame) == len(est.layers) + 1                       # and the per-inference overhead row
    assert frame["latency_ms"].sum() == pytest.approx(est.total_latency_ms)
    assert set(frame["platform"]) == {"jetson-nano-nb201"}
    report = edgeperf.dvfs(EXAMPLE, "jetson-tx2")
    dvfs = report.to_frame()
    assert len(dvfs) == len(report.points) and "gpu_mhz" in dvfs and "energy_mj" in dvfs
    from edgeperf.fitting import NetworkSample, validate_table
    from edgeperf.profiles import load_profile

    samples = [NetworkSample(model=m, latency_ms=5.0, line=i) for i, m in enumerate(["zoo:resnet18", EXAMPLE])]
    validation = validate_table(samples, load_profile("jetson-nano"))
    assert list(validation.to_frame()["model"]) == ["zoo:resnet18", EXAMPLE]
    result = edgeperf.search({"models": ["zoo:resnet18", "zoo:mobilenet_v2"], "platforms": ["jetson-nano"],
                              "objectives": ["min latency_ms", "min energy_mj"]})
    designs = result.to_frame()
    assert len(designs) == result.n_evaluated and designs["feasible"].dtype == bool
    comparison = edgeperf.compare([EXAMPLE], ["jetson-nano", "jetson-tx2"]).to_frame()
    assert list(comparison["platform"]) == ["jetson-nano", "jetson-tx2"]


def test_to_frame_without_pandas_is_one_clear_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)                 # an import of pandas now fails
    est = edgeperf.estimate(EXAMPLE, "jetson-nano")
    with pytest.raises(edgeperf.InputError, match=r"to_frame\(\) needs pandas: pip install 'edgeperf\[pandas\]'"):
        est.to_frame()


def test_importing_edgeperf_does_not_import_pandas():
    import subprocess

    code = "import sys, edgeperf; edgeperf.estimate('examples/conv3dense1.onnx', 'jetson-nano'); " \
           "print('pandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True).stdout
    assert out.strip() == "False"


# ---- item 10: accuracy metrics --------------------------------------------------------------------------------


def test_search_refuses_to_rank_different_accuracy_metrics_unless_told():
    spec = {"models": ["zoo:resnet18", "zoo:yolov5s"], "platforms": ["jetson-nano"],
            "objectives": ["min latency_ms", "max accuracy"]}
    with pytest.raises(edgeperf.InputError, match=r"different metrics \(map50 for yolov5s; top1 for resnet18\)"):
        edgeperf.search(spec)
    result = edgeperf.search({**spec, "mixed_accuracy_metrics": True})
    assert any("accuracy mixes metrics" in note for note in result.notes)
    # accuracies the spec gives are on the user's scale: no refusal
    given = {**spec, "models": [{"model": "zoo:resnet18", "accuracy": 0.7}, {"model": "zoo:yolov5s", "accuracy": 0.5}]}
    edgeperf.search(given)
    # without accuracy in the objectives or constraints, nothing is ranked by it
    edgeperf.search({**spec, "objectives": ["min latency_ms", "min energy_mj"]})


# ---- item 7: optuna-dashboard ----------------------------------------------------------------------------------


def test_studies_name_their_metrics_and_keep_readable_attributes(tmp_path):
    optuna = pytest.importorskip("optuna")
    storage = f"journal:{tmp_path / 'dash.journal'}"
    spec = {"name": "dash", "models": ["zoo:resnet18", "zoo:mobilenet_v2"], "platforms": ["jetson-nano", "jetson-tx2"],
            "objectives": ["min latency_ms", "min energy_mj"], "constraints": {"latency_ms": {"max": 5}}}
    result = edgeperf.search(spec, trials=8, storage=storage)
    from edgeperf.dse._study import make_storage

    study = optuna.load_study(study_name="dash", storage=make_storage(storage))
    assert study.metric_names == ["latency_ms", "energy_mj"]
    trial = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))[0]
    attrs = trial.user_attrs
    assert attrs["model"] in ("resnet18", "mobilenet_v2") and attrs["platform"] in ("jetson-nano", "jetson-tx2")
    assert attrs["precision"] in ("fp16", "fp32") and "MHz" in attrs["clocks"]
    assert attrs["feasible"] == (trial.values[0] <= 5) and (attrs["violated"] == "latency_ms") == (not attrs["feasible"])
    assert result.n_trials == 8 and result.n_evaluated == len({tuple(t.user_attrs["design"]) for t in
                                                               study.get_trials()})


def test_the_search_headline_counts_trials_and_distinct_designs(tmp_path, capsys):
    pytest.importorskip("optuna")
    spec = tmp_path / "two.yaml"
    spec.write_text("models: [zoo:resnet18]\nplatforms: [jetson-nano]\nprecisions: [fp16]\n"
                    "objectives: [min latency_ms, min energy_mj]\n")
    out = run(["search", str(spec), "--trials", "5", "--storage", f"journal:{tmp_path / 't.journal'}"], capsys)
    assert "5 trials sampled 1 distinct designs" in out and "designs evaluated" not in out


# ---- items 12 and 11: recurrent layers, Swin, Gather ----------------------------------------------------------


def test_a_two_layer_lstm_over_100_steps_counts_21_7_million_macs():
    # keyword spotting: 40 features, 128 hidden units, 100 steps, batch 1. Per step an LSTM layer multiplies
    # 4 gates x 128 cells by its input and its 128-wide state:
    #   layer 1: 4 x 128 x (40 + 128)  =  86,016 MACs
    #   layer 2: 4 x 128 x (128 + 128) = 131,072 MACs
    #   100 steps: 100 x 217,088 = 21,708,800 MACs (21.7 M)
    nodes = [helper.make_node("LSTM", ["x", "W1", "R1", "B1"], ["y1"], hidden_size=128, name="lstm1"),
             helper.make_node("Squeeze", ["y1", "axis"], ["s1"], name="squeeze"),
             helper.make_node("LSTM", ["s1", "W2", "R2", "B2"], ["y2"], hidden_size=128, name="lstm2")]
    inits = [weight("W1", (1, 512, 40)), weight("R1", (1, 512, 128)), weight("B1", (1, 1024)),
             weight("W2", (1, 512, 128)), weight("R2", (1, 512, 128)), weight("B2", (1, 1024)),
             weight("axis", (1,), value=[1], dtype=np.int64)]
    graph = graph_from_model(model(nodes, [tensor("x", (100, 1, 40))], [tensor("y2", None)], inits), name="kws")
    assert graph.macs == 21_708_800
    lstm1 = graph.layers[0]
    # flops: 2 x MACs + per step and cell 24 gate/cell operations + 8 bias additions: 100 x 128 x 32 = 409,600
    assert lstm1.flops == 2 * 8_601_600 + 409_600 and lstm1.op_class == "gemm"
    est = edgeperf.estimate(graph, "jetson-nano", on_unknown="error")   # no longer an unknown op
    assert est.total_macs == 21_708_800


def test_gru_and_rnn_count_their_gates():
    def one(op, gates):
        nodes = [helper.make_node(op, ["x", "W", "R"], ["y"], hidden_size=16, name=op.lower())]
        inits = [weight("W", (2, gates * 16, 10)), weight("R", (2, gates * 16, 16))]
        return graph_from_model(model(nodes, [tensor("x", (20, 3, 10))], [tensor("y", None)], inits), name=op)

    # bidirectional (2), 20 steps x batch 3: 2 x 60 x gates x 16 x (10 + 16)
    assert one("GRU", 3).macs == 2 * 60 * 3 * 16 * 26 == 149_760
    assert one("RNN", 1).macs == 2 * 60 * 16 * 26 == 49_920


def test_tflite_sequence_lstm_and_svdf_are_counted(tmp_path):
    pytest.importorskip("tflite")
    from tests import _tflite

    f32 = _tflite.FLOAT32
    # UNIDIRECTIONAL_SEQUENCE_LSTM: input [1, 50, 40]; 4 input-to-gate weights [64, 40]; 4 recurrent [64, 64];
    # no peepholes, 4 biases, no projection; states [1, 64]
    tensors = [("x", (1, 50, 40), f32, False)] + [(f"wi{i}", (64, 40), f32, True) for i in range(4)] \
        + [(f"wr{i}", (64, 64), f32, True) for i in range(4)] + [(f"b{i}", (64,), f32, True) for i in range(4)] \
        + [("h", (1, 64), f32, False), ("c", (1, 64), f32, False), ("y", (1, 50, 64), f32, False)]
    inputs = [0, 1, 2, 3, 4, 5, 6, 7, 8, -1, -1, -1, 9, 10, 11, 12, -1, -1, 13, 14]
    lstm = _tflite.build(tensors, [("UNIDIRECTIONAL_SEQUENCE_LSTM", inputs, [15], {})], [0], [15])
    path = tmp_path / "lstm.tflite"
    path.write_bytes(lstm)
    graph = edgeperf.load_model(path)
    # 50 steps x 4 gates x 64 cells x (40 + 64) = 1,331,200 MACs
    assert graph.layers[0].op_type == "LSTM" and graph.macs == 1_331_200
    # SVDF: input [2, 30], feature weights [16, 30], time weights [16, 10], bias [8], state [2, 160]
    tensors = [("x", (2, 30), f32, False), ("wf", (16, 30), f32, True), ("wt", (16, 10), f32, True),
               ("b", (8,), f32, True), ("state", (2, 160), f32, False), ("y", (2, 8), f32, False)]
    path = tmp_path / "svdf.tflite"
    path.write_bytes(_tflite.build(tensors, [("SVDF", [0, 1, 2, 3, 4], [5], {})], [0], [5]))
    # per batch row: 16 x 30 (features) + 16 x 10 (time) = 640 MACs; 2 rows: 1,280
    assert edgeperf.load_model(path).macs == 1_280


def swin_mask_graph():
    """The shape of a Swin shifted-window mask, as exporters write it: a constant subgraph
    (Range -> Reshape -> Equal -> Where -> Expand) whose Expand target is itself computed with Where
    (torch's expand(-1) idiom), read by the attention's Add; too big (4 x 1 x 49 x 49) to fold as a value."""
    nodes = [
        helper.make_node("Range", ["zero", "n", "step"], ["r"], name="range"),
        helper.make_node("Concat", ["rows", "minus1"], ["rshape_raw"], axis=0, name="concat_r"),
        helper.make_node("Equal", ["rshape_raw", "minus1"], ["is_free"], name="eq_r"),
        helper.make_node("Where", ["is_free", "cols", "rshape_raw"], ["rshape"], name="where_r"),
        helper.make_node("Reshape", ["r", "rshape"], ["grid"], name="reshape"),
        helper.make_node("Mod", ["grid", "two"], ["parity"], name="mod"),
        helper.make_node("Equal", ["parity", "zero"], ["even"], name="eq"),
        helper.make_node("Where", ["even", "zero_f", "minus100"], ["mask"], name="where_mask"),
        helper.make_node("Reshape", ["mask", "mshape"], ["mask4"], name="reshape_mask"),
        helper.make_node("Concat", ["four", "minus1", "rows", "one"], ["eshape_raw"], axis=0, name="concat_e"),
        helper.make_node("Equal", ["eshape_raw", "minus1"], ["e_free"], name="eq_e"),
        helper.make_node("Where", ["e_free", "one", "eshape_raw"], ["eshape"], name="where_e"),
        helper.make_node("Expand", ["mask4", "eshape"], ["expanded"], name="expand"),
        helper.make_node("Add", ["scores", "expanded"], ["y"], name="add"),
    ]
    def ints(name, values):
        return weight(name, (len(values),), value=values, dtype=np.int64)

    inits = [weight("zero", (), value=0, dtype=np.int64), weight("n", (), value=2401, dtype=np.int64),
             weight("step", (), value=1, dtype=np.int64),
             weight("one", (1,), value=[1], dtype=np.int64), ints("rows", [49]), ints("minus1", [-1]),
             ints("cols", [49]), weight("two", (), value=2, dtype=np.int64), weight("zero_f", (), value=0.0),
             weight("minus100", (), value=-100.0), ints("mshape", [1, 1, 49, 49]), ints("four", [4])]
    return model(nodes, [tensor("scores", (4, 2, 49, 49))], [tensor("y", (4, 2, 49, 49))], inits)


def test_a_swin_shifted_window_mask_gets_its_shapes(tmp_path):
    onnx_model = swin_mask_graph()
    graph = graph_from_model(onnx_model, name="swin_mask")
    add = next(layer for layer in graph.layers if layer.op_type == "Add")
    assert add.output_shapes == ((4, 2, 49, 49),)
    # the Add reads the scores and the 4 x 1 x 49 x 49 mask: 19,208 + 9,604 elements
    assert add.act_in_elems + add.weight_elems == 19_208 + 9_604
    est = edgeperf.estimate(graph, "jetson-nano")
    assert est.total_latency_ms > 0
    ort = pytest.importorskip("onnxruntime")                    # and onnxruntime runs the same graph
    path = tmp_path / "swin_mask.onnx"
    path.write_bytes(onnx_model.SerializeToString())
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (out,) = session.run(None, {"scores": np.zeros((4, 2, 49, 49), dtype=np.float32)})
    assert out.shape == (4, 2, 49, 49)


def test_an_embedding_lookup_reads_its_rows_not_its_table():
    # BERT-tiny's word embeddings: a 30,522 x 128 table, 128 token ids -> 128 x 128 values
    nodes = [helper.make_node("Gather", ["table", "ids"], ["emb"], axis=0, name="embed")]
    onnx_model = model(nodes, [tensor("ids", (1, 128), TensorProto.INT64)], [tensor("emb", (1, 128, 128))],
                       [weight("table", (30522, 128))])
    layer = graph_from_model(onnx_model, name="embedding").layers[0]
    assert layer.weight_elems == 128 * 128            # the rows gathered (was 3,906,816: the whole table)
    assert layer.act_in_elems == 128 and layer.act_out_elems == 128 * 128
    est = edgeperf.estimate(graph_from_model(onnx_model, name="embedding"), "jetson-nano")
    # fp16: (16,384 rows + 128 ids + 16,384 out) x 2 bytes = 65,792 bytes
    assert est.layers[0].bytes_ == 65_792


def test_slice_reads_what_it_keeps():
    nodes = [helper.make_node("Slice", ["x", "starts", "ends", "axes"], ["y"], name="slice")]
    inits = [weight("starts", (1,), value=[0], dtype=np.int64), weight("ends", (1,), value=[1], dtype=np.int64),
             weight("axes", (1,), value=[1], dtype=np.int64)]
    layer = graph_from_model(model(nodes, [tensor("x", (1, 197, 768))], [tensor("y", (1, 1, 768))], inits),
                             name="cls").layers[0]
    assert layer.act_in_elems == 768          # the class token, not the 197 x 768 sequence


# ---- item 14 --------------------------------------------------------------------------------------------------


def test_help_reads_plainly(capsys):
    for command in (["estimate"], ["fit"], ["validate"], ["zoo", "export"], ["search"], []):
        out = run(command + ["--help"], capsys)
        assert "<bool>" not in out and "[[" not in out and "{model}" not in out and "{spec}" not in out
    assert "Usage: edgeperf estimate [OPTIONS] MODEL..." in run(["estimate", "--help"], capsys)
    assert "[SWEEP]" in run(["fit", "--help"], capsys)


def test_json_contracts_name_their_schema_and_units(tmp_path, capsys):
    table = tmp_path / "t.csv"
    table.write_text("model,latency_ms\nzoo:resnet18,20\nzoo:mobilenet_v2,9\nzoo:squeezenet1_0,7\n")
    document = json.loads(run(["validate", "--table", str(table), "-p", "jetson-nano", "-f", "json"], capsys))
    assert document["schema"] == "edgeperf.validate/1"
    spec = ROOT / "examples" / "traffic_light.yaml"
    search = json.loads(run(["search", str(spec), "-f", "json"], capsys))
    assert "cost_eur" in search["pareto"][0] and "cost" not in search["pareto"][0]


def test_dvfs_columns_all_have_headers_and_the_coral_note_cites_no_jetson(capsys):
    out = run(["dvfs", EXAMPLE, "-p", "coral-edgetpu"], capsys)
    assert "optimum" in out and "Jetson" not in out and "no DVFS governor" in out
    assert "Jetson governors" in run(["dvfs", EXAMPLE, "-p", "jetson-tx2"], capsys)


def test_profile_sources_cite_documents_not_our_folders():
    from edgeperf.profiles import list_profiles, load_profile

    for name in list_profiles():
        document = json.dumps(load_profile(name).to_document())
        assert "shared/" not in document, name
    assert "shared/" not in (ROOT / "profiles" / "data" / "runtimes" / "support.json").read_text()


def test_profiles_list_does_not_show_unit_peaks_as_numbers(capsys):
    out = run(["profiles", "list"], capsys)
    assert "int8 (no peak: fitted scales)" in out and not re.search(r"int8 1\b", out)


def test_input_shape_hints_fit_the_input_and_a_wrong_rank_is_one_line(tmp_path, capsys):
    ids = helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "sequence"])
    nodes = [helper.make_node("Gather", ["table", "input_ids"], ["y"], axis=0, name="embed")]
    path = tmp_path / "bert.onnx"
    path.write_bytes(model(nodes, [ids], [tensor("y", None)], [weight("table", (100, 8))]).SerializeToString())
    assert main(["estimate", str(path), "-p", "jetson-nano"]) == 2
    err = capsys.readouterr().err
    assert "--input-shape input_ids=1x128" in err and "1x3x224x224" not in err
    assert main(["estimate", str(path), "-p", "jetson-nano", "--input-shape", "input_ids=1x3x128"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "has 3 dimensions, but input 'input_ids' has 2" in err
    assert run(["estimate", str(path), "-p", "jetson-nano", "--input-shape", "input_ids=1x16"], capsys)


def test_validate_on_this_device_takes_input_shapes(tmp_path, capsys):
    pytest.importorskip("onnxruntime")
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 8])
    nodes = [helper.make_node("Relu", ["x"], ["y"], name="relu")]
    path = tmp_path / "dyn.onnx"
    path.write_bytes(model(nodes, [x], [tensor("y", None)]).SerializeToString())
    # real timing: on a busy machine the one measurement may stay disturbed (exit 3, issue 19); either way
    # the model ran at the given shape (without it the command refuses the dynamic input: exit 2)
    code = main(["validate", str(path), "-p", "raspberry-pi-4", "--input-shape", "x=4x8", "-f", "json"])
    captured = capsys.readouterr()
    assert code in (0, 3), captured.err
    if code == 0:
        assert json.loads(captured.out)["rows"][0]["predicted_ms"] > 0
    else:
        assert captured.err == ("1 of 1 measurements disturbed by other load; rerun on an idle machine or raise "
                                "--budget-minutes\n")
    assert main(["validate", str(path), "-p", "raspberry-pi-4", "-f", "json"]) == 2
    assert "x" in capsys.readouterr().err


def test_fit_thermal_writes_its_fit_into_a_profile(tmp_path, capsys):
    from edgeperf.profiles import load_profile

    # a step of 2 W from idle through R = 5 C/W, tau = 30 s, base 40 C, sampled each second
    t = np.arange(0.0, 200.0, 1.0)
    power = np.where(t >= 20, 2000.0, 0.0)
    a = np.exp(-1.0 / 30.0)
    temp = [40.0]
    for p in power[:-1]:
        temp.append(a * temp[-1] + (1 - a) * (40.0 + 5.0 * p / 1000.0))
    trace = tmp_path / "trace.csv"
    trace.write_text("time_s,temp_c,power_mw\n" + "".join(f"{ti},{te},{p}\n" for ti, te, p in zip(t, temp, power)))
    out = tmp_path / "coral-fitted.json"
    run(["fit-thermal", str(trace), "--base", "coral-edgetpu", "--out", str(out)], capsys)
    fitted, base = load_profile(out), load_profile("coral-edgetpu")
    assert fitted.thermal.resistance_c_per_w == pytest.approx(5.0, rel=1e-3)
    assert fitted.thermal.time_constant_s == pytest.approx(30.0, rel=1e-3)
    assert fitted.thermal.ambient_c == pytest.approx(40.0, abs=1e-2)
    assert fitted.thermal.idle_c == pytest.approx(40.0 + 5.0 * base.power.idle_mw / 1000.0, abs=1e-2)
    assert fitted.thermal.levels == base.thermal.levels               # the throttling policy is kept
    assert "fit-thermal" in fitted.sources
    assert main(["fit-thermal", str(trace), "--base", "jetson-nano", "--out", str(tmp_path / "x.json")]) == 2
    assert "no thermal section" in capsys.readouterr().err


# ---- the CLI page matches --help ------------------------------------------------------------------------------


def _commands(group, prefix=()):
    """(path, command) for every command of the app, sub-apps included."""
    for name, command in sorted(group.commands.items()):
        if hasattr(command, "commands"):
            yield from _commands(command, prefix + (name,))
        else:
            yield prefix + (name,), command


def test_docs_cli_page_lists_every_command_and_option():
    import typer

    from edgeperf.cli import app

    page = (ROOT / "docs" / "cli.md").read_text()
    sections = re.split(r"\n(?=## )", page)
    missing = []
    for path, command in _commands(typer.main.get_command(app)):
        title = re.compile(r"## `edgeperf " + re.escape(" ".join(path)) + r"[ `]")
        text = "\n".join(s for s in sections if title.match(s))
        if not text:
            missing.append(f"{' '.join(path)}: no section")
            continue
        for param in command.params:
            flags = [o for o in param.opts if o.startswith("--")] if param.param_type_name == "option" else []
            if flags and flags[0] != "--help" and not any(f in text for f in flags):
                missing.append(f"{' '.join(path)}: {flags[0]}")
    assert not missing, missing
    for flag in ("--version", "--verbose", "--install-completion"):
        assert flag in page
