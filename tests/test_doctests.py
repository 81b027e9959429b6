"""The examples in the package's docstrings run, and show what they say (doctests, part of the default suite).

pytest's ``--doctest-modules`` cannot collect this package (its root folder is the package, so
module names come out wrong), so every module of the package is imported and its examples run
here instead.
"""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_NOT_PACKAGE = {"tests", "benchmarks", "docs", "examples", "data", "__pycache__"}


def package_modules() -> list[str]:
    """Dotted names of every module of ``edgeperf`` (the repository root is the package)."""
    names = []
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT).parts
        if any(part in _NOT_PACKAGE or part.startswith(".") or part.endswith(".egg-info") for part in parts[:-1]):
            continue
        stem = [] if parts[-1] == "__init__.py" else [parts[-1][:-3]]
        names.append(".".join(["edgeperf", *parts[:-1], *stem]))
    return names


MODULES = package_modules()


def test_the_module_list_covers_the_package():
    assert {"edgeperf", "edgeperf.cli", "edgeperf.estimator._engine", "edgeperf.profiles._schema",
            "edgeperf.zoo._reference", "edgeperf.operating._dvfs", "edgeperf.dse._space"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    failures = []
    for test in finder.find(module, name):
        result = runner.run(test, out=failures.append)
        assert result.failed == 0, "".join(failures)
