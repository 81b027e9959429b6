"""Runners behind one interface: the TFLite runner against a scripted interpreter, torch for real where installed."""

from __future__ import annotations

import numpy as np
import pytest

import edgeperf
from edgeperf.measure import Harness, TfliteRunner, make_runner


class ScriptedInterpreterModule:
    """The part of the TFLite interpreter API the runner uses, recording what it was asked to do."""

    __version__ = "scripted"

    def __init__(self, delegate_ok=True):
        self.calls = []
        self.delegate_ok = delegate_ok

    def load_delegate(self, library):
        if not self.delegate_ok:
            raise ValueError(f"Failed to load delegate from {library}")
        self.calls.append(("delegate", library))
        return "edgetpu-delegate"

    def Interpreter(self, model_path=None, model_content=None, num_threads=1, experimental_delegates=None):
        module = self

        class Interpreter:
            def allocate_tensors(self):
                module.calls.append(("allocate", model_path, len(model_content or b""), num_threads,
                                     tuple(experimental_delegates or ())))

            def get_input_details(self):
                return [{"index": 0, "shape": np.array([1, 28, 28, 1]), "dtype": np.int8}]

            def set_tensor(self, index, value):
                module.calls.append(("set", index, value.shape, value.dtype))

            def invoke(self):
                module.calls.append(("invoke",))

        return Interpreter()


def test_tflite_runner_feeds_and_invokes(tmp_path):
    module = ScriptedInterpreterModule()
    runner = TfliteRunner(threads=2, edgetpu=True, module=module)
    loaded = runner.load(b"TFL3-model-bytes")
    loaded.run()
    loaded.run()
    assert module.calls[0] == ("delegate", "libedgetpu.so.1")
    assert module.calls[1] == ("allocate", None, 16, 2, ("edgetpu-delegate",))
    assert module.calls[2] == ("set", 0, (1, 28, 28, 1), np.int8)
    assert module.calls[-2:] == [("invoke",), ("invoke",)]
    assert runner.settings()["delegates"] == ["edgetpu"]
    timing = Harness(rounds=3, round_s=0.001, warmup_s=0.0).measure(loaded.run)
    assert timing.median_ms > 0


def test_tflite_runner_errors_are_clear():
    with pytest.raises(edgeperf.InputError, match="Edge TPU delegate"):
        TfliteRunner(edgetpu=True, module=ScriptedInterpreterModule(delegate_ok=False))
    with pytest.raises(edgeperf.InputError, match="unknown runtime"):
        make_runner("tensorflow-js")


def test_torch_runner_for_real():
    torch = pytest.importorskip("torch")
    runner = make_runner("torch", threads=1)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU())
    loaded = runner.load(model, input_shapes={"input": (1, 3, 32, 32)})
    timing = Harness(rounds=3, round_s=0.01, warmup_s=0.0).measure(loaded.run)
    assert timing.median_ms > 0 and runner.settings()["version"] == torch.__version__
    with pytest.raises(edgeperf.InputError, match="needs input_shapes"):
        runner.load(model)


def test_every_runner_and_power_source_offers_what_the_harness_and_calibration_use():
    pytest.importorskip("onnxruntime")
    from edgeperf.measure import SOURCES, NullSource, OnnxRuntimeRunner, PowerSource, Runnable, Runner
    from edgeperf.zoo import runnable_model

    runner = OnnxRuntimeRunner(threads=1)
    assert isinstance(runner, Runner)
    assert isinstance(runner.load(runnable_model("zoo:conv3dense1")), Runnable)
    assert isinstance(NullSource(), PowerSource) and not isinstance(object(), PowerSource)
    for name, source in SOURCES.items():   # the classes: read() and describe(), as the Protocol asks
        assert callable(getattr(source, "read", None)) and callable(getattr(source, "describe", None)), name
