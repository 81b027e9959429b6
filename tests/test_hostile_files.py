"""Hand-written and measured files from anywhere: sweep files, tables, traces, vendor profiles, sweep records.

Every loader meets fuzzed text and must answer with InputError (exit code 2 in the CLI), never
another exception. Brief by default; ``pytest -m slow tests/test_hostile_files.py`` runs long.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import edgeperf
from edgeperf.measure import (
    LAYER_SWEEP_COLUMNS,
    SWEEP_COLUMNS,
    CsvPowerReplay,
    read_layer_profile,
    read_layer_sweep,
    read_sweep,
    read_trace_csv,
)
from edgeperf.measure._meta import check_or_record
from edgeperf.fitting import read_network_table

cells = st.one_of(st.text(max_size=12), st.floats(allow_nan=True, allow_infinity=True).map(str),
                  st.integers(-10**6, 10**6).map(str), st.just("zoo:layer:conv,cin=8,cout=8,hw=8"))
headers = st.lists(st.sampled_from(sorted(set(SWEEP_COLUMNS + LAYER_SWEEP_COLUMNS + (
    "model", "latency_ms", "energy_mj", "time_s", "temp_c", "power_mw", "power_w", "layerName", "x")))),
    min_size=1, max_size=14, unique=True)


@st.composite
def csv_files(draw):
    header = draw(headers)
    rows = draw(st.lists(st.lists(cells, min_size=len(header), max_size=len(header)), max_size=6))
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    text = out.getvalue()
    if draw(st.booleans()):
        cut = draw(st.integers(0, len(text)))
        text = text[:cut]
    return text


LOADERS = [read_layer_sweep, read_sweep, read_network_table, lambda p: read_trace_csv(p, ("time_s", "temp_c")),
           CsvPowerReplay, read_layer_profile]


def check_loaders(tmp_path, content) -> None:
    path = tmp_path / "f.csv"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    for loader in LOADERS:
        try:
            loader(path)
        except (edgeperf.InputError, edgeperf.ModelError):
            pass


@given(content=csv_files())
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_csv_loaders_only_raise_input_errors(tmp_path, content):
    check_loaders(tmp_path, content)


@given(content=st.binary(max_size=300))
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_binary_garbage(tmp_path, content):
    check_loaders(tmp_path, content)


@pytest.mark.slow
@given(content=csv_files())
@settings(max_examples=5000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_csv_loaders_long(tmp_path, content):
    check_loaders(tmp_path, content)


def test_a_sweep_never_mixes_devices(tmp_path):
    sweep = tmp_path / "s.csv"
    settings_a = {"name": "onnxruntime", "version": "1.31.1", "threads": 1, "providers": ["CPUExecutionProvider"]}
    info = {"cpu": "Cortex-A57", "cores": 4, "machine": "aarch64"}
    check_or_record(sweep, settings_a, info)
    check_or_record(sweep, settings_a, info)                            # resuming on the same device: fine
    with pytest.raises(edgeperf.InputError, match="cpu 'Cortex-A57' -> 'Xeon'"):
        check_or_record(sweep, settings_a, {**info, "cpu": "Xeon"})
    with pytest.raises(edgeperf.InputError, match="threads 1 -> 2"):
        check_or_record(sweep, {**settings_a, "threads": 2}, info)
    (tmp_path / "s.csv.meta.json").write_text("{not json")
    with pytest.raises(edgeperf.InputError, match="unreadable sweep record"):
        check_or_record(sweep, settings_a, info)
    orphan = tmp_path / "o.csv"
    orphan.write_text("reference,latency_ms\n")
    with pytest.raises(edgeperf.InputError, match="has no record of the device"):
        check_or_record(orphan, settings_a, info)


def test_calibration_refuses_a_second_writer(tmp_path):
    pytest.importorskip("onnxruntime")
    from edgeperf.measure import OnnxRuntimeRunner, calibrate

    sweep = tmp_path / "s.csv"
    (tmp_path / "s.csv.lock").write_text(str(os.getppid()))
    with pytest.raises(edgeperf.InputError, match="another edgeperf process"):
        calibrate("x", runner=OnnxRuntimeRunner(), sweep_path=sweep)
    assert not sweep.exists()


def test_interrupted_search_exits_130_and_resumes(tmp_path):
    pytest.importorskip("optuna")
    import yaml

    spec = tmp_path / "s.yaml"
    spec.write_text(yaml.safe_dump({"models": ["zoo:mobilenet_v2", "zoo:resnet18"],
                                    "platforms": ["jetson-nano", "jetson-tx2"], "operating_points": "grid",
                                    "objectives": ["min latency_ms", "min energy_mj"]}))
    journal = tmp_path / "s.journal"
    command = [sys.executable, "-m", "edgeperf.cli", "search", str(spec), "--trials", "400", "--sampler", "random",
               "--storage", f"journal:{journal}", "--study-name", "s", "--format", "json"]
    # SIGINT restored to its default in the child: started from a background job (nohup, `cmd &` in a
    # script, some CI runners) it inherits SIGINT ignored, and Python then never raises KeyboardInterrupt
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not journal.exists() or journal.stat().st_size < 20_000):
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130 and "interrupted" in err and "Traceback" not in err, err[-2000:]
    finished = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr
    assert json.loads(finished.stdout)["n_trials"] == 400


# crashes the fuzzers found, kept as regression cases
@pytest.mark.parametrize("content", [
    b"\x80",                                           # read_sweep raised UnicodeDecodeError (fixed: InputError)
    "reference,latency_ms\n\x00,1\n",                  # a NUL byte inside a CSV cell
])
def test_fuzz_regressions(tmp_path, content):
    check_loaders(tmp_path, content)
