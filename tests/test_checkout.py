"""The test suite runs from a checkout in any folder, including names that are not Python
identifiers (``edgeperf-main`` is what a downloaded archive unpacks to). The repository root is the
package itself, which pytest would otherwise import as a test package named after the folder."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _tracked_files() -> list[str]:
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=False)
    if listed.returncode != 0 or not listed.stdout:
        return []
    return [name for name in listed.stdout.decode().split("\0") if name]


def test_the_suite_runs_from_a_folder_whose_name_is_not_an_identifier(tmp_path):
    files = _tracked_files()
    if not files:
        import pytest
        pytest.skip("not a git checkout: cannot list the tracked files to copy")
    checkout = tmp_path / "edgeperf-main"
    for name in files:
        target = checkout / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)
    ran = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_atomic.py"],
                         cwd=checkout, capture_output=True, text=True, timeout=600, check=False)
    assert ran.returncode == 0, ran.stdout[-2000:] + ran.stderr[-2000:]
    assert " passed" in ran.stdout
