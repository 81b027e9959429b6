"""Measurement on real devices: runners, a drift-correcting timing harness, profiler readers.

Built so far: the onnxruntime runner, the timing harness and onnxruntime's profiler reader.
Sweeps, fitting from sweeps and the ``calibrate`` command are the calibration issue's next
steps. ``import edgeperf`` does not import this package's runtime dependencies.
"""

from ._device import device_info
from ._harness import Harness, Timing, matmul_reference
from ._onnxruntime import LoadedModel, OnnxRuntimeRunner
from ._profilers import NodeTime, read_onnxruntime_profile

__all__ = ["device_info", "Harness", "Timing", "matmul_reference", "LoadedModel", "OnnxRuntimeRunner", "NodeTime",
           "read_onnxruntime_profile"]
