"""Shared test helpers, as fixtures.

``edited_profile`` makes a variant of a shipped profile the way a user would: edit its JSON document
and parse it again (so the schema checks every change). Built tiny ONNX graphs are in ``_models``.

``postgres_url`` is a real PostgreSQL server for the many-hosts search tests, started from Debian's
``postgresql`` binaries (``initdb``, ``pg_ctl``; `.ci/run` installs the package where it is
missing) in a temporary folder, listening on a free port of 127.0.0.1 only, with trust
authentication, and stopped after the session. PostgreSQL refuses to run as root: as root, the
server runs as the ``postgres`` user the package creates (``runuser``). ``EDGEPERF_TEST_POSTGRES_URL``
points the tests at a server of your own instead. The tests skip, saying why, only where no server
can be had (no binaries, no driver).
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

from edgeperf.profiles import load_profile, parse_profile


def _edited(name: str, edit, where: str | None = None):
    document = load_profile(name).to_document()
    edit(document)
    return parse_profile(json.loads(json.dumps(document)), where=where or f"{name}-variant")


@pytest.fixture(scope="session")
def edited_profile():
    """``edited_profile(name, edit, where=None)``: shipped profile ``name`` after ``edit(document)``, parsed again.

    Session-scoped (it holds no state), so hypothesis tests may use it.
    """
    return _edited


def _binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def postgres_url():
    """The URL of a running PostgreSQL database for optuna (``postgresql+psycopg2://...``)."""
    try:
        import psycopg2  # noqa: F401  (the driver the `postgres` extra installs)
    except ImportError:
        pytest.skip("psycopg2 is not installed: pip install -e '.[postgres]' (the test extra includes it)")
    given = os.environ.get("EDGEPERF_TEST_POSTGRES_URL")
    if given:
        yield given
        return
    initdb, pg_ctl = _binary("initdb"), _binary("pg_ctl")
    if not initdb or not pg_ctl:
        pytest.skip("PostgreSQL is not installed (Debian package postgresql: apt-get install postgresql; "
                    ".ci/run installs it)")
    as_user: list[str] = []
    folder = Path(tempfile.mkdtemp(prefix="edgeperf-pg-"))
    if os.geteuid() == 0:                       # postgres refuses root: run it as the package's user
        runuser = shutil.which("runuser")
        try:
            import pwd

            pwd.getpwnam("postgres")
        except KeyError:
            runuser = None
        if runuser is None:
            pytest.skip("running as root without a 'postgres' user (or runuser) to start PostgreSQL as")
        as_user = [runuser, "-u", "postgres", "--"]
        shutil.chown(folder, "postgres")
    data, port = folder / "data", _free_port()
    log = folder / "server.log"

    def run(*command, check=True):
        return subprocess.run([*as_user, *command], check=check, capture_output=True, text=True, timeout=120)

    try:
        run(initdb, "-D", str(data), "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8")
        run(pg_ctl, "-D", str(data), "-l", str(log), "-w", "-t", "60", "start", "-o",
            f"-h 127.0.0.1 -p {port} -k {folder} -c fsync=off -c max_connections=100")
    except subprocess.CalledProcessError as exc:
        detail = (exc.stderr or exc.stdout or "").strip().splitlines()[-1:] or [""]
        text = log.read_text(errors="replace")[-500:] if log.exists() else ""
        shutil.rmtree(folder, ignore_errors=True)
        pytest.fail(f"PostgreSQL is installed but did not start: {detail[0]} {text}")
    try:
        subprocess.run([*as_user, _binary("createdb") or "createdb", "-h", "127.0.0.1", "-p", str(port), "-U",
                        "postgres", "edgeperf"], check=True, capture_output=True, timeout=60)
        yield f"postgresql+psycopg2://postgres@127.0.0.1:{port}/edgeperf"
    finally:
        run(pg_ctl, "-D", str(data), "-m", "immediate", "stop", check=False)
        shutil.rmtree(folder, ignore_errors=True)
