"""One trial budget for a study however many launchers share its storage; a changed spec gets a clear error."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import yaml

from edgeperf.dse import parse_spec, search

from ._procs import children, cmdline, running
from .test_dse import SAMPLED

optuna = pytest.importorskip("optuna")


def launch(spec_file, storage, trials, *extra):
    command = [sys.executable, "-m", "edgeperf.cli", "search", str(spec_file), "--trials", str(trials), "--sampler",
               "random", "--storage", storage, "--study-name", "shared", "--format", "json", *extra]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def kill_a_worker(launcher, workers: int, ready, timeout_s: float = 180.0) -> int:
    """SIGKILL one of ``launcher``'s worker processes once it has ``workers`` of them and ``ready()``; its pid."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and launcher.poll() is None:
        workers_now = [c for c in running(children(launcher.pid)) if "spawn_main" in cmdline(c)]
        if len(workers_now) == workers and ready():
            os.kill(workers_now[0], signal.SIGKILL)
            return workers_now[0]
        time.sleep(0.05)
    pytest.fail(f"the launcher never had {workers} workers running (exit code {launcher.poll()})")


def study_trials(storage):
    from edgeperf.dse._study import make_storage

    return optuna.load_study(study_name="shared", storage=make_storage(storage)).get_trials()


def check_study(storage, budget, constraints=("latency_ms", "memory")):
    """Exactly ``budget`` complete trials, none recorded twice, each with its design and every constraint."""
    trials = study_trials(storage)
    complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(complete) == budget
    assert len({t.number for t in complete}) == budget
    for trial in complete:
        assert len(trial.user_attrs["design"]) == 3
        recorded = {k.split(":", 1)[1] for k in trial.system_attrs if k.startswith("constraints:")}
        assert recorded == set(constraints)     # SAMPLED's latency bound, and weights fitting in memory
    return complete


@pytest.mark.parametrize("kind", ["journal", "sqlite"])
def test_two_launchers_on_one_storage_keep_one_budget(tmp_path, kind):
    # issue 19: two shells running --trials 300 on one journal finished 433 trials. On a busy machine one
    # launcher can finish before the other gets going, which tests nothing: then again, with a larger budget.
    spec_file = tmp_path / "s.yaml"
    spec_file.write_text(yaml.safe_dump(SAMPLED))
    for attempt, budget in enumerate((50, 300, 1500)):
        storage = (f"journal:{tmp_path / f's{attempt}.journal'}" if kind == "journal"
                   else f"sqlite:///{tmp_path / f's{attempt}.db'}")
        launchers = [launch(spec_file, storage, budget), launch(spec_file, storage, budget)]
        for process in launchers:
            _, err = process.communicate(timeout=600)
            assert process.returncode == 0, err
        complete = check_study(storage, budget)
        if len({t.user_attrs["worker"] for t in complete}) == 2:
            return                      # both launchers ran trials, and together exactly the budget
    pytest.fail("one launcher always finished before the other started its trials")


def test_a_killed_worker_is_topped_up_to_the_exact_budget(tmp_path):
    # a worker that dies leaves a trial running forever; the launcher sees its process is gone, marks it
    # failed and runs what is missing
    spec_file = tmp_path / "s.yaml"
    spec_file.write_text(yaml.safe_dump(SAMPLED))
    storage = f"journal:{tmp_path / 's.journal'}"
    launcher = launch(spec_file, storage, 80, "--workers", "2")
    journal = tmp_path / "s.journal"
    victim = kill_a_worker(launcher, 2, lambda: journal.exists() and journal.stat().st_size > 10_000)
    _, err = launcher.communicate(timeout=300)
    assert launcher.returncode == 0, err
    check_study(storage, 80)
    # the one failed trial is the victim's: named by it, or unnamed when it died between creating the trial and
    # naming itself (a live worker's trial failed by mistake would be a second one)
    failed = [t for t in study_trials(storage) if t.state == optuna.trial.TrialState.FAIL]
    assert len(failed) <= 1, [t.user_attrs.get("worker") for t in failed]
    for trial in failed:
        assert trial.user_attrs.get("worker", f":{victim}").endswith(f":{victim}")


def test_a_changed_search_space_is_refused_in_one_line(tmp_path, capsys):
    # issue 19: after editing a spec's model list, resuming died with "internal error: ValueError:
    # CategoricalDistribution does not support dynamic value space"
    from edgeperf.cli import main

    spec_file = tmp_path / "s.yaml"
    spec_file.write_text(yaml.safe_dump(SAMPLED))
    storage = f"journal:{tmp_path / 's.journal'}"
    args = ["search", str(spec_file), "--trials", "10", "--sampler", "random", "--storage", storage,
            "--study-name", "shared", "-f", "json"]
    assert main(args) == 0
    capsys.readouterr()
    for change in ({"models": ["zoo:mobilenet_v2", "zoo:resnet18"]}, {"constraints": {"latency_ms": {"max": 5}}},
                   {"operating_points": "default"}):
        spec_file.write_text(yaml.safe_dump({**SAMPLED, **change}))
        assert main(args[:3] + ["20"] + args[4:]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "another search space" in err
        assert storage in err and "--study-name" in err
    spec_file.write_text(yaml.safe_dump(SAMPLED))
    assert main(args[:3] + ["20"] + args[4:]) == 0          # the unchanged spec continues the study
    assert len([t for t in study_trials(storage) if t.state == optuna.trial.TrialState.COMPLETE]) == 20


def test_a_study_from_before_the_fingerprint_is_checked_by_its_distributions(tmp_path):
    # studies written before edgeperf recorded the space carry only their trials' distributions
    from edgeperf.dse._study import make_storage

    storage = f"journal:{tmp_path / 's.journal'}"
    search(parse_spec(SAMPLED), trials=5, storage=storage, study_name="shared", sampler="random")
    study = optuna.load_study(study_name="shared", storage=make_storage(storage))
    study._storage.set_study_user_attr(study._study_id, "edgeperf_space", None)
    from edgeperf import InputError

    with pytest.raises(InputError, match="another search space"):
        search(parse_spec({**SAMPLED, "models": ["zoo:resnet18"]}), trials=8, storage=storage, study_name="shared",
               sampler="random")


def test_a_resumed_search_does_not_replay_the_designs_it_continues(tmp_path):
    # the rerun's sampler draws a stream of its own: its first trials are not the first run's again
    storage = f"journal:{tmp_path / 's.journal'}"
    spec = {**SAMPLED, "models": ["zoo:mobilenet_v2", "zoo:resnet18", "zoo:squeezenet1_1", "zoo:resnet50",
                                  "zoo:googlenet", "zoo:mobilenet_v3_large"]}
    search(parse_spec(spec), trials=6, storage=storage, study_name="shared", sampler="random", seed=3)
    search(parse_spec(spec), trials=12, storage=storage, study_name="shared", sampler="random", seed=3)
    complete = [t for t in study_trials(storage) if t.state == optuna.trial.TrialState.COMPLETE]
    first, second = [t.params for t in complete[:6]], [t.params for t in complete[6:]]
    assert first != second


def test_a_trial_left_running_by_a_dead_process_is_failed_and_replaced(tmp_path):
    # a worker killed in the middle of a trial leaves it RUNNING; the next launcher on this host sees
    # that its process is gone, marks it failed, and the budget counts only what completed
    storage = f"journal:{tmp_path / 's.journal'}"
    search(parse_spec(SAMPLED), trials=5, storage=storage, study_name="shared", sampler="random")
    script = ("import os, socket, optuna\n"
              "from edgeperf.dse._study import make_storage\n"
              f"study = optuna.load_study(study_name='shared', storage=make_storage({storage!r}))\n"
              "trial = study.ask()\n"
              "trial.set_user_attr('worker', f'{socket.gethostname()}:{os.getpid()}')\n"
              "os._exit(0)\n")
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)
    assert [t.state for t in study_trials(storage)].count(optuna.trial.TrialState.RUNNING) == 1
    search(parse_spec(SAMPLED), trials=12, storage=storage, study_name="shared", sampler="random")
    check_study(storage, 12)
    assert [t.state for t in study_trials(storage)].count(optuna.trial.TrialState.FAIL) == 1
