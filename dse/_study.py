"""Sampled search with optuna (the only module that imports it), on optuna's own storages.

The search space is flat, so that every sampler sees every parameter in every
trial (NSGA-II and GP fall back to random sampling for parameters missing from
some trials, notes/energy_dse.md section 5.2): categorical ``model``,
``platform`` and ``precision``; ``point`` in [0, 1] mapped onto the platform's
operating points; with partitioning, categorical ``offload``, ``link`` and
``bits`` and ``cut`` in [0, 1] mapped onto the model's cut list. A precision
the platform lacks is replaced by its default (recorded in the trial).
Constraints go through optuna 5's ``trial.set_constraint`` (feasible iff <= 0).

Storage: ``journal:PATH`` (a journal file, the default; safe for several
processes on one host and on shared file systems with working locks) or any
RDB URL (``sqlite:///x.db`` for one process, ``postgresql://...`` for many
hosts). Every worker loads the same study.

The trial budget is the study's total of completed trials, however many
launchers and workers share the storage. Trial numbers are handed out by the
storage one at a time, so a trial runs only when fewer than ``trials`` trials
numbered before it are complete or running; otherwise it is pruned and its
worker stops. That never overshoots. A launcher then tops up what trials that
failed or died left missing: a running trial whose worker process on this host
is gone, or that no launcher saw finish for ``STALE_S`` seconds, is marked
failed (trials evaluate in milliseconds; one that has not named its worker
within seconds of its creation is failed too). A rerun after an interruption runs
only what is missing, with fresh sampler seeds, so it does not replay the
designs of the run it continues.

A study remembers the search space it was made for (``edgeperf_space`` user
attribute, and the parameter distributions of its trials); a spec whose space
changed is refused with one line naming the storage and ``--study-name``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import os
import socket
import stat
import time
import warnings
from pathlib import Path

import numpy as np

from .._errors import InputError
from .._messages import redact, show
from .._output import output_target
from .._progress import step
from .._userfile import file_kind, open_text, probe, user_path
from .._workers import run_workers, tie_to_parent
from ._pareto import violations

__all__ = ["run_study", "make_storage", "SAMPLERS", "STALE_S"]

logger = logging.getLogger(__name__)

SAMPLERS = ("auto", "tpe", "nsga2", "random")
#: Seconds a running trial may go unfinished, as a launcher sees it, before it is taken for dead.
STALE_S = 120.0
#: Seconds a running trial may go without naming its worker before it is taken for one whose worker died in
#: between. A worker names it as its first step, within milliseconds of creating it on an idle machine; at a
#: load average of 15 on two cores a process can be descheduled for seconds, which 5 s left little margin for.
_UNCLAIMED_S = 30.0
#: How often a launcher looks at trials other launchers are running (seconds).
_POLL_S = 0.2


def _optuna():
    try:
        import optuna
    except ImportError:
        raise InputError("sampled search needs optuna: pip install 'edgeperf[search]' "
                         "(or search exhaustively without --trials)") from None
    optuna.logging.set_verbosity(optuna.logging.ERROR)   # a Ctrl-C is reported by the CLI in one line
    return optuna


def make_storage(url: str):
    """An optuna storage for ``journal:PATH`` or an RDB URL.

    Raises
    ------
    InputError
        For an empty journal path, a missing folder, or an unknown URL scheme.
    """
    optuna = _optuna()
    shown = show(redact(url), 200)
    if url.startswith("journal:"):
        path = _journal_path(url.removeprefix("journal:"), shown)
        from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock

        return optuna.storages.JournalStorage(JournalFileBackend(str(path), lock_obj=JournalFileOpenLock(str(path))))
    scheme = url.split(":", 1)[0].split("+", 1)[0]
    if scheme not in ("sqlite", "postgresql", "mysql"):
        raise InputError(f"--storage {shown}: use journal:PATH, sqlite:///PATH, postgresql://... or mysql://...")
    # a server shared by many hosts: optuna's heartbeat marks a trial failed once its worker has not
    # been heard of for grace_period seconds, wherever that worker ran
    heartbeat = {} if scheme == "sqlite" else {"heartbeat_interval": 10, "grace_period": 60}
    for attempt in range(3):
        try:
            with warnings.catch_warnings():      # heartbeat_interval is "experimental" in optuna 5
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.RDBStorage(url, engine_kwargs={"connect_args": {"timeout": 60}}
                                                  if scheme == "sqlite" else None, **heartbeat)
        except ModuleNotFoundError as exc:
            raise InputError(f"--storage {shown}: needs the database driver {exc.name!r}: "
                             "pip install 'edgeperf[postgres]' (PostgreSQL) or the driver your URL names") from None
        except Exception as exc:  # SQLAlchemy raises many types; all mean "cannot open this storage"
            if _created_concurrently(exc) and attempt < 2:
                time.sleep(0.5)      # another launcher created the tables at the same moment: they are there now
                continue
            first = redact(str(exc).splitlines()[0] if str(exc) else "")
            raise InputError(f"--storage {shown}: cannot open ({type(exc).__name__}: {show(first, 200)})") from None


def _created_concurrently(exc: Exception) -> bool:
    """A schema-creation clash with another launcher opening the same new database at the same time."""
    text = str(exc)
    return (type(exc).__name__ == "IntegrityError" or "already exists" in text or "duplicate key" in text
            or "UNIQUE constraint failed" in text)


def _journal_path(text: str, shown: str) -> Path:
    """A journal file that can be read and appended: a regular file holding optuna's journal, or a new one.

    Raises
    ------
    InputError
        For an empty path, a directory or special file (``/dev/full``, a FIFO), a file that is not
        an optuna journal (its first line is not a JSON object), a read-only file or a folder that
        does not exist or cannot be written.
    """
    if not text:
        raise InputError(f"--storage {shown}: give a journal file path, e.g. journal:study.journal")
    path = user_path(text, what="journal")
    info = probe(path)
    if info is not None and not stat.S_ISREG(info.st_mode):
        raise InputError(f"--storage {shown}: {path} is {file_kind(info.st_mode)}; a journal is a regular file "
                         "(give a new file name, e.g. journal:study.journal)")
    output_target(path, what="journal")            # folder exists and is writable; the file is not read-only
    if info is not None and info.st_size > 0:
        with open_text(path, what="an optuna journal", limit=2**40) as stream:
            first = stream.readline(1 << 20)
        try:
            is_journal = isinstance(json.loads(first), dict)
        except ValueError:
            is_journal = False
        if not is_journal:
            raise InputError(f"--storage {shown}: {path} is not an optuna journal (its first line is not a JSON "
                             "record); give a new file name or the journal of an earlier search")
    return path


def _sampler(name: str, trials: int, seed: int):
    optuna = _optuna()
    if name == "auto":
        name = "nsga2" if trials >= 500 else "tpe"
    if name == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed, population_size=50), name
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed), name
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed), name
    raise InputError(f"--sampler {show(name)}: choose one of {', '.join(SAMPLERS)}")


class _Objective:
    """Maps a trial's parameters to one design of the space and returns its objective values."""

    def __init__(self, space, budget: int | None = None):
        self.space = space
        self.budget = budget
        self.worker = f"{socket.gethostname()}:{os.getpid()}"
        spec = space.spec
        self.models = [m.name for m in spec.models]
        self.platforms = [p.name for p in space.profiles]
        self.precisions = sorted({c.precision for c in space.configs})
        self.batches = list(space.spec.batches)
        self.lookup = {(c.model, c.platform, c.precision, c.batch): i for i, c in enumerate(space.configs)}
        self.many_points = any(len(points) > 1 for points in space.points)
        self.links = [link.name for link in space.links]
        self.bits = [int(b) for b in space.bits]

    def config_for(self, model: int, platform: int, precision: str, batch: int = 1) -> tuple[int | None, bool]:
        index = self.lookup.get((model, platform, precision, batch))
        if index is not None:
            return index, False
        default = self.space.profiles[platform].default_precision
        index = self.lookup.get((model, platform, default, batch))
        if index is None:
            index = next((i for (m, p, _, b), i in self.lookup.items() if m == model and p == platform and b == batch),
                         None)
        return index, True

    def distributions(self) -> dict:
        """The parameters every trial suggests, with their distributions."""
        optuna = _optuna()
        categorical, uniform = optuna.distributions.CategoricalDistribution, optuna.distributions.FloatDistribution
        found = {"model": categorical(self.models), "platform": categorical(self.platforms),
                 "precision": categorical(self.precisions)}
        if self.many_points:
            found["point"] = uniform(0.0, 1.0)
        if self.links:
            found.update(offload=categorical([False, True]), cut=uniform(0.0, 1.0), link=categorical(self.links),
                         bits=categorical(self.bits))
        return found

    def _within_budget(self, trial) -> bool:
        """Fewer than ``budget`` trials numbered before this one are complete or running."""
        optuna = _optuna()
        states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.RUNNING)
        ahead = sum(1 for t in trial.study.get_trials(deepcopy=False, states=states) if t.number < trial.number)
        return ahead < self.budget

    def __call__(self, trial):
        trial.set_user_attr("worker", self.worker)
        if self.budget is not None and not self._within_budget(trial):
            trial.study.stop()
            raise _optuna().TrialPruned("the study's trial budget is reached")
        space = self.space
        model = self.models.index(trial.suggest_categorical("model", self.models))
        platform = self.platforms.index(trial.suggest_categorical("platform", self.platforms))
        precision = trial.suggest_categorical("precision", self.precisions)
        batch = trial.suggest_categorical("batch", self.batches) if len(self.batches) > 1 else self.batches[0]
        point_frac = trial.suggest_float("point", 0.0, 1.0) if self.many_points else 0.0
        offload = False
        if self.links:
            offload = trial.suggest_categorical("offload", [False, True])
            cut_frac = trial.suggest_float("cut", 0.0, 1.0)
            link = self.links.index(trial.suggest_categorical("link", self.links))
            bits = self.bits.index(trial.suggest_categorical("bits", self.bits))
        config_index, substituted = self.config_for(model, platform, precision, batch)
        if config_index is None:
            raise InputError("no configuration for this model and platform")  # excluded when the space is built
        config = space.configs[config_index]
        points = space.points[config.platform]
        point = min(int(point_frac * len(points)), len(points) - 1)
        row = 0
        if offload and config.cuts is not None and config.cuts.size:
            cut = min(int(cut_frac * config.cuts.size), config.cuts.size - 1)
            row = 1 + (cut * len(self.links) + link) * len(self.bits) + bits
        columns = space.block(config_index, point).columns
        single = {k: v[row:row + 1] for k, v in columns.items()}
        amounts, _ = violations(single, space.spec, np.array([space.memory_limit[config.platform]]),
                                np.array([space.power_budget[config.platform]]))
        for name, amount in amounts.items():
            trial.set_constraint(name, float(min(amount[0], 1e300)))
        trial.set_user_attr("design", [config_index, point, row])
        for key, value in _readable(space, config, point, row, amounts).items():
            trial.set_user_attr(key, value)
        if substituted:
            trial.set_user_attr("precision_substituted", config.precision)
        return tuple(float(single[m][0]) for m, _ in space.spec.objectives)


def _readable(space, config, point: int, row: int, amounts: dict) -> dict:
    """What a person reading the study (optuna-dashboard) needs of a trial's design, as plain JSON values.

    Model, platform, precision, power mode and clocks, the split (link and cut) when there is one,
    whether the design meets every constraint and which it violates: the dashboard shows user
    attributes beside each trial, and a Pareto plot filtered on ``feasible`` is the search's front.
    """
    mode, freqs = space.points[config.platform][point]
    violated = sorted(name for name, amount in amounts.items() if amount[0] > 0)
    attrs = {"model": space.spec.models[config.model].name, "platform": space.profiles[config.platform].name,
             "precision": config.precision, "batch": config.batch, "power_mode": mode or "",
             "clocks": ", ".join(f"{k}={v:g} MHz" for k, v in freqs.items()),
             "feasible": not violated, "violated": ", ".join(violated)}
    if row > 0 and config.cuts is not None:
        per_cut = len(space.links) * len(space.bits)
        cut, rest = divmod(row - 1, per_cut)
        attrs["split"] = (f"after {config.cuts.after[cut]} via {space.links[rest // len(space.bits)].name}, "
                          f"{int(space.bits[rest % len(space.bits)])} bits")
    return attrs


def _optimize(spec, storage_url: str, study_name: str, n_trials: int, sampler_name: str, seed: int,
              budget: int | None = None) -> None:
    """One worker: load the study and run up to ``n_trials`` trials within the study's ``budget``."""
    from ._space import DesignSpace

    optuna = _optuna()
    space = DesignSpace(spec)
    sampler, _ = _sampler(sampler_name, budget or n_trials, seed)
    study = optuna.load_study(study_name=study_name, storage=make_storage(storage_url), sampler=sampler)
    study.optimize(_Objective(space, budget), n_trials=n_trials, gc_after_trial=False)


def _worker(spec, storage_url, study_name, n_trials, sampler_name, seed, budget=None, parent_pid=None) -> None:
    try:
        if parent_pid is not None:
            tie_to_parent(parent_pid)         # ends with the launcher, however the launcher ends
        _optimize(spec, storage_url, study_name, n_trials, sampler_name, seed, budget)
    except KeyboardInterrupt:
        pass


def space_fingerprint(space) -> str:
    """A digest of what a study's stored trials mean: the designs their parameters pick and how they are judged.

    Model and platform *labels* enter, not file paths, so hosts with the spec in different folders agree.
    """
    spec = space.spec
    document = {
        "models": [m.name for m in spec.models], "platforms": [p.name for p in space.profiles],
        "configs": [[c.model, c.platform, c.precision, int(c.cuts.size) if c.cuts is not None else 0]
                    for c in space.configs],
        "points": [len(points) for points in space.points], "links": [link.name for link in space.links],
        "bits": [int(b) for b in space.bits], "objectives": [list(o) for o in spec.objectives],
        "constraints": [[c.metric, c.low, c.high] for c in spec.constraints], "memory_fits": spec.memory_fits,
    }
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()[:16]


def _check_space(study, objective: _Objective, fingerprint: str, storage: str, study_name: str) -> None:
    """Refuse a study made for another search space (one line naming the storage and --study-name)."""
    stored = study.user_attrs.get("edgeperf_space")
    changed = stored is not None and stored != fingerprint
    if not changed:
        expected = objective.distributions()
        for trial in study.get_trials(deepcopy=False):
            if trial.distributions and trial.distributions != {k: v for k, v in expected.items()
                                                                 if k in trial.distributions}:
                changed = True
                break
            # a complete trial suggested every parameter (a failed one may have died half way)
            if trial.state == _optuna().trial.TrialState.COMPLETE and set(trial.distributions) != set(expected):
                changed = True
                break
    if changed:
        raise InputError(f"--storage {show(redact(storage), 200)}: study {show(study_name)} was made for another search space (models, "
                         "platforms, precisions, operating points, partition, objectives or constraints changed); "
                         "give a new --study-name to start a new study for this spec")
    if stored is None:
        study.set_user_attr("edgeperf_space", fingerprint)


def _counts(study) -> tuple[int, list]:
    optuna = _optuna()
    trials = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,
                                                      optuna.trial.TrialState.RUNNING))
    complete = sum(1 for t in trials if t.state == optuna.trial.TrialState.COMPLETE)
    return complete, [t for t in trials if t.state == optuna.trial.TrialState.RUNNING]


def _dead_here(trial) -> bool:
    """A running trial whose worker was a process on this host that no longer exists."""
    host, _, pid = str(trial.user_attrs.get("worker", "")).rpartition(":")
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _fail(study, trials) -> None:
    optuna = _optuna()
    for trial in trials:
        try:
            study._storage.set_trial_state_values(trial._trial_id, state=optuna.trial.TrialState.FAIL)
        except (RuntimeError, ValueError):      # it finished meanwhile (optuna refuses to change a finished trial)
            pass


def _seed(seed: int, start: int, index: int, shared: bool) -> int:
    """A worker's sampler seed: ``seed`` itself for one worker on a new study (reproducible), else a stream
    of its own (the study's trial count at launch, the worker's index, and with several workers its
    process), so that resumed and concurrent workers do not replay each other's designs."""
    if start == 0 and not shared:
        return seed
    material = [seed, start, index] + ([os.getpid()] if shared else [])
    return int(np.random.SeedSequence(material).generate_state(1)[0])


def _launch(space, study, *, remaining: int, budget: int, workers: int, storage: str, study_name: str,
            sampler_name: str, seed: int, start: int, report) -> int:
    """Run up to ``remaining`` trials in ``workers`` processes (or in this one); the number of failed workers.

    While they run, ``report()`` reads the storage's count of completed trials (after each trial
    here, every second from worker processes).
    """
    if workers == 1:
        sampler, _ = _sampler(sampler_name, budget, _seed(seed, start, 0, False))
        study.sampler = sampler
        study.optimize(_Objective(space, budget), n_trials=remaining, gc_after_trial=False,
                       callbacks=[lambda study, trial: report()])
        return 0
    shares = [remaining // workers + (1 if i < remaining % workers else 0) for i in range(workers)]
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_worker, args=(space.spec, storage, study_name, share, sampler_name,
                                                       _seed(seed, start, i + 1, True), budget, os.getpid()))
                 for i, share in enumerate(shares) if share]
    run_workers(processes, tick=report)       # an interrupted launcher stops its workers before it exits
    return sum(1 for p in processes if p.exitcode)


def _create_study(optuna, storage: str, study_name: str, directions: list, sampler):
    """The study (created, or loaded when it exists); a storage optuna cannot read is one InputError."""
    storage_obj = make_storage(storage)
    try:
        return optuna.create_study(storage=storage_obj, study_name=study_name, directions=directions,
                                   sampler=sampler, load_if_exists=True)
    except (ValueError, UnicodeDecodeError, OSError, KeyError, TypeError) as exc:
        if isinstance(exc, InputError):
            raise
        raise InputError(f"--storage {show(redact(storage), 200)}: cannot read the study ({type(exc).__name__}: "
                         f"{show(redact(str(exc)), 120)}); the storage is corrupt or not optuna's: give a new one") from None


def _fill_budget(space, study, *, trials: int, workers: int, storage: str, study_name: str, sampler_name: str,
                 seed: int, notes: list, report) -> int:
    """Launch workers until the study has ``trials`` complete trials and none running; failed workers counted.

    Trials left running by dead workers (here, or stale anywhere) are failed so that others replace
    them; while other launchers' trials fill the budget, this one waits for them to finish.
    """
    failed_workers, seen_running, idle_launches, given_up = 0, {}, 0, set()
    while True:
        complete, running = _counts(study)
        running = [t for t in running if t._trial_id not in given_up]
        now = time.monotonic()
        seen_running = {t._trial_id: seen_running.get(t._trial_id, now) for t in running}
        dead = [t for t in running if _dead_here(t) or now - seen_running[t._trial_id] > STALE_S
                or ("worker" not in t.user_attrs and now - seen_running[t._trial_id] > _UNCLAIMED_S)]
        if dead:
            _fail(study, dead)
            given_up |= {t._trial_id for t in dead}
            continue
        remaining = trials - complete - len(running)
        if remaining <= 0:
            if not running:
                return failed_workers
            time.sleep(_POLL_S)        # other launchers' trials are running: wait for them to finish
            continue
        start = len(study.get_trials(deepcopy=False))
        failed_workers += _launch(space, study, remaining=remaining, budget=trials, workers=workers, storage=storage,
                                  study_name=study_name, sampler_name=sampler_name, seed=seed, start=start,
                                  report=report)
        if _counts(study)[0] == complete:        # no progress: the workers fail; do not spin
            idle_launches += 1
            if idle_launches >= 3:
                notes.append("workers made no progress; rerun to complete the study")
                return failed_workers


def _open_study(space, storage: str, study_name: str, sampler):
    """The study (new, or loaded), checked against this search's objectives and space, with its metric names.

    Raises
    ------
    InputError
        For a storage that cannot be opened, or a study made for other objectives or another search space.
    """
    optuna = _optuna()
    directions = ["minimize" if d == "min" else "maximize" for _, d in space.spec.objectives]
    study = _create_study(optuna, storage, study_name, directions, sampler)
    if [d.name.lower() for d in study.directions] != directions:
        raise InputError(f"study {show(study_name)} in {show(redact(storage), 200)} optimises other objectives; "
                         "give a new --study-name or storage")
    _check_space(study, _Objective(space), space_fingerprint(space), storage, study_name)
    with warnings.catch_warnings():      # experimental in optuna 5, and what optuna-dashboard reads
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.set_metric_names([metric for metric, _ in space.spec.objectives])
    return study


def run_study(space, *, trials: int, workers: int, storage: str, study_name: str, sampler: str, seed: int,
              progress=None):
    """Run (or continue) a study until it has ``trials`` completed trials; return their design keys.

    The budget holds for the study, however many launchers share its storage: see the module notes.
    The study's objectives carry the spec's metric names (``set_metric_names``) and every trial
    readable user attributes (:func:`_readable`), for optuna-dashboard. ``progress`` (a sink of
    ``edgeperf._progress``) gets the count of completed trials as read from the storage, so the
    workers of one launcher, and other launchers on the same study, move one bar.

    Returns
    -------
    rows : list of (config, point, row)
        The design of every completed trial, in trial order.
    engine : str
        ``optuna:SAMPLER`` as used.
    notes : list of str

    Raises
    ------
    InputError
        For a bad budget or worker count, a storage that cannot be opened, or a study made for
        other objectives or another search space.
    """
    optuna = _optuna()
    if trials < 1:
        raise InputError(f"--trials must be >= 1, got {trials}")
    if not 1 <= workers <= 256:
        raise InputError(f"--workers must be 1..256, got {workers}")
    chosen_sampler, sampler_name = _sampler(sampler, trials, seed)
    study = _open_study(space, storage, study_name, chosen_sampler)
    notes = []

    def report() -> None:           # the storage's count: every worker and launcher of the study together
        if progress is not None:
            step(progress, min(_counts(study)[0], trials), trials, f"trials of {study_name}")

    done, _ = _counts(study)
    if done:
        notes.append(f"continued study {show(study_name)}: {done} trials were already complete")
    if storage.startswith("sqlite") and workers > 1:
        notes.append("SQLite with several workers can hit 'database is locked'; prefer journal: or PostgreSQL")
    report()
    failed_workers = _fill_budget(space, study, trials=trials, workers=workers, storage=storage, study_name=study_name,
                                  sampler_name=sampler_name, seed=seed, notes=notes, report=report)
    if failed_workers:
        notes.append(f"{failed_workers} worker(s) exited with an error; rerun to complete the study")
    trials_done = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    rows = [tuple(t.user_attrs["design"]) for t in trials_done if "design" in t.user_attrs]
    if done:
        notes[0] += f", ran {len(trials_done) - done} more"
    substituted = sum(1 for t in trials_done if "precision_substituted" in t.user_attrs)
    if substituted:
        notes.append(f"{substituted} trial(s) asked for a precision the platform lacks and ran its default")
    return rows, f"optuna:{sampler_name}", notes
