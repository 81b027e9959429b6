"""Runners other than onnxruntime, behind the same interface: ``load(model) -> LoadedModel``, ``settings()``.

- :class:`TfliteRunner`: the TensorFlow Lite interpreter (``ai_edge_litert``, ``tflite_runtime`` or
  ``tensorflow.lite``, whichever is installed), with the Coral Edge TPU delegate
  (``libedgetpu.so.1``) when asked for and present.
- :class:`TorchRunner`: a ``torch.nn.Module`` (or a TorchScript file) on the CPU, in inference mode
  (the optional ``torch`` extra).

Each runner's ``load`` returns an object whose ``run()`` is one inference, which is all the
:class:`Harness`, sweeps and calibration need. Runtime modules are imported when a runner is
created, never at ``import edgeperf``.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np

from .._errors import InputError, ModelError
from .._messages import show

__all__ = ["TfliteRunner", "TorchRunner", "RUNNERS", "make_runner"]

_INTERPRETERS = ("ai_edge_litert.interpreter", "tflite_runtime.interpreter", "tensorflow.lite")


class _Loaded:
    __slots__ = ("_run",)

    def __init__(self, run):
        self._run = run

    def run(self) -> None:
        self._run()


def _random_input(rng, shape, dtype) -> np.ndarray:
    dtype = np.dtype(dtype)
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return rng.integers(max(info.min, -100), min(info.max, 100), size=shape, endpoint=True).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


class TfliteRunner:
    """Runs ``.tflite`` models through the TFLite interpreter (optionally on a Coral Edge TPU).

    Parameters
    ----------
    threads : int
    edgetpu : bool
        Load the Edge TPU delegate (the model must be compiled with ``edgetpu_compiler``).
    module : module, optional
        An interpreter module (for tests and unusual installs); default: the first installed of
        ``ai_edge_litert.interpreter``, ``tflite_runtime.interpreter``, ``tensorflow.lite``.
    """

    name = "tflite"

    def __init__(self, *, threads: int = 1, edgetpu: bool = False, seed: int = 0, module=None):
        if module is None:
            for candidate in _INTERPRETERS:
                try:
                    module = importlib.import_module(candidate)
                    break
                except ImportError:
                    continue
            else:
                raise InputError("the tflite runner needs a TFLite interpreter: pip install ai-edge-litert "
                                 "(or tflite-runtime on boards)")
        self.module = module
        self.threads = threads
        self.seed = seed
        self.delegates = []
        if edgetpu:
            try:
                self.delegates = [module.load_delegate("libedgetpu.so.1")]
            except (ValueError, OSError, AttributeError) as exc:
                raise InputError(f"the Edge TPU delegate (libedgetpu.so.1) cannot be loaded: {exc}; install the "
                                 "Edge TPU runtime and plug the accelerator in") from None

    def settings(self) -> dict:
        return {"name": self.name, "version": getattr(self.module, "__version__", "unknown"), "threads": self.threads,
                "delegates": ["edgetpu"] if self.delegates else []}

    def load(self, model, *, input_shapes: dict | None = None):
        kwargs = {"num_threads": self.threads}
        if self.delegates:
            kwargs["experimental_delegates"] = self.delegates
        try:
            if isinstance(model, (str, Path)):
                interpreter = self.module.Interpreter(model_path=str(model), **kwargs)
            else:
                interpreter = self.module.Interpreter(model_content=bytes(model), **kwargs)
            interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f"the TFLite interpreter cannot load the model: {str(exc).splitlines()[0][:300]}") from None
        rng = np.random.default_rng(self.seed)
        for detail in interpreter.get_input_details():
            interpreter.set_tensor(detail["index"], _random_input(rng, tuple(detail["shape"]), detail["dtype"]))
        return _Loaded(interpreter.invoke)


class TorchRunner:
    """Runs a ``torch.nn.Module`` (or a TorchScript file) on the CPU under ``torch.inference_mode``.

    Parameters
    ----------
    threads : int
        ``torch.set_num_threads`` for the runner's lifetime.
    """

    name = "torch"

    def __init__(self, *, threads: int = 1, seed: int = 0):
        try:
            import torch
        except ImportError:
            raise InputError("the torch runner needs torch: pip install 'edgeperf[torch]'") from None
        self.torch = torch
        self.threads = threads
        self.seed = seed
        torch.set_num_threads(threads)

    def settings(self) -> dict:
        return {"name": self.name, "version": self.torch.__version__, "threads": self.threads, "device": "cpu"}

    def load(self, model, *, input_shapes: dict | None = None):
        """``model``: an ``nn.Module`` or a TorchScript path; ``input_shapes={"input": (1, 3, 224, 224)}``."""
        torch = self.torch
        if isinstance(model, (str, Path)):
            try:
                model = torch.jit.load(str(model), map_location="cpu")
            except (RuntimeError, ValueError) as exc:
                raise ModelError(f"{model}: not a TorchScript file ({str(exc).splitlines()[0][:200]})") from None
        if not isinstance(model, torch.nn.Module):
            raise InputError(f"the torch runner runs torch.nn.Module objects or TorchScript files, "
                             f"got {type(model).__name__}")
        if not input_shapes:
            raise InputError("the torch runner needs input_shapes, e.g. {'input': (1, 3, 224, 224)}")
        generator = torch.Generator().manual_seed(self.seed)
        inputs = [torch.randn(*shape, generator=generator) for shape in input_shapes.values()]
        model = model.eval()

        def run():
            with torch.inference_mode():
                model(*inputs)

        return _Loaded(run)


RUNNERS = {"onnxruntime": None, "tflite": TfliteRunner, "torch": TorchRunner}


def make_runner(name: str, *, threads: int = 1, **options):
    """A runner by name (``onnxruntime``, ``tflite``, ``torch``).

    Raises
    ------
    InputError
        For an unknown name or a runtime that is not installed.
    """
    if name == "onnxruntime":
        from ._onnxruntime import OnnxRuntimeRunner

        return OnnxRuntimeRunner(threads=threads, **options)
    if name not in RUNNERS:
        raise InputError(f"unknown runtime {show(name)}; known: {', '.join(RUNNERS)}")
    return RUNNERS[name](threads=threads, **options)
