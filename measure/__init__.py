"""Measurement on real devices: runners, a load-robust timing harness, physical limits, profiler readers.

Runners (onnxruntime, TFLite, torch; the :class:`Runner` protocol), the load-robust timing harness
(wall and CPU clocks, :func:`cpu_timing`) and the physical limits it checks against
(``_plausible``), power/temperature/clock sources (the :class:`PowerSource` protocol), vendor
profiler readers, and the one measurement pipeline (``_pipeline``: planned items -> harness -> sweep file of
:class:`SweepRecord` -> samples) behind the whole-network calibration loop (``calibrate``) and the
single-layer adaptive sweeps (``run_sweep``, ``fit_sweep``); on-device validation
(``validate_on_device``). Fitting itself is ``edgeperf.fitting``'s: this package measures and
hands it samples. ``import edgeperf`` does not import this package's runtime dependencies.
"""

from ._calibrate import (
    VALIDATION_NETWORKS,
    CalibrationPlan,
    CalibrationResult,
    calibrate,
    plan_calibration,
    read_sweep,
)
from ._device import device_info
from ._harness import DISTURBED_FLAGS, MAX_CORRECTION, MAX_DISTURBED, MIN_CPU_SHARE, MIN_SHARE, Harness, Timing
from ._harness import cpu_timing, matmul_reference, raise_if_disturbed
from ._plausible import CEILING_SOURCE, ceilings, floor_ms, graph_floor_ms
from ._onnxruntime import LoadedModel, OnnxRuntimeRunner
from ._protocols import PowerSource, Runnable, Runner
from ._layer_profile import fit_from_layer_times
from ._pipeline import (
    EXCLUDING_FLAGS,
    LAYER_SWEEP_COLUMNS,
    OPTIONAL_COLUMNS,
    SWEEP_COLUMNS,
    SweepRecord,
)
from ._profilers import (
    PROFILE_FORMATS,
    NodeTime,
    kernel_node_names,
    match_kernels,
    match_layer_times,
    read_layer_profile,
    read_onnxruntime_profile,
    read_openvino_counters,
    read_tflite_op_profile,
    read_trtexec_profile,
)
from ._runners import RUNNERS, TfliteRunner, TorchRunner, make_runner
from ._sources import (
    OFFLINE_C,
    SOURCES,
    ApexSource,
    ClockSource,
    CsvPowerReplay,
    Ina3221Source,
    NullSource,
    NvmlSource,
    RaplSource,
    Reading,
    TegrastatsSource,
    ThermalZoneSource,
    VcgencmdSource,
    decode_throttled,
    discover_sources,
    integrate_mj,
    open_power_source,
    open_temperature,
    parse_tegrastats,
    parse_vcgencmd,
    rapl_delta_uj,
)
from ._sweep import (
    EMPTY_LAYER,
    SweepPlan,
    fit_sweep,
    plan_sweep,
    read_layer_sweep,
    run_sweep,
)
from ._trace import MAX_TRACE_BYTES, read_trace_csv
from ._validate import DeviceValidation, LayerComparison, validate_on_device

__all__ = ["PowerSource", "Runnable", "Runner", "SWEEP_COLUMNS", "EXCLUDING_FLAGS", "OPTIONAL_COLUMNS", "VALIDATION_NETWORKS", "CalibrationPlan", "CalibrationResult", "calibrate",
           "plan_calibration", "read_sweep", "device_info", "Harness", "Timing", "matmul_reference",
           "DISTURBED_FLAGS", "MAX_CORRECTION", "MAX_DISTURBED", "MIN_SHARE", "MIN_CPU_SHARE", "cpu_timing",
           "raise_if_disturbed", "CEILING_SOURCE", "ceilings",
           "floor_ms", "graph_floor_ms", "LoadedModel", "OnnxRuntimeRunner", "NodeTime",
           "read_onnxruntime_profile", "kernel_node_names", "PROFILE_FORMATS", "read_layer_profile", "read_openvino_counters",
           "read_tflite_op_profile", "read_trtexec_profile", "MAX_TRACE_BYTES", "read_trace_csv", "OFFLINE_C", "SOURCES", "ApexSource",
           "ClockSource", "CsvPowerReplay", "Ina3221Source", "NullSource", "NvmlSource", "RaplSource", "Reading",
           "TegrastatsSource", "ThermalZoneSource", "VcgencmdSource", "decode_throttled", "discover_sources",
           "integrate_mj", "open_power_source", "open_temperature", "parse_tegrastats", "EMPTY_LAYER",
           "LAYER_SWEEP_COLUMNS", "SweepRecord", "SweepPlan", "fit_sweep", "plan_sweep", "read_layer_sweep",
           "run_sweep", "DeviceValidation", "LayerComparison", "validate_on_device", "RUNNERS", "TfliteRunner",
           "TorchRunner", "make_runner", "fit_from_layer_times", "match_kernels", "match_layer_times", "parse_vcgencmd", "rapl_delta_uj"]
