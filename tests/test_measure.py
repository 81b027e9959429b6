"""Measurement: the timing harness on a simulated machine, onnxruntime for real, recorded profiler output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgeperf import InputError
from edgeperf.measure import Harness, OnnxRuntimeRunner, device_info, read_onnxruntime_profile

from ._machine import SimulatedMachine

RECORDED = Path(__file__).resolve().parent / "recorded"


def test_drift_correction_recovers_the_true_time():
    # the machine alternates between normal speed and 1.3x slower (its speed states), round by round;
    # reference and workload slow down alike, so dividing by the reference drift recovers 2 ms exactly
    machine = SimulatedMachine(speeds=[1.0, 1.3, 1.0, 1.3], round_calls=30)
    harness = Harness(rounds=8, round_s=0.05, warmup_s=0.0, reference_calls=5, clock=machine.clock,
                      reference=machine.work(0.0003))
    timing = harness.measure(machine.work(0.002))
    assert timing.median_ms == pytest.approx(2.0, rel=1e-6)
    assert timing.raw_median_ms > 2.0   # uncorrected rounds include the slow ones
    assert timing.drift == pytest.approx(1.3)
    assert "drift" in timing.flags


def test_an_outlier_round_is_rejected():
    machine = SimulatedMachine(speeds=[1.0], round_calls=10**9)
    workload = machine.work(0.001)
    state = {"n": 0}

    def noisy():
        state["n"] += 1
        workload()
        if 300 < state["n"] <= 350:  # one round of interference that the reference did not see
            machine.now += 0.004

    harness = Harness(rounds=9, round_s=0.05, warmup_s=0.0, clock=machine.clock, reference=machine.work(0.0002))
    timing = harness.measure(noisy)
    assert timing.median_ms == pytest.approx(1.0, rel=1e-6)
    assert timing.kept_rounds == 8 and timing.flags == ()


def test_cool_down_waits_and_flags_when_it_cannot():
    temps = iter([90.0, 88.0, 84.0] + [70.0] * 100)
    slept = []
    machine = SimulatedMachine(speeds=[1.0], round_calls=10**9)
    harness = Harness(rounds=3, round_s=0.01, warmup_s=0.0, clock=machine.clock, reference=machine.work(0.0001),
                      temperature_c=lambda: next(temps), max_temp_c=85.0, sleep=slept.append)
    assert harness.measure(machine.work(0.001)).flags == ()
    assert slept == [1.0, 1.0]
    hot = Harness(rounds=3, round_s=0.01, warmup_s=0.0, clock=machine.clock, reference=machine.work(0.0001),
                  temperature_c=lambda: 99.0, max_temp_c=85.0, sleep=lambda s: None, cooldown_timeout_s=5)
    assert "hot" in hot.measure(machine.work(0.001)).flags


def test_harness_rejects_too_few_rounds():
    with pytest.raises(ValueError, match="rounds"):
        Harness(rounds=2)


def test_a_preempted_call_does_not_drag_the_result():
    # one call in four loses 30 ms to another process (pre-emption): the lower quartile of each round
    # is the undisturbed 2 ms, where a mean would say 9.5 ms
    machine = SimulatedMachine()
    harness = Harness(rounds=5, round_s=0.02, warmup_s=0.0, clock=machine.clock, reference=machine.work(0.0001))
    timing = harness.measure(machine.work(0.002, stall=lambda n: 0.030 if n % 4 == 3 else 0.0))
    assert timing.median_ms == pytest.approx(2.0, rel=1e-6)
    assert timing.raw_median_ms >= 2.0 and timing.flags == ()


def test_a_preempted_reference_never_collapses_the_workload():
    # issue 19: a pre-empted reference kernel ran 150x slower in most rounds; dividing by that drift
    # turned 6.5 ms into 0.013 ms. Now such rounds are not corrected but left out, the measurement
    # is re-measured after a back-off, and still flagged when the load does not go away.
    machine = SimulatedMachine()

    def reference_stall(n):
        return 0.006 if (n // 5) % 4 != 0 else 0.0     # every call of 3 rounds in 4 stalls 6 ms

    harness = Harness(rounds=8, round_s=0.02, warmup_s=0.0, clock=machine.clock, sleep=machine.sleep,
                      reference=machine.work(0.00004, stall=reference_stall), retries=2, backoff_s=0.5)
    timing = harness.measure(machine.work(0.0065))
    assert timing.median_ms == pytest.approx(6.5, rel=1e-6)       # never divided by the 150x drift
    assert "disturbed" in timing.flags and timing.disturbed
    assert timing.attempts == 3 and machine.slept == [0.5, 1.0]   # two re-measurements, back-off doubling
    assert timing.correction == 1.0


def test_drift_beyond_the_bound_is_not_corrected():
    # a 2x slower phase is other load, not a speed state (1.3x): its rounds are left out, not divided by 2
    machine = SimulatedMachine(speeds=[1.0, 2.0], round_calls=25)
    harness = Harness(rounds=8, round_s=0.04, warmup_s=0.0, reference_calls=5, clock=machine.clock,
                      reference=machine.work(0.0002), retries=0)
    timing = harness.measure(machine.work(0.002))
    assert timing.correction <= harness.max_correction
    assert timing.median_ms == pytest.approx(2.0, rel=1e-6)     # the undisturbed rounds
    assert timing.kept_rounds < 8


def test_retries_stop_when_the_load_goes_and_when_the_budget_is_spent():
    def stall(n):       # 3 rounds in 4 of the reference stall 5 ms, during its first 40 calls (two attempts) only
        return 0.005 if n < 40 and (n // 5) % 4 != 0 else 0.0

    machine = SimulatedMachine()
    harness = Harness(rounds=4, round_s=0.01, warmup_s=0.0, clock=machine.clock, sleep=machine.sleep,
                      reference=machine.work(0.0001, stall=stall), backoff_s=0.25)
    timing = harness.measure(machine.work(0.001))
    assert timing.flags == () and timing.attempts == 3 and machine.slept == [0.25, 0.5]
    broke = SimulatedMachine()
    spent = Harness(rounds=4, round_s=0.01, warmup_s=0.0, clock=broke.clock, sleep=broke.sleep, retry_budget_s=0.0,
                    reference=broke.work(0.0001, stall=lambda n: 0.005 if (n // 5) % 4 else 0.0))
    assert spent.measure(broke.work(0.001)).attempts == 1 and broke.slept == []


def test_faster_than_the_physical_floor_is_implausible():
    machine = SimulatedMachine()
    harness = Harness(rounds=3, round_s=0.01, warmup_s=0.0, clock=machine.clock, sleep=machine.sleep,
                      reference=machine.work(0.0001), retries=1, backoff_s=0.1)
    timing = harness.measure(machine.work(0.00004), floor_ms=1.5)     # 0.04 ms for a 1.5 ms floor
    assert "implausible" in timing.flags and timing.attempts == 2 and timing.floor_ms == 1.5
    assert harness.measure(machine.work(0.002), floor_ms=1.5).flags == ()


def test_even_time_slicing_is_timed_by_cpu_time():
    # two CPU-bound neighbours on two cores: the process gets 0.4 of a core, every call and the
    # reference run 3x slower alike (2.5x time-slicing, 1.2x cache), and no relative statistic sees it. The CPU clock does: the
    # rounds are timed by CPU time (inflated 1.2x by the neighbours' cache traffic) and flagged.
    def machine():
        return SimulatedMachine(shares=[0.4], cpu_inflation=1.2)

    blind = machine()
    timing = Harness(rounds=5, round_s=0.02, warmup_s=0.0, clock=blind.clock,
                     reference=blind.work(0.0001)).measure(blind.work(0.002))
    assert timing.median_ms == pytest.approx(6.0, rel=1e-6) and timing.flags == ()    # 2 ms x 1.2 / 0.4
    seeing = machine()
    timing = Harness(rounds=5, round_s=0.02, warmup_s=0.0, clock=seeing.clock, cpu_clock=seeing.cpu_clock,
                     reference=seeing.work(0.0001)).measure(seeing.work(0.002))
    assert timing.median_ms == pytest.approx(2.4, rel=1e-6) and timing.flags == ("contended",)
    assert timing.cpu_share == pytest.approx(0.4) and timing.kept_rounds == 5
    assert timing.raw_median_ms == pytest.approx(6.0, rel=1e-6)      # the wall clock, as a naive timer


def test_contended_rounds_join_idle_ones_and_a_speed_state_is_not_contention():
    # one round in two time-sliced to half a core: those are timed by CPU time, the others by wall time
    machine = SimulatedMachine(shares=[1.0, 0.5], round_calls=30)
    harness = Harness(rounds=8, round_s=0.05, warmup_s=0.0, reference_calls=5, clock=machine.clock,
                      cpu_clock=machine.cpu_clock, reference=machine.work(0.0003))
    timing = harness.measure(machine.work(0.002))
    assert timing.median_ms == pytest.approx(2.0, rel=1e-6) and timing.flags == ("contended",)
    assert timing.kept_rounds == 8
    # a device changing speed state (1.3x) slows both clocks alike: drift, corrected, not contention
    dvfs = SimulatedMachine(speeds=[1.0, 1.3], round_calls=30)
    harness = Harness(rounds=8, round_s=0.05, warmup_s=0.0, reference_calls=5, clock=dvfs.clock,
                      cpu_clock=dvfs.cpu_clock, reference=dvfs.work(0.0003))
    timing = harness.measure(dvfs.work(0.002))
    assert timing.median_ms == pytest.approx(2.0, rel=1e-6) and timing.flags == ("drift",)
    assert timing.cpu_share == pytest.approx(1.0)


def test_too_little_cpu_or_several_threads_is_disturbed_not_guessed():
    # below min_cpu_share (0.2) of a core the CPU time is not trusted as a latency
    starved = SimulatedMachine(shares=[0.1])
    harness = Harness(rounds=4, round_s=0.01, warmup_s=0.0, clock=starved.clock, cpu_clock=starved.cpu_clock,
                      sleep=starved.sleep, reference=starved.work(0.0001), retries=1, backoff_s=0.5)
    timing = harness.measure(starved.work(0.001))
    assert "disturbed" in timing.flags and timing.disturbed and timing.attempts == 2
    assert timing.kept_rounds == 0 and starved.slept == [0.5]
    # with two intra-op threads the CPU time is spread over threads and is no latency: left out too
    shared = SimulatedMachine(shares=[0.5])
    harness = Harness(rounds=4, round_s=0.01, warmup_s=0.0, clock=shared.clock, cpu_clock=shared.cpu_clock,
                      cpu_threads=2, reference=shared.work(0.0001), retries=0)
    assert "disturbed" in harness.measure(shared.work(0.001)).flags
    with pytest.raises(ValueError, match="min_cpu_share"):
        Harness(min_share=0.5, min_cpu_share=0.6)


def test_cpu_timing_follows_the_runner():
    import time

    from edgeperf.measure import cpu_timing

    assert cpu_timing({"threads": 1, "providers": ["CPUExecutionProvider"]}) == {"cpu_clock": time.thread_time,
                                                                                   "cpu_threads": 1}
    assert cpu_timing({"threads": 4}) == {"cpu_clock": time.process_time, "cpu_threads": 4}
    assert cpu_timing({"threads": 1, "providers": ["CUDAExecutionProvider", "CPUExecutionProvider"]}) == {}


def test_physical_ceilings_and_floors_by_hand():
    from edgeperf.measure import ceilings, floor_ms

    # 64 FLOP/cycle x 3.0 GHz x 1 thread = 192 GFLOP/s; 192 B/cycle x 3.0 GHz = 576 GB/s
    cpu = ceilings({"threads": 1, "providers": ["CPUExecutionProvider"]}, {"cpu_max_mhz": 3000.0, "cores": 2})
    assert (cpu["peak_gflops"], cpu["bandwidth_gbps"]) == (192.0, 576.0)
    # two threads double both; more threads than cores do not
    assert ceilings({"threads": 8}, {"cpu_max_mhz": 3000.0, "cores": 2})["peak_gflops"] == 384.0
    # no clock known: 6.5 GHz, above every shipped CPU's boost: 64 x 6.5 = 416 GFLOP/s
    assert ceilings({"threads": 1}, {})["peak_gflops"] == 416.0
    assert ceilings({"threads": 1, "providers": ["CUDAExecutionProvider"]}, {}) is None
    # ResNet-18, 3.64 GFLOP: at most 3 x a 100 GFLOP/s probe = 300, below the 416 ceiling -> 12.1 ms
    assert floor_ms(flops=3.64e9, ceiling=ceilings({"threads": 1}, {}), peak_gflops=100.0) == pytest.approx(3.64e9 / 300e6)
    # the 7,858 GB/s Add probe: 201 MB in 0.0256 ms; its floor at 576 GB/s is 0.35 ms
    assert floor_ms(flops=0, bytes_=3 * 4 * 16 * 2**20, ceiling=cpu) == pytest.approx(201326592 / 576e6)


def test_real_measurement_with_onnxruntime_holds_under_load():
    # real timing on a possibly busy 2-core machine: only what load cannot overturn. 64 M against
    # 1.1 M MACs is ordering by a wide margin, and neither can run faster than its physical floor.
    pytest.importorskip("onnxruntime")
    from edgeperf.estimator import graph_from_model
    from edgeperf.measure import ceilings, graph_floor_ms
    from edgeperf.zoo import build_model

    runner = OnnxRuntimeRunner(threads=1)
    settings = runner.settings()
    assert settings["threads"] == 1 and settings["version"]
    ceiling = ceilings(settings, device_info())
    timings = []
    for model in (build_model("conv3dense1", weights=True), build_model("squeezenet1_1", weights=True, input_size=(96, 96))):
        floor = graph_floor_ms(graph_from_model(model), ceiling=ceiling)
        timing = Harness(rounds=5, round_s=0.02, warmup_s=0.02).measure(runner.load(model.SerializeToString()).run,
                                                                        floor_ms=floor)
        assert timing.median_ms >= floor > 0 and "implausible" not in timing.flags
        timings.append(timing.median_ms)
    assert 0 < timings[0] < timings[1]


def test_onnxruntime_profile_of_a_real_run():
    pytest.importorskip("onnxruntime")
    from edgeperf.zoo import build_model

    nodes = OnnxRuntimeRunner().profile(build_model("squeezenet1_1", weights=True, input_size=(64, 64)).SerializeToString(),
                                        runs=3, warmup=1)
    assert {node.op_type for node in nodes} >= {"Conv", "MaxPool", "Concat"}
    assert all(node.median_ms >= 0 and node.runs == 3 for node in nodes)


def test_recorded_onnxruntime_profile():
    path = RECORDED / "onnxruntime_1.31_conv3dense1_profile.json"
    nodes = {node.name: node for node in read_onnxruntime_profile(path, skip_runs=1)}
    events = json.loads(path.read_text())
    node_events = [e for e in events if e.get("cat") == "Node" and e["name"].endswith("_kernel_time")]
    assert len(nodes) == len({e["name"] for e in node_events})
    assert all(node.runs == 2 for node in nodes.values())   # 3 runs recorded, 1 skipped
    assert "Conv" in {node.op_type for node in nodes.values()}
    for name, node in nodes.items():
        # the recorded durations in microseconds, first run dropped, median by hand for two values
        later = [e["dur"] for e in node_events if e["name"] == f"{name}_kernel_time"][1:]
        assert node.median_ms == pytest.approx((later[0] + later[1]) / 2 / 1000)


@pytest.mark.parametrize("content,fragment", [
    ("not json", "JSON expected"),
    ('{"a": 1}', "list of events"),
    ('[{"cat": "Session", "name": "model_run", "dur": 5}]', "no node events"),
    ('[{"cat": "Node", "name": "x_kernel_time", "dur": -1}]', "valid duration"),
])
def test_bad_profiles(tmp_path, content, fragment):
    path = tmp_path / "p.json"
    path.write_text(content)
    with pytest.raises(InputError, match=fragment):
        read_onnxruntime_profile(path)


def test_device_info_from_a_recorded_sysfs_tree(tmp_path):
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc" / "cpuinfo").write_text("processor : 0\nmodel name : ARM Cortex-A72\n")
    cpufreq = tmp_path / "sys/devices/system/cpu/cpu0/cpufreq"
    cpufreq.mkdir(parents=True)
    (cpufreq / "scaling_max_freq").write_text("1500000\n")   # kHz
    (cpufreq / "scaling_governor").write_text("ondemand\n")
    info = device_info(root=str(tmp_path))
    assert info["cpu"] == "ARM Cortex-A72" and info["cpu_max_mhz"] == 1500.0 and info["governor"] == "ondemand"


class SimulatedMeter:
    """A power source on the simulated machine: constant power, optional clock change or throttle report."""

    def __init__(self, machine, power_mw, *, counter=False, clock_change_at=None, throttled=False):
        self.machine, self.power_mw, self.counter = machine, power_mw, counter
        self.reads, self.clock_change_at, self.throttled = 0, clock_change_at, throttled

    def read(self):
        from types import MappingProxyType

        from edgeperf.measure import Reading

        self.reads += 1
        freq = 1479.0 if self.clock_change_at is None or self.reads < self.clock_change_at else 918.0
        now = self.machine.clock()
        return Reading(time_s=now, total_mw=self.power_mw, energy_mj=self.power_mw * now if self.counter else None,
                       freq_mhz=MappingProxyType({"cpu": freq}), flags=("throttled",) if self.throttled else ())


@pytest.mark.parametrize("counter", [False, True])
def test_energy_per_call_from_a_power_source(counter):
    # 2 W for 1 ms per call = 2 mJ per call, whether integrated from power or read from a counter
    machine = SimulatedMachine(speeds=[1.0], round_calls=10**9)
    meter = SimulatedMeter(machine, 2000.0, counter=counter)
    harness = Harness(rounds=5, round_s=0.02, warmup_s=0.0, clock=machine.clock, reference=machine.work(0.0001),
                      power=meter)
    timing = harness.measure(machine.work(0.001))
    assert timing.energy_mj == pytest.approx(2.0)
    assert timing.power_mw == pytest.approx(2000.0)
    assert meter.reads == 10 and timing.flags == ()


def test_clock_changes_and_throttling_are_flagged():
    machine = SimulatedMachine(speeds=[1.0], round_calls=10**9)
    changed = Harness(rounds=3, round_s=0.01, warmup_s=0.0, clock=machine.clock, reference=machine.work(0.0001),
                      power=SimulatedMeter(machine, 1000.0, clock_change_at=4))
    assert "clock-changed" in changed.measure(machine.work(0.001)).flags
    throttled = Harness(rounds=3, round_s=0.01, warmup_s=0.0, clock=machine.clock, reference=machine.work(0.0001),
                        power=SimulatedMeter(machine, 1000.0, throttled=True))
    assert "throttled" in throttled.measure(machine.work(0.001)).flags
    plain = Harness(rounds=3, round_s=0.01, warmup_s=0.0, clock=machine.clock, reference=machine.work(0.0001))
    assert plain.measure(machine.work(0.001)).energy_mj is None


def test_vendor_profiles_read_into_node_times():
    from edgeperf.measure import read_layer_profile, read_openvino_counters, read_tflite_op_profile, read_trtexec_profile

    trt = read_trtexec_profile(RECORDED / "trtexec_conv3dense1_profile.json")
    assert [t.name for t in trt][:2] == ["conv_0 + relu_0", "conv_1 + relu_1"]
    assert trt[0].median_ms == 0.0210 and trt[0].runs == 1000 and trt[0].provider == "TensorRT"
    ov = read_openvino_counters(RECORDED / "openvino_conv3dense1_average_counters.csv")
    assert [(t.name, t.op_type, t.median_ms) for t in ov][0] == ("conv_0", "Convolution", 0.061)
    assert len(ov) == 5                                   # NOT_RUN input and the Total line skipped
    tfl = read_tflite_op_profile(RECORDED / "tflite_benchmark_model_conv3dense1.txt")
    assert [(t.op_type, t.name) for t in tfl][0] == ("CONV_2D", "[conv_0]:0")
    assert sum(t.median_ms for t in tfl) == pytest.approx(0.062 + 0.065 + 0.015 + 0.001 + 0.011 + 0.006)
    for path, reader_output in (("trtexec_conv3dense1_profile.json", trt),
                                ("openvino_conv3dense1_average_counters.csv", ov),
                                ("tflite_benchmark_model_conv3dense1.txt", tfl),
                                ("onnxruntime_1.31_conv3dense1_profile.json", None)):
        detected = read_layer_profile(RECORDED / path)
        if reader_output is not None:
            assert detected == reader_output


@pytest.mark.parametrize("name, content, message", [
    ("t.json", '[{"count": 10}, {"name": "x", "averageMs": "fast"}]', "no valid averageMs"),
    ("t.json", '{"layers": []}', "not a trtexec --exportProfile file"),
    ("o.csv", "name;time\nx;1\n", "missing column 'layerName'"),
    ("o.csv", "layerName;execStatus;layerType;execType;realTime (ms);cpuTime (ms);\nx;EXECUTED;Conv;j;abc;1;\n",
     "is not a number"),
    ("b.txt", "INFO: nothing here\n", "no 'Operator-wise Profiling Info"),
])
def test_bad_vendor_profiles(tmp_path, name, content, message):
    from edgeperf.measure import read_openvino_counters, read_tflite_op_profile, read_trtexec_profile

    reader = {"t.json": read_trtexec_profile, "o.csv": read_openvino_counters, "b.txt": read_tflite_op_profile}[name]
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(InputError, match=message):
        reader(path)


@pytest.mark.parametrize("name", ["trtexec_conv3dense1_profile.json", "openvino_conv3dense1_average_counters.csv",
                                  "tflite_benchmark_model_conv3dense1.txt", "onnxruntime_1.31_conv3dense1_profile.json"])
def test_fit_from_vendor_layer_profiles(name, tmp_path, capsys):
    import edgeperf
    from edgeperf.cli import main
    from edgeperf.measure import fit_from_layer_times, match_layer_times, read_layer_profile

    times = read_layer_profile(RECORDED / name)
    graph = edgeperf.load_model("examples/conv3dense1.onnx")
    mapped = edgeperf.map_graph(graph, edgeperf.load_profile("jetson-nano").mapping)
    matched, _ = match_layer_times(graph, mapped, times)
    # every profile names the three Conv(+Relu) kernels, the Gemm and the Softmax of the model
    assert set(matched) == {0, 1, 2, 3, 4}
    conv0 = next(t.median_ms for t in times if "conv_0" in t.name or "relu_0" in t.name)
    assert matched[0] == pytest.approx(conv0)
    result = fit_from_layer_times("examples/conv3dense1.onnx", times, edgeperf.load_profile("jetson-nano"),
                                  name="from-vendor", source=name)
    assert result.profile.to_document()["provenance"]["matched_layers"] == 5
    out = tmp_path / "p.json"
    assert main(["fit", "--layer-profile", str(RECORDED / name), "--model", "examples/conv3dense1.onnx",
                 "--out", str(out)]) == 0
    assert "5 profiled layers" in capsys.readouterr().out
