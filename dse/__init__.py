"""Constrained design-space search over model, platform, precision, operating point and partition.

Data flow::

    load_spec(path)  -> SearchSpec      (_spec: YAML/TOML, validated)
    DesignSpace(spec) -> blocks of designs evaluated with numpy   (_space, _partition, _links)
    exhaustive: every block  |  sampled: optuna trials pick designs   (_study, the only optuna user)
    build_result(...) -> SearchResult: Pareto front, best per objective, every design (_pareto, _result)

>>> from edgeperf.dse import parse_spec, search
>>> spec = parse_spec({"models": ["zoo:mobilenet_v2", "zoo:resnet18"], "platforms": ["jetson-nano"],
...                    "objectives": ["min latency_ms", "max accuracy"]})
>>> result = search(spec)
>>> result.n_evaluated
4
"""

from __future__ import annotations

import re
from pathlib import Path

from .._args import typed
from .._errors import InputError
from .._numbers import parse_number
from ._links import Link, lora_time_on_air_s, make_link, shipped_links
from ._partition import CutPoints, cut_points, measured_compression, quantize_activation
from ._pareto import pareto_mask
from ._result import Best, Design, Partition, SearchResult, build_result
from ._space import DesignSpace
from ._spec import METRICS, Constraint, ModelChoice, PartitionSpec, PlatformChoice, SearchSpec, load_spec, parse_spec
from ._study import SAMPLERS

__all__ = ["search", "load_spec", "parse_spec", "SearchSpec", "ModelChoice", "PlatformChoice", "PartitionSpec",
           "Constraint", "METRICS", "DesignSpace", "Design", "Partition", "Best", "SearchResult", "Link", "make_link", "shipped_links",
           "lora_time_on_air_s", "CutPoints", "cut_points", "quantize_activation", "measured_compression",
           "pareto_mask", "SAMPLERS", "EXHAUSTIVE_LIMIT"]

#: Largest space searched exhaustively when no trial budget is given.
EXHAUSTIVE_LIMIT = 2_000_000
#: Largest trial budget of a sampled search (about a day of trials on one core).
MAX_TRIALS = 10_000_000


def default_journal(name: str) -> str:
    """The default journal file of a study: the spec's name made a plain file name in the current folder.

    Anything but letters, digits, ``.``, ``_`` and ``-`` becomes ``_`` and leading dots are dropped,
    so a name such as ``../../tmp/x`` or ``/etc/x`` cannot place the journal elsewhere.

    >>> default_journal("../../tmp/x")
    '_.._tmp_x.journal'
    """
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", name)[:100].lstrip(".") or "search"
    return f"{safe}.journal"


@typed
def search(spec, *, trials: int | None = None, workers: int = 1, storage: str | None = None,
           study_name: str | None = None, sampler: str = "auto", seed: int = 0, progress=None) -> SearchResult:
    """Search a design space for the Pareto front under the spec's constraints.

    Parameters
    ----------
    spec : str, Path, dict or SearchSpec
        A ``.yaml``/``.toml`` spec file, a spec document or a parsed spec.
    trials : int, optional
        Sample this many designs with optuna (the study's total of completed
        trials); default: evaluate every design (exhaustive, vectorised).
    workers : int
        Processes sharing the optuna study.
    storage : str, optional
        ``journal:PATH`` or an optuna RDB URL; default ``journal:<name>.journal``.
    study_name : str, optional
        Default: the spec's name.
    sampler : {"auto", "tpe", "nsga2", "random"}
        ``auto`` takes NSGA-II from 500 trials, TPE below.
    seed : int
    progress : callable, optional
        A progress sink (``edgeperf._progress``): with ``trials``, a step whenever the study's count
        of completed trials (read from the storage, all workers together) grows.

    Returns
    -------
    SearchResult
        ``pareto`` (feasible, non-dominated designs), ``n_evaluated``,
        ``n_feasible``, ``best`` per objective, ``infeasible_by`` (how many
        designs each constraint rules out) and CSV of every design.

    Raises
    ------
    InputError
        For an invalid spec, storage or budget; ModelError, ProfileError for
        models and platforms that cannot be loaded; LimitError for a space too
        large to search exhaustively.
    """
    from .._errors import LimitError

    if trials is not None:
        parse_number(trials, "--trials", integer=True, high=MAX_TRIALS)      # (>= 1: the study's own check)
    parse_number(seed, "--seed", integer=True, low=0, high=2**32 - 1)
    if isinstance(spec, (str, Path)):
        spec = load_spec(spec)
    elif isinstance(spec, dict):
        spec = parse_spec(spec)
    elif not isinstance(spec, SearchSpec):
        raise InputError(f"spec must be a path, a mapping or a SearchSpec, got {type(spec).__name__}")
    space = DesignSpace(spec)
    if trials is None:
        if space.size > EXHAUSTIVE_LIMIT:
            raise LimitError(f"the space has {space.size} designs, more than {EXHAUSTIVE_LIMIT} to evaluate "
                             "exhaustively; give --trials N to sample it with optuna")
        return build_result(space, space.table(), engine="exhaustive")
    return _sampled(space, trials=trials, workers=workers, storage=storage or f"journal:{default_journal(spec.name)}",
                    study_name=study_name or spec.name, sampler=sampler, seed=seed, progress=progress)


def _sampled(space: DesignSpace, **study) -> SearchResult:
    """The result of an optuna study over ``space``: the designs its completed trials chose."""
    import numpy as np

    from ._study import run_study

    rows, engine, notes = run_study(space, **study)
    if not rows:
        raise InputError("the study has no completed trials; rerun to continue it")
    distinct = list(dict.fromkeys(rows))      # a design sampled twice is one design: evaluated once, counted once
    table = {}
    for config, point, row in distinct:
        columns = space.block(config, point).columns
        for key, values in columns.items():
            table.setdefault(key, []).append(values[row])
    table = {k: np.asarray(v, dtype=float) for k, v in table.items()}
    notes.append(f"{len(rows)} trials sampled {len(distinct)} distinct designs of {space.size}")
    return build_result(space, table, engine=engine, notes=notes, n_trials=len(rows))
