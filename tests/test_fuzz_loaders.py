"""Property-based fuzzing of the loaders: mutated real inputs give the project's own errors or a result.

Runs briefly by default; ``pytest -m slow tests/test_fuzz_loaders.py`` runs the long version.
Any input that ever crashed a loader is kept in ``REGRESSIONS`` below.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import edgeperf
import edgeperf.zoo
from edgeperf import EdgeperfError
from edgeperf.profiles import parse_profile, shipped_profile_path
from tests import _tflite



def _small_seed() -> bytes:
    """A small model that exercises many operator kinds (conv, depthwise, bn, pools, add, concat, gemm)."""
    b = edgeperf.zoo.NetBuilder("seed", (1, 3, 16, 16))
    x = b.relu(b.bn(b.conv(b.input, 8, 3, stride=2)))
    y = b.relu6(b.conv(x, 8, 3, groups=8))
    z = b.concat([b.add(x, y), b.sigmoid(x)])
    z = b.maxpool(b.hardswish(z), 2, 2)
    z = b.flatten(b.global_avgpool(z))
    return b.build([b.softmax(b.gemm(z, 4))]).SerializeToString()


ONNX_SEED = _small_seed()
TFLITE_SEED = _tflite.small_cnn()
PROFILE_SEED = json.loads(shipped_profile_path("jetson-nano").read_text())

#: Inputs that once crashed a loader with a foreign exception, kept as regression cases.
REGRESSIONS = sorted((Path(__file__).resolve().parent / "fuzz_regressions").glob("*"))


@st.composite
def mutated(draw, seed: bytes):
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(["flip", "cut", "insert", "splice"]))
        position = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "flip" and data:
            data[position] ^= 1 << draw(st.integers(0, 7))
        elif kind == "cut":
            del data[position: position + draw(st.integers(1, 64))]
        elif kind == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=16))
        else:
            other = draw(st.integers(0, max(len(data) - 1, 0)))
            data[position: position + 8] = data[other: other + 8]
    return bytes(data)


def check_loads(tmp_path, data: bytes, suffix: str) -> None:
    path = tmp_path / f"fuzz{suffix}"
    path.write_bytes(data)
    try:
        graph = edgeperf.load_model(path, on_unknown="roofline")
    except EdgeperfError:
        return
    edgeperf.estimate(graph, "jetson-nano" if suffix == ".onnx" else "coral-edgetpu")


FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
LONG = settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FAST
@given(data=mutated(ONNX_SEED))
def test_mutated_onnx(tmp_path, data):
    check_loads(tmp_path, data, ".onnx")


@FAST
@given(data=mutated(TFLITE_SEED))
def test_mutated_tflite(tmp_path, data):
    check_loads(tmp_path, data, ".tflite")


@pytest.mark.slow
@LONG
@given(data=mutated(ONNX_SEED))
def test_mutated_onnx_long(tmp_path, data):
    check_loads(tmp_path, data, ".onnx")


@pytest.mark.slow
@LONG
@given(data=mutated(TFLITE_SEED))
def test_mutated_tflite_long(tmp_path, data):
    check_loads(tmp_path, data, ".tflite")


@pytest.mark.parametrize("path", REGRESSIONS, ids=[p.name for p in REGRESSIONS])
def test_regressions(tmp_path, path):
    check_loads(tmp_path, path.read_bytes(), path.suffix)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**12, 10**12) | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=6,
)


def paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from paths(value, prefix + (key,))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from paths(value, prefix + (i,))


ALL_PATHS = [p for p in paths(PROFILE_SEED) if p]


@settings(max_examples=150, deadline=None)
@given(path=st.sampled_from(ALL_PATHS), value=json_values, delete=st.booleans())
def test_mutated_profile_documents(path, value, delete):
    document = json.loads(json.dumps(PROFILE_SEED))
    node = document
    for key in path[:-1]:
        node = node[key]
    if delete and isinstance(node, dict):
        del node[path[-1]]
    else:
        node[path[-1]] = value
    try:
        profile = parse_profile(document, where="fuzz.json")
    except EdgeperfError:
        return
    edgeperf.estimate("zoo:resnet18", profile)
