"""Physical limits a measurement must respect: the device's ceilings, and the floor of a workload.

A pre-empted reference kernel or a broken probe can make a measurement claim more than the
hardware can do (issue 19 saw a 7,858 GB/s memory probe and 17,961 GFLOP/s on one thread). Two
bounds catch that:

- **ceilings** of the CPU the runtime runs on, from per-cycle limits of the widest cores shipped
  and the clock: no probe may report more;
- the **floor** of a workload: its FLOPs at that ceiling (or, for a caller that trusts a measured
  peak, at the lower of the ceiling and a stated multiple of it), and its weight bytes at the
  bandwidth ceiling. No measurement of it may be faster. The measuring commands use the ceiling
  alone: a peak probe slowed by other load (seen here: 10x) would raise the floor above real
  measurements.

Both are upper bounds on speed, deliberately loose: they flag what is impossible, not what is slow.
Execution providers other than the CPU (CUDA, TensorRT) have no ceiling here, and their
measurements are checked against the measured peak only.
"""

from __future__ import annotations

__all__ = ["CEILING_SOURCE", "FLOP_PER_CYCLE", "BYTES_PER_CYCLE", "MAX_CLOCK_MHZ", "PEAK_MARGIN", "ceilings",
           "floor_ms", "graph_floor_ms", "model_floor_ms"]

#: fp32 FLOPs one core completes per cycle at most: two 512-bit FMA units x 16 lanes x 2 FLOPs.
FLOP_PER_CYCLE = 64
#: Bytes one core moves per cycle at most: two 64-byte loads and one 64-byte store (its L1 data paths).
BYTES_PER_CYCLE = 192
#: Clock assumed where cpufreq does not say (MHz): no shipped x86 or Arm CPU boosts above 6.2 GHz.
MAX_CLOCK_MHZ = 6500.0
#: A workload may beat the measured 1024^3 MatMul probe by at most this factor (measured here:
#: ResNet-18 in onnxruntime runs at 1.3x the probe's rate; convolution kernels are better blocked).
PEAK_MARGIN = 3.0
CEILING_SOURCE = (f"physical ceilings of one CPU core: {FLOP_PER_CYCLE} fp32 FLOP/cycle (two 512-bit FMA units, "
                  f"Intel Skylake-SP and later, AMD Zen 5: the most of any x86 or Arm core) and {BYTES_PER_CYCLE} "
                  "B/cycle (two 64-byte loads and one store per cycle from L1), times the threads used and the "
                  f"clock (cpufreq's maximum, else {MAX_CLOCK_MHZ:g} MHz, above every shipped CPU's boost)")


def ceilings(settings: dict, info: dict) -> dict | None:
    """The most the device can do: ``peak_gflops`` and ``bandwidth_gbps``, or None off the CPU.

    >>> c = ceilings({"threads": 1, "providers": ["CPUExecutionProvider"]}, {"cpu_max_mhz": 3000.0, "cores": 2})
    >>> c["peak_gflops"], c["bandwidth_gbps"]
    (192.0, 576.0)
    """
    providers = settings.get("providers") or ["CPUExecutionProvider"]
    if any(p != "CPUExecutionProvider" for p in providers):
        return None
    cores = max(1, min(int(settings.get("threads") or 1), int(info.get("cores") or 1)))
    ghz = float(info.get("cpu_max_mhz") or MAX_CLOCK_MHZ) / 1000.0
    return {"peak_gflops": FLOP_PER_CYCLE * ghz * cores, "bandwidth_gbps": BYTES_PER_CYCLE * ghz * cores,
            "source": CEILING_SOURCE}


def floor_ms(*, flops: float, bytes_: float = 0.0, ceiling: dict | None = None,
             peak_gflops: float | None = None) -> float:
    """The fastest a workload can run (ms): FLOPs at peak throughput, bytes at peak bandwidth.

    Peak throughput is the lower of the ceiling and ``PEAK_MARGIN`` times the measured peak.

    >>> floor_ms(flops=3.6e9, ceiling={"peak_gflops": 192.0, "bandwidth_gbps": 576.0}, peak_gflops=120.0)
    18.75
    >>> floor_ms(flops=1e9)
    0.0
    """
    limits = [v for v in ((ceiling or {}).get("peak_gflops"), PEAK_MARGIN * peak_gflops if peak_gflops else None)
              if v]
    compute = flops / (min(limits) * 1e6) if limits and flops > 0 else 0.0
    bandwidth = (ceiling or {}).get("bandwidth_gbps")
    memory = bytes_ / (bandwidth * 1e6) if bandwidth and bytes_ > 0 else 0.0
    return max(compute, memory)


def graph_floor_ms(graph, *, ceiling: dict | None, peak_gflops: float | None = None) -> float:
    """The floor of a whole model (an edgeperf ``Graph``): its FLOPs, and its weights at one byte each.

    One byte per weight keeps the floor below every precision's true weight traffic.
    """
    return floor_ms(flops=float(graph.flops), bytes_=float(graph.params), ceiling=ceiling, peak_gflops=peak_gflops)


def model_floor_ms(model, ceiling: dict | None, input_shapes: dict | None = None) -> float:
    """The floor of what a runner loads (ms): serialized ONNX bytes, or a model file or ``zoo:`` reference.

    ``input_shapes`` sizes inputs with dynamic dimensions, as the runner is given them. 0.0 without a
    ceiling (not a CPU execution provider): nothing is then held to a floor here.
    """
    if ceiling is None:
        return 0.0
    from ..estimator import graph_from_model, load_model

    if isinstance(model, (bytes, bytearray)):
        import onnx

        graph = graph_from_model(onnx.load_from_string(bytes(model)), name="measured model", on_unknown="roofline",
                                 input_shapes=input_shapes)
    else:
        graph = load_model(str(model), on_unknown="roofline", input_shapes=input_shapes)
    return graph_floor_ms(graph, ceiling=ceiling)
