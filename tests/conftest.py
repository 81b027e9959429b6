"""Shared test helpers, as fixtures.

``edited_profile`` makes a variant of a shipped profile the way a user would: edit its JSON document
and parse it again (so the schema checks every change). Built tiny ONNX graphs are in ``_models``.
"""

from __future__ import annotations

import json

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

