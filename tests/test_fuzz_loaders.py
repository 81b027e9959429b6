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
import edgeperf.estimator
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


# =====================================================================================================
# Classes of hostile input (issue 15): numbers of any size and precision, paths with any bytes, nesting
# of any depth in every format, special files, files that change while they are read, and wrong Python
# types at the public functions. Each fuzzer below runs briefly in the default suite;
# ``pytest -m slow tests/test_fuzz_loaders.py`` runs all of them for EDGEPERF_FUZZ_SECONDS (600) in all.
# Any input that ever escaped is kept as a case in CLASS_REGRESSIONS (or as a file in fuzz_regressions/).
# =====================================================================================================

import contextlib
import functools
import os
import signal
import socket
import tempfile
import threading
import time

import numpy as np
import yaml

from edgeperf import InputError, LimitError, ModelError, ProfileError
from edgeperf._atomic import write_text_atomic
from edgeperf.cli import main
from edgeperf.dse import load_spec, parse_spec
from edgeperf.measure import (
    CsvPowerReplay,
    fit_sweep,
    read_layer_profile,
    read_layer_sweep,
    read_sweep,
    read_trace_csv,
)
from edgeperf.fitting import read_network_table, read_power_table
from edgeperf.profiles import load_profile, parse_profile, read_profile_file
from edgeperf.zoo import load_catalog, model_for_estimation

#: Seconds any single hostile input may take before the fuzzer calls it a hang.
HANG_S = 60


class Hang(AssertionError):
    pass


@contextlib.contextmanager
def no_hang(seconds: int = HANG_S):
    """Fail (instead of waiting forever) when the body takes longer than ``seconds``."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def alarm(signum, frame):
        raise Hang(f"no answer within {seconds} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def ours(call):
    """Run ``call``: a result or one of the project's errors (with a short message) is fine; anything else fails."""
    with no_hang():
        try:
            return call()
        except EdgeperfError as exc:      # bounded: at most a few paths (4 KB each) and capped values
            assert len(str(exc)) < 20_000, f"a {len(str(exc))}-character message"
            return exc


def cli_ok(args) -> None:
    """The CLI answers with exit 0, or exit 2 and one line; never a traceback or an internal error."""
    import io
    from contextlib import redirect_stderr, redirect_stdout

    out, err = io.StringIO(), io.StringIO()
    with no_hang(), redirect_stdout(out), redirect_stderr(err):
        code = main([str(a) for a in args])
    text = err.getvalue()
    assert code in (0, 2), (code, text[-2000:])
    assert "Traceback" not in text and "internal error" not in text, text[-2000:]
    if code == 2:
        assert len(text.strip().splitlines()) == 1 and len(text) < 1200, text[-2000:]


# ------------------------------------------------------------------------------ the generators

#: Numbers of any size and precision, as text, in every spelling a file may hold.
number_texts = st.one_of(
    st.integers(-10**40, 10**40).map(str),
    st.integers(20, 5000).map(lambda n: "9" * n),
    st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=True).map(repr),
    st.floats(min_value=-1e-300, max_value=1e-300).map(repr),
    st.builds(lambda m, e: f"{m}e{e}", st.integers(-99, 99), st.integers(-400, 400)),
    st.sampled_from(["nan", "NaN", "-nan", "inf", "-Infinity", "Infinity", "1e400", "-1e400", "1e-400", "5e-324",
                     "0x10", "0b1", "1_000", "1__0", "\u0661\u0662", "", " ", "1e", "--1", ".5", "5.", ".", "+",
                     "0" * 500 + "1", "1" + "0" * 400, "1.7976931348623157e308", "2.2250738585072014e-308"]),
    st.text(max_size=12),
)

#: Paths with any bytes: control characters, NUL, invalid UTF-8, long names, odd places.
path_texts = st.one_of(
    st.text(max_size=40),
    st.binary(max_size=40).map(os.fsdecode),
    st.integers(200, 5000).map(lambda n: "n" * n),
    st.lists(st.integers(1, 300).map(lambda n: "d" * n), min_size=1, max_size=30).map("/".join),
    st.sampled_from(["", ".", "..", "/", "/dev/zero", "/dev/null", "/dev/full", "/dev/urandom", "/proc/self/mem",
                     "/proc/self/status", "/proc/kcore", "/etc/shadow", "/nonexistent/x.json", "zoo:", "zoo:" + "a" * 300,
                     "zoo:layer:conv,cin=99999999999999999999", "zoo:x:" + "9" * 5000, "-", "~", "a\x00b", "\x1b[2J.json",
                     "x" * 256 + ".onnx", "/" * 5000]),
)


def _nested(kind: str, depth: int, width: int) -> str:
    if kind == "json-list":
        return "[" * depth + "]" * depth
    if kind == "json-object":
        return '{"a":' * depth + "1" + "}" * depth
    if kind == "yaml-flow":
        return "models: " + "[" * depth + "]" * depth + "\nplatforms: [jetson-nano]\n"
    if kind == "yaml-block":
        return "models:\n" + "".join("  " * i + "- \n" for i in range(depth)) + "platforms: [jetson-nano]\n"
    if kind == "yaml-aliases":
        lines = ["a0: &a0 [" + ", ".join(["x"] * width) + "]"]
        lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]" for i in range(1, depth)]
        return "\n".join(lines) + f"\nmodels: *a{depth - 1}\nplatforms: *a{depth - 1}\n"
    if kind == "toml-array":
        return "models = " + "[" * depth + "]" * depth + "\nplatforms = ['jetson-nano']\n"
    if kind == "toml-inline":
        return "x = " + "{a = " * depth + "1" + "}" * depth + "\n"
    if kind == "toml-dotted":
        return ".".join(["k"] * depth) + " = 1\n"
    raise ValueError(kind)


NEST_KINDS = ("json-list", "json-object", "yaml-flow", "yaml-block", "yaml-aliases", "toml-array", "toml-inline",
              "toml-dotted")
nestings = st.tuples(st.sampled_from(NEST_KINDS), st.sampled_from([1, 2, 10, 63, 64, 65, 100, 1000, 20_000]),
                     st.integers(1, 12))


def _nested_model(depth: int) -> bytes:
    """An ONNX model whose If node nests ``depth`` levels of subgraphs, written as protobuf bytes directly
    (onnx.helper itself cannot build more than about 30 levels); its size grows linearly with the depth."""
    from edgeperf.estimator._wire import _message

    def text(field: int, value: str) -> bytes:
        return _message(field, value.encode())

    def graph(nodes: bytes, output: str) -> bytes:
        value_info = text(1, output)
        return nodes + text(2, "g") + _message(12, value_info)

    body = graph(_message(1, text(1, "x") + text(2, "z") + text(4, "Identity")), "z")
    for level in range(depth):
        attribute = text(1, "then_branch") + b"\xa0\x01\x05" + _message(6, body)     # type GRAPH, g=body
        node = text(1, "c") + text(2, f"y{level}") + text(4, "If") + _message(5, attribute)
        body = graph(_message(1, node), f"y{level}")
    inputs = _message(11, text(1, "c")) + _message(11, text(1, "x"))
    return b"\x08\x08" + _message(7, body + inputs) + _message(8, b"\x10\x11")


from onnx import helper  # noqa: E402  (used by the nested-model generator above)

# ------------------------------------------------------------------------------ where inputs go

def _readers(path):
    """Every loader of a user file, called on ``path``."""
    return [
        lambda: edgeperf.load_model(path, on_unknown="roofline"),
        lambda: load_profile(path),
        lambda: read_profile_file(path),
        lambda: load_spec(path),
        lambda: read_network_table(path),
        lambda: read_power_table(path),
        lambda: read_trace_csv(path, ("time_s", "temp_c")),
        lambda: CsvPowerReplay(path),
        lambda: read_layer_profile(path),
        lambda: read_layer_sweep(path),
        lambda: read_sweep(path),
        lambda: fit_sweep(path, name="fuzz"),
        lambda: load_catalog(path),
    ]


def fuzz_paths(path: str) -> None:
    for read in _readers(path):
        ours(read)
    with tempfile.TemporaryDirectory() as folder:               # the writer only ever inside a scratch folder
        name = path.replace("/", "_").lstrip(".") or "x"
        ours(lambda: write_text_atomic(os.path.join(folder, name), "x"))


def _write(folder: str, name: str, text) -> str:
    path = os.path.join(folder, name)
    with open(path, "wb") as stream:
        stream.write(text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text)
    return path


CSV_FILES = {
    "table.csv": ("model,latency_ms,energy_mj\nzoo:dense1,{n},{n}\n", [read_network_table]),
    "power.csv": ("state,power_mw,gpu_mhz\nbusy,{n},921.6\nidle,{n},{n}\n", [read_power_table]),
    "trace.csv": ("time_s,temp_c,power_mw\n0,{n},1\n{n},40,{n}\n", [lambda p: read_trace_csv(p, ("time_s", "temp_c")),
                                                                 CsvPowerReplay]),
    "sweep.csv": (",".join(("reference", "kind", "round", "pass", "latency_ms", "raw_latency_ms", "spread", "drift",
                            "flags", "reference_ms", "energy_mj", "power_mw", "measured_at"))
                  + "\nzoo:layer:relu,c=1,hw=1,relu,{n},0,{n},{n},0,1,,{n},{n},,now\n", [read_layer_sweep]),
    "ov.csv": ("layerName;execStatus;layerType;execType;realTime (ms);cpuTime (ms)\nc;EXECUTED;Conv;j;{n};1\n",
               [read_layer_profile]),
}


def fuzz_numbers(number: str) -> None:
    """One number text at every place a number is read: CSV cells, JSON, YAML, TOML, command-line options."""
    with tempfile.TemporaryDirectory() as folder:
        for name, (template, readers) in CSV_FILES.items():
            path = _write(folder, name, template.replace("{n}", number.replace(",", ";").replace("\n", " ")))
            for read in readers:
                ours(lambda: read(path))
        raw = json.dumps(PROFILE_SEED).replace('"value": 1.0', f'"value": {number}', 1)
        raw = raw.replace('"peak_gflops": {"value": ', f'"peak_gflops": {{"value": {number}, "x": ', 1)
        for text in (raw, json.dumps(PROFILE_SEED).replace("472.0", number)):
            path = _write(folder, "p.json", text)
            ours(lambda: edgeperf.estimate("zoo:dense1", path))
        quoted = json.dumps(number)
        for suffix, template in ((".yaml", "models: [{{model: zoo:dense1, accuracy: {n}}}]\nplatforms: [{{platform: "
                                           "jetson-nano, unit_cost_eur: {n}, memory_bytes: {n}}}]\n"),
                                 (".toml", "models = [{{model = 'zoo:dense1', accuracy = {n}}}]\nplatforms = ["
                                           "{{platform = 'jetson-nano', memory_bytes = {n}}}]\n")):
            for n in (number, quoted):
                path = _write(folder, "s" + suffix, template.format(n=n))
                ours(lambda: edgeperf.search(path))
        cli_ok(["estimate", "zoo:dense1", "-p", "jetson-nano", "--freq", f"gpu={number}", "-f", "json"])
        cli_ok(["estimate", "zoo:dense1", "-p", "jetson-nano", "--input-shape", f"input={number}x64", "-f", "json"])
        cli_ok(["dvfs", "zoo:dense1", "-p", "jetson-nano", "--max-latency-ms", number, "-f", "json"])
        cli_ok(["zoo", "export", "dense1", "-o", os.path.join(folder, "m.onnx"), "--input-size", f"{number}"])


def fuzz_nesting(kind: str, depth: int, width: int) -> None:
    text = _nested(kind, depth, width)
    with tempfile.TemporaryDirectory() as folder:
        if kind.startswith("json"):
            path = _write(folder, "n.json", text)
            for read in (load_profile, load_catalog, read_layer_profile):
                ours(lambda: read(path))
        else:
            path = _write(folder, "n." + kind.split("-")[0], text)
            ours(lambda: load_spec(path))
        if kind == "json-list" and depth <= 1000:
            path = _write(folder, "n.onnx", _nested_model(min(depth, 200)))
            ours(lambda: edgeperf.load_model(path))


SPECIAL = ("fifo", "fifo-with-writer", "socket", "directory", "symlink-loop", "symlink-to-dev-zero", "dev-zero",
           "dev-urandom", "dev-null", "proc-status", "empty", "mode-000")


@contextlib.contextmanager
def special_file(kind: str):
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "special.json")
        writer = None
        if kind in ("fifo", "fifo-with-writer"):
            os.mkfifo(path)
            if kind == "fifo-with-writer":
                writer = threading.Thread(target=lambda: _feed(path), daemon=True)
                writer.start()
        elif kind == "socket":
            sock = socket.socket(socket.AF_UNIX)
            sock.bind(path)
        elif kind == "directory":
            os.mkdir(path)
        elif kind == "symlink-loop":
            os.symlink(path, path)
        elif kind == "symlink-to-dev-zero":
            os.symlink("/dev/zero", path)
        elif kind in ("dev-zero", "dev-urandom", "dev-null"):
            path = {"dev-zero": "/dev/zero", "dev-urandom": "/dev/urandom", "dev-null": "/dev/null"}[kind]
        elif kind == "proc-status":
            path = "/proc/self/status"
        elif kind == "empty":
            open(path, "w").close()
        elif kind == "mode-000":
            _write(folder, "special.json", "{}")
            os.chmod(path, 0)
        try:
            yield path
        finally:
            if kind == "socket":
                sock.close()


def _feed(path: str) -> None:
    try:
        with open(path, "wb") as stream:               # blocks until a reader opens it, then floods it
            for _ in range(10_000):
                stream.write(b"\x00" * 65536)
    except OSError:
        pass


def fuzz_special(kind: str) -> None:
    from edgeperf import _output

    waited, _output.FIFO_WAIT_S = _output.FIFO_WAIT_S, 0.5        # a FIFO nobody reads: refused sooner
    try:
        _fuzz_special(kind)
    finally:
        _output.FIFO_WAIT_S = waited


def _fuzz_special(kind: str) -> None:
    with special_file(kind) as path:
        for read in _readers(path):
            ours(read)
        if not kind.startswith("dev-") and kind != "proc-status":
            ours(lambda: write_text_atomic(path, "x"))
        cli_ok(["estimate", "zoo:dense1", "-p", "jetson-nano", "-f", "json", "-o",
                path if kind not in ("fifo", "fifo-with-writer", "socket") else "/dev/null"])


def fuzz_changing(content: bytes, seed: int) -> None:
    """Loaders reading a file that another thread keeps truncating, growing and rewriting."""
    rng = np.random.default_rng(seed)
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "changing.onnx")
        with open(path, "wb") as stream:
            stream.write(content)
        stop = threading.Event()

        def churn():
            while not stop.is_set():
                with open(path, "r+b") as stream:
                    action = rng.integers(0, 3)
                    if action == 0:
                        stream.truncate(int(rng.integers(0, len(content) + 1)))
                    elif action == 1:
                        stream.seek(0, 2)
                        stream.write(rng.bytes(int(rng.integers(1, 4096))))
                    else:
                        stream.seek(0)
                        stream.write(content)
                        stream.truncate(len(content))
                time.sleep(0.0005)

        thread = threading.Thread(target=churn, daemon=True)
        thread.start()
        try:
            for _ in range(3):
                for read in _readers(path):
                    ours(read)
        finally:
            stop.set()
            thread.join()


WEIRD = (None, True, 0, -1, 10**100, 1.5, float("nan"), float("inf"), "", "x" * 300, "zoo:", b"\x00bytes", [], [1, 2],
         {}, {"a": 1}, {"input": "1x3"}, (1,), object(), Path("/nonexistent"), np.float64(2.0), np.array([1, 2]))


def _public_calls():
    """Each public entry point with valid arguments; the fuzzer replaces them one or two at a time."""
    graph = edgeperf.load_model("zoo:dense1")
    profile = edgeperf.load_profile("jetson-nano")
    spec = {"models": ["zoo:dense1"], "platforms": ["jetson-nano"]}
    return [
        (edgeperf.estimate, ("zoo:dense1", "jetson-nano"), {"precision": None, "power_mode": None, "freq_mhz": None,
                                                            "input_shapes": None, "on_unknown": "error"}),
        (edgeperf.dvfs, ("zoo:dense1", "jetson-tx2"), {"precision": None, "max_latency_ms": 5.0}),
        (edgeperf.simulate, ("zoo:dense1", "coral-edgetpu"), {"inferences": 10, "ambient_c": None, "gap_ms": 0.0}),
        (edgeperf.search, (spec,), {"trials": None, "workers": 1, "sampler": "auto", "seed": 0}),
        (edgeperf.load_model, ("zoo:dense1",), {"input_shapes": None, "on_unknown": "error"}),
        (edgeperf.load_profile, ("jetson-nano",), {}),
        (edgeperf.list_profiles, (), {}),
        (edgeperf.parse_input_shape, ("x=1x3",), {}),
        (edgeperf.map_graph, (graph, profile.mapping), {}),
        (edgeperf.estimator.resolve_operating_point, (profile,), {"power_mode": None, "freq_mhz": None}),
        (edgeperf.estimator.choose_precision, (profile, None), {}),
        (parse_spec, (spec,), {}),
        (parse_profile, (PROFILE_SEED,), {}),
        (model_for_estimation, ("zoo:dense1",), {"input_shapes": None}),
        (load_catalog, (), {}),
    ]


PUBLIC_CALLS = None


def fuzz_types(index: int, positions: list, values: list) -> None:
    global PUBLIC_CALLS
    if PUBLIC_CALLS is None:
        PUBLIC_CALLS = _public_calls()
    function, args, kwargs = PUBLIC_CALLS[index % len(PUBLIC_CALLS)]
    args, kwargs = list(args), dict(kwargs)
    names = list(range(len(args))) + sorted(kwargs)
    if not names:
        ours(lambda: function(*values[:1]))                 # an argument where none is taken
        return
    for position, value in zip(positions, values):
        name = names[position % len(names)]
        if isinstance(name, int):
            args[name] = value
        else:
            kwargs[name] = value
    with tempfile.TemporaryDirectory() as folder, _working_in(folder):       # a search writes its journal here
        ours(lambda: function(*args, **kwargs))


@contextlib.contextmanager
def _working_in(folder: str):
    before = os.getcwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(before)


# ------------------------------------------------------------------------------ the fuzzers

def _settings(examples: int):
    return settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck), database=None)


#: Examples run per fuzzer (the long run prints them).
EXAMPLES: dict = {}


def _counted(name: str, function):
    """``function``, counting its calls in EXAMPLES[name] (hypothesis reads the wrapped signature)."""
    @functools.wraps(function)
    def counted(*args, **kwargs):
        EXAMPLES[name] = EXAMPLES.get(name, 0) + 1
        return function(*args, **kwargs)

    return counted


def fuzzers(examples: int) -> dict:
    """Hypothesis-driven fuzzers, each a callable running ``examples`` fresh random examples."""
    weird = st.sampled_from(range(len(WEIRD))).map(lambda i: WEIRD[i])
    return {
        "numbers": _settings(examples)(given(number=number_texts)(_counted("numbers", fuzz_numbers))),
        "paths": _settings(examples)(given(path=path_texts)(_counted("paths", fuzz_paths))),
        "nesting": _settings(examples)(given(case=nestings)(_counted("nesting", lambda case: fuzz_nesting(*case)))),
        "special-files": _settings(min(examples, len(SPECIAL)))(given(kind=st.sampled_from(SPECIAL))(_counted("special-files", fuzz_special))),
        "changing-files": _settings(max(1, examples // 4))(given(
            content=st.sampled_from([ONNX_SEED, TFLITE_SEED, json.dumps(PROFILE_SEED).encode(),
                                     b"model,latency_ms\nzoo:dense1,3\n" * 50]),
            seed=st.integers(0, 2**31))(_counted("changing-files", fuzz_changing))),
        "wrong-types": _settings(examples)(given(index=st.integers(0, 100), positions=st.lists(st.integers(0, 20),
                                                                                             min_size=1, max_size=2),
                                                 values=st.lists(weird, min_size=2, max_size=2))(
            _counted("wrong-types", fuzz_types))),
        "mutated-onnx": _settings(examples)(given(data=mutated(ONNX_SEED))(
            _counted("mutated-onnx", lambda data: _in_scratch(data, ".onnx")))),
        "mutated-tflite": _settings(examples)(given(data=mutated(TFLITE_SEED))(
            _counted("mutated-tflite", lambda data: _in_scratch(data, ".tflite")))),
        "mutated-spec": _settings(examples)(given(data=mutated(
            b"name: s\nmodels: [zoo:dense1, {model: zoo:mobilenet_v2, accuracy: 0.7}]\nplatforms: [jetson-nano]\n"
            b"operating_points: grid\nconstraints: {latency_ms: {max: 10}}\n"))(
            _counted("mutated-spec", lambda data: _in_scratch(data, ".yaml", spec=True)))),
    }


def _in_scratch(data: bytes, suffix: str, spec: bool = False) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"fuzz{suffix}"
        path.write_bytes(data)
        if spec:
            ours(lambda: edgeperf.search(path))
        else:
            with no_hang():
                check_loads(Path(folder), data, suffix)


FUZZER_NAMES = tuple(fuzzers(1))


@pytest.mark.parametrize("name", FUZZER_NAMES)
def test_hostile_classes(name):
    fuzzers(8)[name]()


@pytest.mark.slow
@pytest.mark.parametrize("name", FUZZER_NAMES)
def test_hostile_classes_long(name):
    """Run each fuzzer for its share of EDGEPERF_FUZZ_SECONDS (600 by default: ten minutes in all)."""
    budget = float(os.environ.get("EDGEPERF_FUZZ_SECONDS", "600")) / len(FUZZER_NAMES)
    start = time.monotonic()
    fuzzer, runs = fuzzers(25)[name], 0
    while time.monotonic() < start + budget:
        fuzzer()
        runs += 1
    print(f"{name}: {runs} runs, {EXAMPLES[name]} examples, {time.monotonic() - start:.0f} s")


#: Inputs of these classes that once escaped (a foreign exception, a hang or a bomb): kept and replayed.
CLASS_REGRESSIONS = [
    ("numbers", ("9" * 5000,)),                     # YAML/TOML ints beyond Python's digit limit: ValueError
    ("numbers", ("1e-308",)),                       # table latencies: "mape": Infinity
    ("numbers", ("5e-324",)),                       # a profile's peak: Infinity in the JSON
    ("numbers", ("1e400",)),                        # JSON floats that overflow to infinity
    ("paths", ("x" * 300 + ".onnx",)),              # ENAMETOOLONG from Path.exists()
    ("paths", ("a\x00b",)),                         # ValueError: embedded null byte
    ("paths", ("/dev/zero",)),                      # read forever
    ("nesting", (("yaml-aliases", 9, 9),)),          # the alias bomb: 3.7 GB in an error message
    ("nesting", (("toml-dotted", 20_000, 1),)),      # tomllib's quadratic dotted keys
    ("special-files", ("fifo",)),                   # open() of a FIFO without writer blocks forever
    ("special-files", ("fifo-with-writer",)),       # a FIFO flooding the reader
    ("wrong-types", (0, [2], [[]])),                # estimate(power_mode=[]): TypeError unhashable list
    ("wrong-types", (0, [3], ["gpu=640"])),         # estimate(freq_mhz="gpu=640"): AttributeError
    ("wrong-types", (0, [4], [[1, 2]])),            # estimate(input_shapes=[1, 2]): TypeError
    ("wrong-types", (1, [3], ["x"])),               # dvfs(max_latency_ms="x"): TypeError
    ("wrong-types", (3, [2], ["x"])),               # search(trials="x")
    ("wrong-types", (2, [3], [10**100])),           # simulate(gap_ms=10**100): polled the governor forever
    ("wrong-types", (9, [0], [None])),              # resolve_operating_point(None): AttributeError
    ("wrong-types", (6, [0], [None])),              # list_profiles(None): TypeError
    ("nesting", (("json-list", 200, 1),)),          # the generator's If nesting: ONNX subgraphs 200 deep
    ("wrong-types", (3, [3], [10**100])),           # search(trials=10**100): ran for ever
    ("wrong-types", (3, [2], [10**100])),           # search(seed=10**100): numpy's seed limit
]


@pytest.mark.parametrize("name,case", CLASS_REGRESSIONS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CLASS_REGRESSIONS)])
def test_class_regressions(name, case):
    {"numbers": fuzz_numbers, "paths": fuzz_paths, "nesting": lambda c: fuzz_nesting(*c),
     "special-files": fuzz_special, "wrong-types": fuzz_types}[name](*case)
