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
hosts). Every worker loads the same study; the trial budget is the study's
total of completed trials, split between the workers, so a rerun after an
interruption runs only what is missing.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import stat
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

__all__ = ["run_study", "make_storage", "SAMPLERS"]

logger = logging.getLogger(__name__)

SAMPLERS = ("auto", "tpe", "nsga2", "random")


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
    try:
        return optuna.storages.RDBStorage(url, engine_kwargs={"connect_args": {"timeout": 60}}
                                          if scheme == "sqlite" else None)
    except Exception as exc:  # SQLAlchemy raises many types; all mean "cannot open this storage"
        first = redact(str(exc).splitlines()[0] if str(exc) else "")
        raise InputError(f"--storage {shown}: cannot open ({type(exc).__name__}: {show(first, 200)})") from None


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

    def __init__(self, space):
        self.space = space
        spec = space.spec
        self.models = [m.name for m in spec.models]
        self.platforms = [p.name for p in space.profiles]
        self.precisions = sorted({c.precision for c in space.configs})
        self.lookup = {(c.model, c.platform, c.precision): i for i, c in enumerate(space.configs)}
        self.many_points = any(len(points) > 1 for points in space.points)
        self.links = [link.name for link in space.links]
        self.bits = [int(b) for b in space.bits]

    def config_for(self, model: int, platform: int, precision: str) -> tuple[int | None, bool]:
        index = self.lookup.get((model, platform, precision))
        if index is not None:
            return index, False
        default = self.space.profiles[platform].default_precision
        index = self.lookup.get((model, platform, default))
        if index is None:
            index = next((i for (m, p, _), i in self.lookup.items() if m == model and p == platform), None)
        return index, True

    def __call__(self, trial):
        space = self.space
        model = self.models.index(trial.suggest_categorical("model", self.models))
        platform = self.platforms.index(trial.suggest_categorical("platform", self.platforms))
        precision = trial.suggest_categorical("precision", self.precisions)
        point_frac = trial.suggest_float("point", 0.0, 1.0) if self.many_points else 0.0
        offload = False
        if self.links:
            offload = trial.suggest_categorical("offload", [False, True])
            cut_frac = trial.suggest_float("cut", 0.0, 1.0)
            link = self.links.index(trial.suggest_categorical("link", self.links))
            bits = self.bits.index(trial.suggest_categorical("bits", self.bits))
        config_index, substituted = self.config_for(model, platform, precision)
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
             "precision": config.precision, "power_mode": mode or "",
             "clocks": ", ".join(f"{k}={v:g} MHz" for k, v in freqs.items()),
             "feasible": not violated, "violated": ", ".join(violated)}
    if row > 0 and config.cuts is not None:
        per_cut = len(space.links) * len(space.bits)
        cut, rest = divmod(row - 1, per_cut)
        attrs["split"] = (f"after {config.cuts.after[cut]} via {space.links[rest // len(space.bits)].name}, "
                          f"{int(space.bits[rest % len(space.bits)])} bits")
    return attrs


def _optimize(spec, storage_url: str, study_name: str, n_trials: int, sampler_name: str, seed: int) -> None:
    """One worker: load the study and run ``n_trials`` trials (also the body of worker processes)."""
    from ._space import DesignSpace

    optuna = _optuna()
    space = DesignSpace(spec)
    sampler, _ = _sampler(sampler_name, n_trials, seed)
    study = optuna.load_study(study_name=study_name, storage=make_storage(storage_url), sampler=sampler)
    study.optimize(_Objective(space), n_trials=n_trials, gc_after_trial=False)


def _worker(spec, storage_url, study_name, n_trials, sampler_name, seed, parent_pid=None) -> None:
    try:
        if parent_pid is not None:
            tie_to_parent(parent_pid)         # ends with the launcher, however the launcher ends
        _optimize(spec, storage_url, study_name, n_trials, sampler_name, seed)
    except KeyboardInterrupt:
        pass


def _completed(study) -> int:
    """Completed trials of ``study``, as its storage holds them."""
    return len(study.get_trials(deepcopy=False, states=(_optuna().trial.TrialState.COMPLETE,)))


def _run_workers(spec, storage: str, study_name: str, shares: list, sampler_name: str, seed: int, report) -> int:
    """Run the worker processes (one per non-empty share of the trials) to their end; how many failed.

    While they run, ``report()`` reads the storage's count of completed trials every second. The
    workers end with this process however it ends, and an interrupt stops them at once (``_workers``).
    """
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_worker, args=(spec, storage, study_name, share, sampler_name, seed + i + 1,
                                                       os.getpid()))
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


def run_study(space, *, trials: int, workers: int, storage: str, study_name: str, sampler: str, seed: int,
              progress=None):
    """Run (or continue) a study until it has ``trials`` completed trials; return their design keys.

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
    """
    optuna = _optuna()
    if trials < 1:
        raise InputError(f"--trials must be >= 1, got {trials}")
    if not 1 <= workers <= 256:
        raise InputError(f"--workers must be 1..256, got {workers}")
    directions = ["minimize" if d == "min" else "maximize" for _, d in space.spec.objectives]
    chosen_sampler, sampler_name = _sampler(sampler, trials, seed)
    study = _create_study(optuna, storage, study_name, directions, chosen_sampler)
    if [d.name.lower() for d in study.directions] != directions:
        raise InputError(f"study {show(study_name)} in {show(redact(storage), 200)} optimises other objectives; "
                         "give a new --study-name or storage")
    with warnings.catch_warnings():      # experimental in optuna 5, and what optuna-dashboard reads
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.set_metric_names([metric for metric, _ in space.spec.objectives])
    notes = []

    def report() -> None:           # the storage's count: every worker and launcher of the study together
        if progress is not None:
            step(progress, min(_completed(study), trials), trials, f"trials of {study_name}")

    done = _completed(study)
    remaining = max(0, trials - done)
    if done:
        notes.append(f"continued study {show(study_name)}: {done} trials were already complete, ran {remaining} more")
    if storage.startswith("sqlite") and workers > 1:
        notes.append("SQLite with several workers can hit 'database is locked'; prefer journal: or PostgreSQL")
    shares = [remaining // workers + (1 if i < remaining % workers else 0) for i in range(workers)]
    report()
    if remaining:
        if workers == 1:
            study.optimize(_Objective(space), n_trials=remaining, gc_after_trial=False,
                           callbacks=[lambda study, trial: report()])
        else:
            failed = _run_workers(space.spec, storage, study_name, shares, sampler_name, seed, report)
            if failed:
                notes.append(f"{failed} worker(s) exited with an error; rerun to complete the study")
    trials_done = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    rows = [tuple(t.user_attrs["design"]) for t in trials_done if "design" in t.user_attrs]
    substituted = sum(1 for t in trials_done if "precision_substituted" in t.user_attrs)
    if substituted:
        notes.append(f"{substituted} trial(s) asked for a precision the platform lacks and ran its default")
    return rows, f"optuna:{sampler_name}", notes
