"""Searches on a real PostgreSQL server: several workers, one killed, a resume, and the study checked.

The server comes from the ``postgres_url`` fixture (conftest.py): Debian's PostgreSQL started in a
temporary folder, or ``EDGEPERF_TEST_POSTGRES_URL``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import yaml

from ._procs import descendants
from .test_dse import SAMPLED
from .test_search_budget import kill_a_worker

optuna = pytest.importorskip("optuna")

#: SAMPLED with an edge/server split: parameters include two continuous ones (operating point, cut),
#: so two trials with identical parameters can only come from a sampler replaying its stream.
SPLIT = {**SAMPLED, "partition": {"server": "jetson-tx2", "links": ["wifi", "lte"], "bits": [8, 4]}}


def command(spec_file, url, trials, name, *extra):
    return [sys.executable, "-m", "edgeperf.cli", "search", str(spec_file), "--trials", str(trials), "--sampler",
            "random", "--storage", url, "--study-name", name, "--format", "json", *extra]


def complete_trials(url, name):
    from edgeperf.dse._study import make_storage

    study = optuna.load_study(study_name=name, storage=make_storage(url))
    return [t for t in study.get_trials() if t.state == optuna.trial.TrialState.COMPLETE], study


def check(url, name, budget):
    """Exact budget, no trial or design recorded twice, every constraint recorded on every trial."""
    complete, study = complete_trials(url, name)
    assert len(complete) == budget
    assert len({t.number for t in complete}) == budget
    assert len({tuple(sorted(t.params.items())) for t in complete}) == budget        # no replayed design
    for trial in complete:
        recorded = {k.split(":", 1)[1] for k in trial.system_attrs if k.startswith("constraints:")}
        assert recorded == {"latency_ms", "memory"}
        assert len(trial.user_attrs["design"]) == 3
    return complete, study


def test_a_search_on_postgresql_with_workers_survives_a_killed_worker_and_a_killed_launcher(postgres_url, tmp_path):
    spec_file = tmp_path / "split.yaml"
    spec_file.write_text(yaml.safe_dump(SPLIT))
    name = f"pg-{os.getpid()}-{time.monotonic_ns()}"
    # 1. two workers; one is killed while the study grows; the launcher finishes the budget itself
    launcher = subprocess.Popen(command(spec_file, postgres_url, 30, name, "--workers", "2"),
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    def started():
        try:
            return len(complete_trials(postgres_url, name)[0]) >= 5
        except KeyError:          # the study is not created yet
            return False

    kill_a_worker(launcher, 2, started)
    _, err = launcher.communicate(timeout=300)
    assert launcher.returncode == 0, err
    check(postgres_url, name, 30)
    # 2. a larger budget; the whole launcher is killed midway, then resumed
    launcher = subprocess.Popen(command(spec_file, postgres_url, 80, name, "--workers", "2"),
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and len(complete_trials(postgres_url, name)[0]) < 45:
        assert launcher.poll() is None, launcher.communicate()[1]
        time.sleep(0.1)
    for pid in [*descendants(launcher.pid), launcher.pid]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:      # ended meanwhile
            pass
    launcher.wait()
    interrupted = len(complete_trials(postgres_url, name)[0])
    assert 30 < interrupted < 80
    resumed = subprocess.run(command(spec_file, postgres_url, 80, name, "--workers", "2"), capture_output=True,
                             text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    check(postgres_url, name, 80)


def test_two_hosts_worth_of_launchers_share_one_budget_on_postgresql(postgres_url, tmp_path):
    # two launchers started separately, as two machines would, each with its own --seed; on a busy machine
    # one may finish before the other starts, which tests nothing: then again with a larger budget
    spec_file = tmp_path / "split.yaml"
    spec_file.write_text(yaml.safe_dump(SPLIT))
    for budget in (40, 200):
        name = f"pg-two-{os.getpid()}-{time.monotonic_ns()}"
        launchers = [subprocess.Popen(command(spec_file, postgres_url, budget, name, "--seed", str(seed)),
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for seed in (1, 2)]
        for launcher in launchers:
            _, err = launcher.communicate(timeout=600)
            assert launcher.returncode == 0, err
        complete, _ = check(postgres_url, name, budget)
        if len({t.user_attrs["worker"] for t in complete}) == 2:
            return
    pytest.fail("one launcher always finished before the other started its trials")


def test_a_missing_driver_or_server_is_one_line(tmp_path, capsys):
    from edgeperf.cli import main

    spec_file = tmp_path / "s.yaml"
    spec_file.write_text(yaml.safe_dump(SAMPLED))
    url = "postgresql+psycopg2://nobody@127.0.0.1:9/none"        # port 9 (discard): nothing listens there
    assert main(["search", str(spec_file), "--trials", "5", "--storage", url]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot open" in err and url in err
