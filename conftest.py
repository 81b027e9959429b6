"""pytest's view of the checkout: the repository root is the ``edgeperf`` package itself
(``package-dir = "."``), so without this pytest would import the root ``__init__.py`` as a test
package named after the checkout's folder, which fails for any folder name that is not a Python
identifier (``edgeperf-main`` from a downloaded archive, ``ci-check``). The root is collected as a
plain directory instead; the tests import the installed ``edgeperf``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

_ROOT = Path(__file__).resolve().parent


class _RootAsDirectory:
    """A global plugin: a conftest's own hooks do not reach the folder the conftest is in."""

    @pytest.hookimpl(tryfirst=True)
    def pytest_collect_directory(self, path: Path, parent: pytest.Collector) -> pytest.Collector | None:
        if path.resolve() == _ROOT:
            return pytest.Dir.from_parent(parent, path=path)
        return None


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(_RootAsDirectory(), "edgeperf-root-as-directory")
