"""Calibration on this machine for real (briefly), resuming after a kill, sweep-file checks."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from edgeperf import InputError
from edgeperf.measure import CalibrationPlan, Harness, calibrate, read_sweep

pytest.importorskip("onnxruntime")

SMALL = CalibrationPlan(training=(("conv3dense1", None), ("squeezenet1_1", 64), ("mobilenet_v3_small", 96),
                                  ("nb201:|nor_conv_3x3~0|+|none~0|skip_connect~1|+|avg_pool_3x3~0|none~1|nor_conv_1x1~2|",
                                   None)),
                        validation=("mobilenet_v3_small",), rounds=3, round_s=0.02, passes=2)


def test_calibration_writes_a_profile_that_predicts(tmp_path):
    from edgeperf.measure import OnnxRuntimeRunner
    from edgeperf.profiles import load_profile, parse_profile

    lines = []
    # 3 rounds of 20 ms are noisy on a shared VM: no measurement may be left out as unstable here, or the one
    # validation network can vanish (flag exclusion has tests of its own)
    result = calibrate("tiny", runner=OnnxRuntimeRunner(threads=1), sweep_path=tmp_path / "s.csv", plan=SMALL,
                       harness=Harness(rounds=3, round_s=0.02, warmup_s=0.01, unstable_spread=1e9),
                       progress=lines.append)
    document = result.profile.to_document()
    assert document["kind"] == "fitted" and document["runtime"]["name"] == "onnxruntime"
    assert document["runtime"]["threads"] == 1 and document["device"]["cores"] >= 1
    assert document["provenance"]["measurements"] == 10      # 5 networks x 2 passes
    assert set(document["provenance"]["validation"]) >= {"mape", "within_10pct", "spearman", "n", "median_abs_error"}
    profile = parse_profile(document)
    assert profile.precisions["fp32"] > 0 and profile.power.calibrated is False
    assert len(read_sweep(tmp_path / "s.csv")) == 10 and len(lines) == 11  # roofline line + 10 measurements
    again = calibrate("tiny", runner=OnnxRuntimeRunner(threads=1), sweep_path=tmp_path / "s.csv", plan=SMALL,
                      harness=Harness(rounds=3, round_s=0.02, warmup_s=0.01))
    assert again.reused == 10 and len(read_sweep(tmp_path / "s.csv")) == 10
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(document))
    assert load_profile(path).name == "tiny"


def test_a_killed_calibration_resumes_without_loss_or_duplicates(tmp_path):
    sweep = tmp_path / "s.csv"
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(os.getcwd())!r})
        from tests.test_calibrate import SMALL
        from edgeperf.measure import Harness, OnnxRuntimeRunner, calibrate
        calibrate("tiny", runner=OnnxRuntimeRunner(), sweep_path={str(sweep)!r}, plan=SMALL,
                  harness=Harness(rounds=3, round_s=0.3, warmup_s=0.05))
    """)
    process = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.time() + 120
    while time.time() < deadline and len(read_sweep(sweep)) < 2:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    before = read_sweep(sweep)          # the file is whole: written by rename, never in place
    assert 2 <= len(before) < 10
    from edgeperf.measure import OnnxRuntimeRunner

    result = calibrate("tiny", runner=OnnxRuntimeRunner(), sweep_path=sweep, plan=SMALL,
                       harness=Harness(rounds=3, round_s=0.02, warmup_s=0.01))
    after = read_sweep(sweep)
    keys = [(r.reference, r.input_size, r.role, r.pass_) for r in after]
    assert len(keys) == len(set(keys)) == 10                      # nothing duplicated, nothing missing
    assert after[: len(before)] == before                         # what was measured is kept as it was
    assert result.reused == len(before)


@pytest.mark.parametrize("content,fragment", [
    ("a,b\n1,2\n", "not an edgeperf sweep file"),
    ("reference,input_size,role,pass,latency_ms,raw_latency_ms,spread,drift,flags,reference_ms,measured_at\n"
     "resnet18,,train,0,-1,1,0,1,,0.2,now\n", "must be > 0"),
])
def test_bad_sweep_files(tmp_path, content, fragment, capsys):
    from edgeperf.cli import main

    path = tmp_path / "s.csv"
    path.write_text(content)
    with pytest.raises(InputError, match=fragment):
        read_sweep(path)
    assert main(["calibrate", "--name", "x", "--out", str(tmp_path / "x.json"), "--sweep", str(path)]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


class ClockedMeter:
    """A meter on the real clock: idle 1 W plus 3 W while a workload batch runs (a CPU package, schematically)."""

    def __init__(self):
        self.reads = 0

    def read(self):
        from edgeperf.measure import Reading

        self.reads += 1
        return Reading(time_s=time.perf_counter(), total_mw=4000.0)

    def describe(self):
        return {"source": "test-meter", "power": True}


def test_calibration_with_a_power_source_fits_the_power_model(tmp_path):
    from edgeperf.measure import OnnxRuntimeRunner
    from edgeperf.profiles import parse_profile

    meter = ClockedMeter()
    result = calibrate("tiny-energy", runner=OnnxRuntimeRunner(threads=1), sweep_path=tmp_path / "s.csv", plan=SMALL,
                       harness=Harness(rounds=3, round_s=0.02, warmup_s=0.01, power=meter), power=meter)
    rows = read_sweep(tmp_path / "s.csv")
    assert meter.reads >= 2 * 3 * len(rows)
    for row in rows:    # 4 W throughout: energy per call = 4 W x the call's time as run (batch timing includes the loop)
        assert row.energy_mj == pytest.approx(4.0 * row.raw_latency_ms, rel=0.5)
        assert row.power_mw == pytest.approx(4000.0, rel=1e-6)
    profile = parse_profile(result.profile.to_document())
    assert profile.power.calibrated is True
    assert result.profile.to_document()["provenance"]["power_source"]["source"] == "test-meter"
    assert set(result.profile.to_document()["provenance"]["excluded_by_flag"]) == {"unstable", "hot", "throttled", "clock-changed"}
