"""Layer sweeps: real measurement (briefly), resumption, the writer lock, step widths found from data."""

from __future__ import annotations

import csv
import json
import math
import os

import pytest

import edgeperf
from edgeperf.measure import (
    EMPTY_LAYER,
    LAYER_SWEEP_COLUMNS,
    Harness,
    SweepPlan,
    fit_sweep,
    plan_sweep,
    read_layer_sweep,
    run_sweep,
)
from edgeperf.zoo import layer_reference, parse_layer

from ._machine import SimulatedMachine, SimulatedRunner


def test_plan_is_seeded_and_bounded():
    a, b = plan_sweep(3.0, seed=1), plan_sweep(3.0, seed=1)
    assert a.points == b.points and len(set(a.points)) == len(a.points)
    kinds = {parse_layer(p.removeprefix("zoo:layer:"))[0] for p in a.points}
    assert kinds == {"conv", "dwconv", "gemm", "maxpool", "avgpool", "add", "relu", "sigmoid"}
    assert len(plan_sweep(12.0).points) > len(a.points)
    with pytest.raises(edgeperf.InputError):
        plan_sweep(0)


def test_layer_references_build_and_estimate():
    est = edgeperf.estimate(layer_reference("conv", cin=16, cout=32, hw=28, k=3, s=1), "raspberry-pi-4")
    assert est.layers[0].macs == 32 * 28 * 28 * 16 * 9
    with pytest.raises(edgeperf.ModelError, match="outside 1..8192"):
        edgeperf.estimate("zoo:layer:conv,cin=99999,cout=1,hw=1", "jetson-nano")
    with pytest.raises(edgeperf.ModelError, match="unknown layer kind"):
        edgeperf.estimate("zoo:layer:lstm,c=1", "jetson-nano")


POINTS = ("zoo:layer:conv,cin=8,cout=16,hw=14,k=3,s=1", "zoo:layer:conv,cin=16,cout=24,hw=14,k=1,s=1",
          "zoo:layer:gemm,cin=512,cout=256", "zoo:layer:relu,c=64,hw=28")


def test_sweep_measures_resumes_and_refines_on_a_simulated_device(tmp_path):
    machine = SimulatedMachine()
    plan = SweepPlan(points=POINTS, refine_rounds=1, refine_points=1, passes=1, rounds=3, round_s=0.005)
    harness = Harness(rounds=3, round_s=0.005, warmup_s=0.0, clock=machine.clock, sleep=machine.sleep,
                      reference=machine.work(0.0001))
    path = tmp_path / "s.csv"
    rows = run_sweep(SimulatedRunner(machine), path, plan=plan, harness=harness)
    references = [r.reference for r in rows]
    assert references.count(EMPTY_LAYER) == 1 and set(POINTS) <= set(references)
    refined = [r for r in rows if r.round == 1]
    assert 1 <= len(refined) <= 2                       # neighbours of the worst-fitted point
    assert all(r.flags == () for r in rows)
    assert path.read_text().splitlines()[0].split(",") == list(LAYER_SWEEP_COLUMNS)
    meta = json.loads((tmp_path / "s.csv.meta.json").read_text())
    # the simulated device: a 1024^3 MatMul (2.15 GFLOP at 50 GFLOP/s, 20 GB/s for its 12 MiB, 7 us fixed)
    matmul_s = 2 * 1024**3 / 50e9 + 3 * 4 * 1024**2 / 20e9 + 7e-6
    assert meta["roofline"]["peak_gflops"] == pytest.approx(2 * 1024**3 / matmul_s / 1e9, rel=1e-4)
    assert meta["runtime"]["threads"] == 1
    again = run_sweep(SimulatedRunner(machine), path, plan=plan, harness=harness)
    assert len(again) == len(rows)                       # nothing re-measured
    assert not (tmp_path / "s.csv.lock").exists()


def test_a_disturbed_sweep_ends_with_exit_3_and_a_rerun_measures_again(tmp_path):
    # other load pre-empts the reference in 3 rounds of 4: every measurement stays disturbed
    machine = SimulatedMachine()
    plan = SweepPlan(points=POINTS, refine_rounds=0, passes=1, rounds=4, round_s=0.005)
    busy = Harness(rounds=4, round_s=0.005, warmup_s=0.0, clock=machine.clock, sleep=machine.sleep, retries=1,
                   reference=machine.work(0.0001, stall=lambda n: 0.004 if (n // 5) % 4 else 0.0))
    path = tmp_path / "s.csv"
    with pytest.raises(edgeperf.DisturbedError, match=r"^5 of 5 measurements disturbed by other load; rerun on an "
                                                      r"idle machine or raise --budget-minutes$"):
        run_sweep(SimulatedRunner(machine), path, plan=plan, harness=busy)
    kept = read_layer_sweep(path)
    assert len(kept) == 5 and all("disturbed" in r.flags for r in kept)     # kept, flagged, for the rerun
    idle = Harness(rounds=4, round_s=0.005, warmup_s=0.0, clock=machine.clock, reference=machine.work(0.0001))
    rows = run_sweep(SimulatedRunner(machine), path, plan=plan, harness=idle)
    assert len(rows) == 5 and all(r.flags == () for r in rows)              # measured again, in place
    assert [r.reference for r in rows] == [r.reference for r in kept]


@pytest.mark.realtime
def test_a_real_sweep_holds_under_load(tmp_path):
    # real onnxruntime on a possibly busy machine: what load cannot change. A second run resumes.
    pytest.importorskip("onnxruntime")
    from edgeperf.measure import OnnxRuntimeRunner

    plan = SweepPlan(points=POINTS[:2], refine_rounds=0, passes=1, rounds=3, round_s=0.005)
    path = tmp_path / "s.csv"
    try:
        rows = run_sweep(OnnxRuntimeRunner(threads=1), path, plan=plan,
                         harness=Harness(rounds=3, round_s=0.005, warmup_s=0.0, retries=1, backoff_s=0.05))
    except edgeperf.DisturbedError:
        rows = read_layer_sweep(path)      # too busy to finish: what was measured is kept all the same
    assert {r.reference for r in rows} <= {EMPTY_LAYER, *POINTS[:2]} and len(rows) >= 1
    from edgeperf.estimator import load_model
    from edgeperf.measure import ceilings, device_info, graph_floor_ms

    ceiling = ceilings(OnnxRuntimeRunner(threads=1).settings(), device_info())
    for row in rows:      # below its physical floor only if flagged so (and then left out of any fit)
        floor = graph_floor_ms(load_model(row.reference), ceiling=ceiling)
        assert 0 < row.latency_ms < 1000
        assert row.latency_ms >= floor or "implausible" in row.flags
    meta = json.loads((tmp_path / "s.csv.meta.json").read_text())
    assert 0 < meta["roofline"]["peak_gflops"] <= meta["roofline"]["ceiling_gflops"]


def test_a_second_writer_is_refused_and_a_dead_ones_lock_taken_over(tmp_path):
    from edgeperf._lock import exclusive

    path = tmp_path / "s.csv"
    with exclusive(path):
        with pytest.raises(edgeperf.InputError, match="another edgeperf process"):
            with exclusive(path):
                pass
    (tmp_path / "s.csv.lock").write_text(str(os.getppid()))         # a live process holds it
    with pytest.raises(edgeperf.InputError, match=f"pid {os.getppid()}"):
        with exclusive(path):
            pass
    (tmp_path / "s.csv.lock").write_text("999999999")               # its writer is gone: stale
    with exclusive(path):
        assert (tmp_path / "s.csv.lock").read_text().split()[0] == str(os.getpid())


def synthetic_sweep(tmp_path, par):
    """A sweep file whose conv times follow padding of c_out to ``par`` exactly: t = 2 x padded roofline + 0.01."""
    meta = {"runtime": {"name": "onnxruntime", "version": "test", "threads": 1},
            "device": {"cpu": "synthetic"}, "roofline": {"peak_gflops": 100.0, "bandwidth_gbps": 20.0}}
    (tmp_path / "s.csv.meta.json").write_text(json.dumps(meta))
    rows = []

    def row(ref, kind, ms):
        return dict(reference=ref, kind=kind, round=0, latency_ms=ms, raw_latency_ms=ms, spread=0.01, drift=1.0,
                    flags="", reference_ms=0.1, measured_at="2026-11-22T00:00:00", energy_mj="", power_mw="")

    rows.append(row(EMPTY_LAYER, "relu", 0.001))
    for cin, cout, hw in [(8, 17, 28), (16, 30, 14), (32, 33, 14), (24, 41, 28), (64, 57, 7), (12, 63, 28),
                          (40, 70, 14), (48, 81, 7), (20, 95, 14), (60, 100, 7), (30, 9, 28), (50, 47, 14)]:
        flops = 2 * cout * hw * hw * cin * 9
        padded = flops * math.ceil(cout / par) * par / cout
        ms = 2 * padded / 100e6 + 0.01 + 0.001          # plus the per-call overhead the fit subtracts
        rows.append(row(layer_reference("conv", cin=cin, cout=cout, hw=hw, k=3, s=1), "conv", ms))
    with open(tmp_path / "s.csv", "w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=LAYER_SWEEP_COLUMNS)
        writer.writeheader()
        writer.writerows({**r, "pass": 0} for r in rows)
    return tmp_path / "s.csv"


def test_fit_discovers_the_step_width_from_the_data(tmp_path):
    result = fit_sweep(synthetic_sweep(tmp_path, 16), name="synthetic")
    provenance = result.profile.to_document()["provenance"]
    assert provenance["step_widths"] == {"conv": {"c_out": {"par": 16}}}
    assert provenance["per_call_overhead_ms"] == pytest.approx(0.001)
    assert result.cross_validation.mape < 0.01
    conv = result.profile.to_document()["layer_models"]["conv"]["params"]
    assert conv["compute_scale"] == pytest.approx(2.0, rel=0.02) and conv["steps"] == {"c_out": {"par": 16}}
    plain = fit_sweep(synthetic_sweep(tmp_path, 1), name="plain")
    assert plain.profile.to_document()["provenance"]["step_widths"] == {}


def test_bad_sweeps(tmp_path):
    path = tmp_path / "s.csv"
    with pytest.raises(edgeperf.InputError, match="no such sweep"):
        fit_sweep(path, name="x")
    path.write_text("a,b\n1,2\n")
    with pytest.raises(edgeperf.InputError, match="not an edgeperf layer sweep"):
        read_layer_sweep(path)
    synthetic_sweep(tmp_path, 1)
    rows = list(csv.DictReader(path.open()))
    rows[1]["latency_ms"] = "-3"
    with open(path, "w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=LAYER_SWEEP_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    with pytest.raises(edgeperf.InputError, match="latency_ms .*must be > 0"):
        read_layer_sweep(path)
    synthetic_sweep(tmp_path, 1)
    (tmp_path / "s.csv.meta.json").unlink()
    with pytest.raises(edgeperf.InputError, match="meta.json: missing"):
        fit_sweep(path, name="x")


def test_cli_fit_sweep_and_validate_on_device(tmp_path, capsys):
    pytest.importorskip("onnxruntime")
    from edgeperf.cli import main

    sweep = synthetic_sweep(tmp_path, 8)
    assert main(["fit", str(sweep), "--out", str(tmp_path / "p.json")]) == 0
    out = capsys.readouterr().out
    assert "step width 8" in out and "12 layers" in out
    # real onnxruntime: on a busy machine the measurement may stay disturbed, which must say so (exit 3, one line)
    code = main(["validate", "zoo:conv3dense1", "-p", str(tmp_path / "p.json"), "--layers", "-f", "json"])
    captured = capsys.readouterr()
    if code == 3:
        assert captured.err.endswith("measurements disturbed by other load; rerun on an idle machine or raise "
                                     "--budget-minutes\n") and captured.err.count("\n") == 1
        return
    assert code == 0
    document = json.loads(captured.out)
    assert document["rows"][0]["model"] == "zoo:conv3dense1" and document["rows"][0]["measured_ms"] > 0
    assert {layer["layer"] for layer in document["layers"]} >= {"conv_0", "gemm_0"}
    assert main(["fit", str(sweep), "--networks", "x.csv", "--out", str(tmp_path / "q.json")]) == 2
    assert "give one of: a SWEEP file" in capsys.readouterr().err
