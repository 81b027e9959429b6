"""The onnxruntime runner: load a model, feed it seeded inputs, run it, profile its kernels.

onnxruntime is an optional dependency (``pip install 'edgeperf[runtime]'``) imported only here,
only when a runner is created.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._errors import InputError, ModelError
from .._messages import show
from ._profilers import NodeTime, read_onnxruntime_profile

__all__ = ["OnnxRuntimeRunner", "LoadedModel"]

_TYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(double)": np.float64,
          "tensor(int64)": np.int64, "tensor(int32)": np.int32, "tensor(uint8)": np.uint8, "tensor(int8)": np.int8,
          "tensor(bool)": np.bool_}


def _import():
    try:
        import onnxruntime
    except ImportError:
        raise InputError("measuring needs onnxruntime: pip install 'edgeperf[runtime]'") from None
    return onnxruntime


@dataclass(slots=True)
class LoadedModel:
    """A model loaded into a session with its inputs ready; ``run()`` is one inference."""

    session: object
    feeds: dict

    def run(self) -> None:
        self.session.run(None, self.feeds)


class OnnxRuntimeRunner:
    """Runs ONNX models through onnxruntime on the machine it is created on.

    Parameters
    ----------
    threads : int
        Intra-op threads (1 makes timings comparable and quiet).
    providers : tuple of str
        Execution providers, first preferred (``CPUExecutionProvider``; ``CUDAExecutionProvider``
        and ``TensorrtExecutionProvider`` where installed).
    seed : int
        Seed of the random inputs.
    """

    name = "onnxruntime"

    def __init__(self, *, threads: int = 1, providers: tuple[str, ...] = ("CPUExecutionProvider",), seed: int = 0):
        ort = _import()
        available = ort.get_available_providers()
        missing = [p for p in providers if p not in available]
        if missing:
            raise InputError(f"execution provider(s) {missing} are not available here; available: {available}")
        if threads < 1:
            raise InputError(f"threads must be at least 1, got {threads}")
        self.ort = ort
        self.threads = threads
        self.providers = tuple(providers)
        self.seed = seed

    def settings(self) -> dict:
        """What a profile records about the runtime."""
        return {"name": self.name, "version": self.ort.__version__, "threads": self.threads,
                "providers": list(self.providers), "graph_optimization": "all"}

    def _options(self, profile_prefix: str | None = None):
        options = self.ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = self.ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if profile_prefix is not None:
            options.enable_profiling = True
            options.profile_file_prefix = profile_prefix
        return options

    def _session(self, model, options):
        source = str(model) if isinstance(model, (str, Path)) else model
        try:
            return self.ort.InferenceSession(source, options, providers=list(self.providers))
        except Exception as exc:  # onnxruntime raises its own types; report which model failed and why
            raise ModelError(f"onnxruntime cannot load the model: {str(exc).splitlines()[0][:300]}") from None

    def _feeds(self, session, input_shapes: dict | None) -> dict:
        rng = np.random.default_rng(self.seed)
        feeds = {}
        for spec in session.get_inputs():
            shape = (input_shapes or {}).get(spec.name, spec.shape)
            if any(not isinstance(d, int) or d <= 0 for d in shape):
                raise InputError(f"input {show(spec.name)} has dynamic shape {spec.shape}; give input_shapes")
            dtype = _TYPES.get(spec.type)
            if dtype is None:
                raise InputError(f"input {show(spec.name)} has unsupported type {spec.type}")
            if np.issubdtype(dtype, np.integer):
                feeds[spec.name] = rng.integers(0, 100, size=shape).astype(dtype)
            else:
                feeds[spec.name] = rng.standard_normal(shape).astype(dtype)
        return feeds

    def load(self, model, *, input_shapes: dict | None = None) -> LoadedModel:
        """A session for ``model`` (path or serialized bytes) with seeded inputs."""
        session = self._session(model, self._options())
        return LoadedModel(session=session, feeds=self._feeds(session, input_shapes))

    def nchwc_pad_multiple(self, block: int) -> int | None:
        """Which depthwise convolutions this onnxruntime runs in its blocked layout (``estimator._nchwc``).

        Saves the optimized graph of one 3x3 depthwise convolution on ``block + 4`` channels (and on
        ``block + 8`` with a block of 16): the smallest channel multiple it ran blocked at (4 or 8), the
        block when it ran neither, None when the provider has no blocked layout here at all (a depthwise
        convolution on ``block`` channels did not run blocked either).
        """
        def blocked(channels: int) -> bool:
            from onnx import TensorProto, helper

            weight = helper.make_tensor("w", TensorProto.FLOAT, [channels, 1, 3, 3], [0.0] * channels * 9)
            shape = [1, channels, 8, 8]
            graph = helper.make_graph([helper.make_node("Conv", ["x", "w"], ["y"], group=channels, pads=[1, 1, 1, 1])],
                                      "probe", [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
                                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)], [weight])
            proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
            proto.ir_version = 8
            with tempfile.TemporaryDirectory() as folder:
                options = self._options()
                options.optimized_model_filepath = os.path.join(folder, "optimized.onnx")
                options.log_severity_level = 3
                self._session(proto.SerializeToString(), options)
                return b"nchwc" in Path(options.optimized_model_filepath).read_bytes()

        if not blocked(block):
            return None
        for multiple in (4, 8):
            if multiple < block and blocked(block + multiple):
                return multiple
        return block

    def profile(self, model, *, runs: int = 10, warmup: int = 3, input_shapes: dict | None = None) -> list[NodeTime]:
        """Kernel times of every executed (fused) node over ``runs`` inferences, from onnxruntime's profiler."""
        with tempfile.TemporaryDirectory() as folder:
            session = self._session(model, self._options(os.path.join(folder, "profile")))
            feeds = self._feeds(session, input_shapes)
            for _ in range(warmup + runs):
                session.run(None, feeds)
            path = session.end_profiling()
            return read_onnxruntime_profile(path, skip_runs=warmup)
