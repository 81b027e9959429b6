"""Processes killed at any moment and writers racing: real processes, real signals, real races.

- a search's worker processes end with their launcher, however it ends (SIGKILL, SIGTERM,
  SIGINT to the launcher alone), and a rerun completes exactly the budget;
- the sweep lock lets one writer in at a time when processes race for it, also while stale
  locks of killed writers are being taken over, and no writer's rows are lost;
- a sweep killed during a refinement round resumes that round as it was planned.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from edgeperf.measure import SweepPlan, read_layer_sweep, run_sweep

if not Path("/proc/self/stat").exists():
    pytest.skip("the process tests read /proc (Linux)", allow_module_level=True)

from ._procs import children, cmdline, running

SPEC = """\
models: [zoo:mobilenet_v2, zoo:resnet18]
platforms: [jetson-nano, jetson-tx2]
operating_points: grid
objectives: [min latency_ms, min energy_mj]
"""


def _search(tmp_path, trials: int):
    (tmp_path / "k.yaml").write_text(SPEC)
    return [sys.executable, "-m", "edgeperf.cli", "search", str(tmp_path / "k.yaml"), "--trials", str(trials),
            "--workers", "2", "--sampler", "random", "--storage", f"journal:{tmp_path / 'k.journal'}",
            "--study-name", "k", "--format", "json"]


def _default_sigint() -> None:
    """In a test's child: SIGINT as Python expects it (a background job's children inherit it ignored)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _wait_gone(pids, timeout_s: float) -> list[int]:
    deadline = time.monotonic() + timeout_s
    while running(pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    return running(pids)


def _wait_for_workers(process, journal: Path, timeout_s: float = 120.0) -> list[int]:
    """The launcher's worker processes, once two run and trials are being written."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[1][-2000:]
        workers = [c for c in children(process.pid) if "spawn_main" in cmdline(c)]
        if len(workers) >= 2 and journal.exists() and journal.stat().st_size > 20_000:
            return workers
        time.sleep(0.05)
    raise AssertionError("the workers did not start trials in time")


@pytest.mark.slow          # 30-60 s each on a busy 2-core machine: two launches of a launcher and two workers
@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT], ids=["SIGKILL", "SIGTERM", "SIGINT"])
def test_workers_end_with_their_launcher_and_the_rerun_keeps_the_budget(tmp_path, signum):
    command = _search(tmp_path, 600)
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               preexec_fn=_default_sigint)
    children = _wait_for_workers(process, tmp_path / "k.journal")
    process.send_signal(signum)                     # to the launcher only, not its process group
    _, err = process.communicate(timeout=60)
    if signum != signal.SIGKILL:
        assert process.returncode == 130 and "interrupted" in err and "Traceback" not in err, err[-2000:]
    alive = _wait_gone(children, 30)
    assert not alive, f"orphaned workers still running: {alive}"
    finished = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0, finished.stderr[-2000:]
    assert json.loads(finished.stdout)["n_evaluated"] == 600   # no orphan kept adding trials


LAUNCHER = textwrap.dedent("""
    import multiprocessing, os, sys, time
    from edgeperf import _workers

    if sys.argv[1] == "watchdog":              # no PR_SET_PDEATHSIG: the parent watchdog thread alone
        _workers._ask_kernel = lambda signum: False

    def work(parent):
        _workers.tie_to_parent(parent)
        while True:
            time.sleep(0.05)

    if __name__ == "__main__":
        context = multiprocessing.get_context("spawn")
        _workers.run_workers([context.Process(target=work, args=(os.getpid(),)) for _ in range(2)])
""")


@pytest.mark.parametrize("signum,how", [(signal.SIGKILL, "kernel"), (signal.SIGKILL, "watchdog"),
                                        (signal.SIGTERM, "kernel"), (signal.SIGINT, "kernel")],
                         ids=["SIGKILL-kernel", "SIGKILL-watchdog", "SIGTERM-kernel", "SIGINT-kernel"])
def test_workers_die_with_their_parent(tmp_path, signum, how):
    script = tmp_path / "launcher.py"
    script.write_text(LAUNCHER)
    # SIGINT restored in the child: a child of a background job (a suite run with `&`) inherits it ignored
    process = subprocess.Popen([sys.executable, str(script), how], stderr=subprocess.PIPE, text=True,
                               preexec_fn=_default_sigint)
    deadline = time.monotonic() + 120
    workers = []
    while time.monotonic() < deadline and len(workers) < 2:
        assert process.poll() is None, process.communicate()[1][-2000:]
        workers = [c for c in children(process.pid) if "spawn_main" in cmdline(c)]
        time.sleep(0.05)
    time.sleep(0.5)                             # the workers are inside their loop
    assert len(workers) == 2
    process.send_signal(signum)                 # to the parent alone
    process.wait(timeout=60)
    alive = _wait_gone(workers, 20)
    assert not alive, f"workers outlived their parent ({how}): {alive}"


RACER = textwrap.dedent("""
    import os, random, sys, time
    from edgeperf import InputError
    from edgeperf._lock import exclusive

    target, marker, rows, rounds, role = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
    random.seed(os.getpid())
    if role == "killed":                 # take the lock and die holding it: a stale lock for the others
        while True:
            try:
                with exclusive(target):
                    os.kill(os.getpid(), 9)
            except InputError:
                time.sleep(random.random() * 0.002)
    done = overlaps = 0
    while done < rounds:
        try:
            with exclusive(target):
                try:
                    os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
                except FileExistsError:
                    overlaps += 1        # somebody else is inside the lock at the same time
                with open(rows) as stream:           # read-modify-write, as a sweep rewrites its file
                    text = stream.read()
                time.sleep(random.random() * 0.002)
                with open(rows, "w") as stream:
                    stream.write(text + f"{os.getpid()},{done}\\n")
                try:
                    os.unlink(marker)
                except FileNotFoundError:
                    overlaps += 1
                done += 1
        except InputError:
            time.sleep(random.random() * 0.002)
    print(overlaps)
""")


def test_racing_writers_enter_the_sweep_lock_one_at_a_time_and_lose_nothing(tmp_path):
    target, marker, rows = tmp_path / "s.csv", tmp_path / "inside", tmp_path / "rows.txt"
    rows.write_text("")
    rounds, racers = 30, 4

    def start(role):
        return subprocess.Popen([sys.executable, "-c", RACER, str(target), str(marker), str(rows), str(rounds), role],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    processes = [start("racer") for _ in range(racers)]
    killed = []
    deadline = time.monotonic() + 240
    while any(p.poll() is None for p in processes) and time.monotonic() < deadline:
        if len(killed) < 8:                          # writers killed while holding the lock, all along the race
            killed.append(start("killed"))
        time.sleep(0.1)
    results = [p.communicate(timeout=60) for p in processes]
    for p in killed:
        p.kill()
        p.wait(timeout=30)
    for p, (out, err) in zip(processes, results):
        assert p.returncode == 0, err[-2000:]
        assert out.strip() == "0", f"{out.strip()} overlaps inside the lock"
    assert sum(p.returncode == -signal.SIGKILL for p in killed) >= 1      # stale locks were really left behind
    assert len(rows.read_text().splitlines()) == racers * rounds           # every writer's rows kept


SWEEPER = textwrap.dedent("""
    import sys
    from tests.test_processes import PLAN, FakeHarness, FakeRunner
    from edgeperf.measure import run_sweep
    run_sweep(FakeRunner(), sys.argv[1], plan=PLAN, harness=FakeHarness(delay_s=float(sys.argv[2])))
""")

PLAN = SweepPlan(points=("zoo:layer:conv,cin=8,cout=16,hw=14,k=3,s=1", "zoo:layer:conv,cin=16,cout=24,hw=14,k=1,s=1",
                         "zoo:layer:conv,cin=24,cout=48,hw=7,k=3,s=1", "zoo:layer:gemm,cin=64,cout=32",
                         "zoo:layer:relu,c=16,hw=14"), refine_rounds=2, refine_points=3, passes=1)


class _FakeModel:
    def __init__(self, latency_ms: float):
        self.latency_ms = latency_ms

    def run(self) -> None:
        return None


class FakeRunner:
    """A runner whose models take a deterministic time derived from their bytes (no real runtime, no noise)."""

    def settings(self) -> dict:
        return {"name": "fake", "version": "1", "threads": 1, "providers": ["none"]}

    def load(self, model: bytes) -> _FakeModel:
        import zlib

        import onnx

        from edgeperf.estimator import graph_from_model

        graph = graph_from_model(onnx.load_from_string(model))
        work = sum(layer.flops + 4 * (layer.act_in_elems + layer.act_out_elems) for layer in graph.layers)
        wobble = 1 + (zlib.crc32(model) % 201 - 100) / 1000         # +-10 %, the same in every process
        return _FakeModel((0.01 + work / 2e6) * wobble)             # 2 GFLOP/s, 10 us per call


class FakeHarness:
    """Timings that are the fake model's own latency, each taking ``delay_s`` of real time."""

    def __init__(self, delay_s: float = 0.0):
        self.delay_s = delay_s

    def measure(self, fn, *, floor_ms: float = 0.0):
        from edgeperf.measure._harness import Timing

        time.sleep(self.delay_s)
        latency = fn.__self__.latency_ms
        return Timing(median_ms=latency, raw_median_ms=latency, spread=0.01, rounds=5, kept_rounds=5, calls=10,
                      drift=1.0, flags=("implausible",) if latency < floor_ms else (), floor_ms=floor_ms)


def _rows(path: Path) -> set:
    return {(r.reference, r.pass_, r.round) for r in read_layer_sweep(path)}


def test_a_sweep_killed_during_refinement_finishes_the_planned_round_when_resumed(tmp_path):
    run_sweep(FakeRunner(), tmp_path / "whole.csv", plan=PLAN, harness=FakeHarness())
    expected = _rows(tmp_path / "whole.csv")
    assert {key[2] for key in expected} == {0, 1, 2}
    assert len([key for key in expected if key[2] == 1]) >= 3         # a round worth interrupting

    sweep = tmp_path / "killed.csv"
    root = Path(__file__).resolve().parents[1]
    process = subprocess.Popen([sys.executable, "-c", SWEEPER, str(sweep), "0.3"], cwd=root,
                               stderr=subprocess.PIPE, text=True)
    deadline, caught = time.monotonic() + 180, None
    while time.monotonic() < deadline and process.poll() is None and caught is None:
        try:
            measured = [r for r in read_layer_sweep(sweep) if r.round == 1]
        except (OSError, ValueError):
            measured = []                         # caught mid-rename: look again
        if measured:
            process.kill()                        # round 1 has begun: its first layer is measured, the rest not
            caught = len(measured)
        time.sleep(0.01)
    process.wait(timeout=60)
    assert caught is not None, f"never caught the sweep inside round 1: {process.stderr.read()[-2000:]}"
    run_sweep(FakeRunner(), sweep, plan=PLAN, harness=FakeHarness())             # resume
    resumed = _rows(sweep)
    assert resumed == expected, (caught, sorted(expected ^ resumed))
