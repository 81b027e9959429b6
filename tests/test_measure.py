"""Measurement: the timing harness on a simulated machine, onnxruntime for real, recorded profiler output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgeperf import InputError
from edgeperf.measure import Harness, OnnxRuntimeRunner, device_info, read_onnxruntime_profile

RECORDED = Path(__file__).resolve().parent / "recorded"


class SimulatedMachine:
    """A clock that advances by the work done, at a speed that changes over time."""

    def __init__(self, speeds, round_calls):
        self.now = 0.0
        self.speeds = speeds          # slowdown factor per phase
        self.calls = 0
        self.round_calls = round_calls
        self.spike_at = None

    def clock(self):
        return self.now

    def speed(self):
        return self.speeds[(self.calls // self.round_calls) % len(self.speeds)]

    def work(self, seconds):
        def run():
            self.now += seconds * self.speed()
            self.calls += 1
        return run


def test_drift_correction_recovers_the_true_time():
    # the machine alternates between normal speed and 1.3x slower, round by round; reference and
    # workload slow down alike, so dividing by the reference drift recovers 2 ms exactly
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


def test_real_measurement_with_onnxruntime_is_consistent():
    pytest.importorskip("onnxruntime")
    from edgeperf.zoo import build_model

    runner = OnnxRuntimeRunner(threads=1)
    settings = runner.settings()
    assert settings["threads"] == 1 and settings["version"]
    small = runner.load(build_model("conv3dense1", weights=True).SerializeToString())
    large = runner.load(build_model("squeezenet1_1", weights=True, input_size=(96, 96)).SerializeToString())
    harness = Harness(rounds=5, round_s=0.02, warmup_s=0.02)
    t_small, t_large = harness.measure(small.run), harness.measure(large.run)
    assert 0 < t_small.median_ms < t_large.median_ms     # 1.1 M MACs against 64 M
    assert t_large.spread < 1.0


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
