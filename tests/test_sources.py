"""Power, temperature and clock sources against recorded device output (sysfs trees, tegrastats lines, vcgencmd)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import edgeperf
from edgeperf.measure import (
    ApexSource,
    ClockSource,
    CsvPowerReplay,
    Ina3221Source,
    NullSource,
    NvmlSource,
    RaplSource,
    ThermalZoneSource,
    VcgencmdSource,
    decode_throttled,
    discover_sources,
    integrate_mj,
    parse_tegrastats,
    parse_vcgencmd,
)

TREES = Path("tests/recorded/sysfs")
LINES = Path("tests/recorded/tegrastats.txt").read_text().splitlines()


def test_ina3221_jetpack4_iio_layout_uses_the_input_rail_as_total():
    reading = Ina3221Source(TREES / "jetson-nano-jp4", clock=lambda: 1.0).read()
    assert dict(reading.power_mw) == {"POM_5V_IN": 933.0, "POM_5V_GPU": 0.0, "POM_5V_CPU": 84.0}
    assert reading.total_mw == 933.0            # GPU and CPU are sub-rails of the input: never summed


def test_ina3221_jetpack5_hwmon_layout_multiplies_volts_and_amps():
    source = Ina3221Source(TREES / "orin-nano-jp6")
    reading = source.read()
    assert set(reading.power_mw) == {"VDD_IN", "VDD_CPU_GPU_CV", "VDD_SOC"}     # channel 7 (sum) skipped
    assert reading.power_mw["VDD_IN"] == pytest.approx(5000 * 1053 / 1000)     # mV x mA / 1000 = mW
    assert reading.total_mw == reading.power_mw["VDD_IN"]
    assert source.describe()["layout"] == ["hwmon (JetPack >= 5)"]


def test_ina3221_board_without_input_rail_sums_all_rails():
    reading = Ina3221Source(TREES / "xavier-jp4").read()
    assert reading.total_mw == 1155 + 385 + 2502 + 0 + 192 + 2692


def test_ina3221_missing_tree_is_a_clear_error(tmp_path):
    with pytest.raises(edgeperf.InputError, match="no INA3221 rails"):
        Ina3221Source(tmp_path)


@pytest.mark.parametrize("index, rails, total, temps, freqs", [
    (0, {"POM_5V_IN": 933, "POM_5V_GPU": 0, "POM_5V_CPU": 84}, 933,
     {"PLL": 20.5, "CPU": 23.5, "PMIC": 100, "GPU": 22.5, "AO": 27.5, "thermal": 23},
     {"emc": 204, "gpu": 76, "cpu0": 102, "cpu1": 102}),
    (1, {"VDD_IN": 1383, "VDD_CPU": 153, "VDD_GPU": 76, "VDD_SOC": 384, "VDD_WIFI": 364, "VDD_DDR": 192}, 1383,
     {}, {"cpu0": 729, "cpu1": 729}),
    (2, {"VDD_GPU_SOC": 2390, "VDD_CPU_CV": 796, "VIN_SYS_5V0": 3522, "VDDQ_VDD2_1V8AO": 301},
     2390 + 796 + 3522 + 301, {"tj": 41.656}, {"emc": 204, "gpu": 0, "gpu2": 0}),
    (3, {"VDD_IN": 5263, "VDD_CPU_GPU_CV": 717, "VDD_SOC": 1794}, 5263,
     {"cpu": 44.156, "soc2": 43.781, "soc0": 44.687, "gpu": 45.968, "tj": 45.968, "soc1": 45.312},
     {"emc": 2133, "gpu": 306, "cpu0": 729}),
    (4, {"VDD_GPU_SOC": 5139, "VDD_CPU_CV": 3268, "VIN_SYS_5V0": 5500}, 5139 + 3268 + 5500,
     {"cpu": 52.968}, {"emc": 3199, "gpu": 1300}),       # JetPack 7: three-valued rails, tj offline (-256)
])
def test_tegrastats_lines_of_five_jetpack_generations(index, rails, total, temps, freqs):
    reading = parse_tegrastats(LINES[index])
    assert dict(reading.power_mw) == rails
    assert reading.total_mw == total
    assert dict(reading.temp_c) == temps
    assert dict(reading.freq_mhz) == freqs


def test_tegrastats_rejects_other_text():
    with pytest.raises(edgeperf.InputError, match="not a tegrastats line"):
        parse_tegrastats("hello world")


def test_rapl_wraps_around_and_reports_power(tmp_path):
    tree = tmp_path / "rapl"
    shutil.copytree(TREES / "x86-rapl", tree)
    counter = tree / "sys/class/powercap/intel-rapl:0/energy_uj"
    times = iter([0.0, 0.5, 1.0])
    source = RaplSource(tree, clock=lambda: next(times))
    source.read()
    counter.write_text("1000000\n")                # wrapped: 262143328850 - 262143000000 + 1000000 uJ later
    second = source.read()
    assert second.energy_mj == pytest.approx((262_143_328_850 - 262_143_000_000 + 1_000_000) / 1000)
    assert second.total_mw == pytest.approx(1_328_850 / 1000 / 0.5)            # uJ/1000 = mJ over 0.5 s = mW
    counter.write_text("3000000\n")
    assert source.read().total_mw == pytest.approx(2_000_000 / 1000 / 0.5)
    assert source.describe()["zones"] == ["package-0"]


class RecordedNvml:
    """Replays values a Volta GPU returned (power mW, energy counter mJ, temperature, clocks)."""

    NVML_TEMPERATURE_GPU, NVML_CLOCK_SM, NVML_CLOCK_MEM = 0, 1, 2

    def __init__(self, energy_supported=True):
        self.energy = iter([1_000_000, 1_004_500])
        self.energy_supported = energy_supported

    def nvmlDeviceGetHandleByIndex(self, index):
        return ("gpu", index)

    def nvmlDeviceGetPowerUsage(self, handle):
        return 45_123

    def nvmlDeviceGetTotalEnergyConsumption(self, handle):
        if not self.energy_supported:
            raise RuntimeError("NVMLError_NotSupported")
        return next(self.energy)

    def nvmlDeviceGetTemperature(self, handle, sensor):
        return 51

    def nvmlDeviceGetClockInfo(self, handle, kind):
        return {1: 1530, 2: 877}[kind]


def test_nvml_source_with_recorded_values():
    source = NvmlSource(RecordedNvml())
    first, second = source.read(), source.read()
    assert first.total_mw == 45_123 and dict(first.temp_c) == {"gpu": 51.0}
    assert dict(first.freq_mhz) == {"gpu": 1530.0, "mem": 877.0}
    assert second.energy_mj - first.energy_mj == 4500
    assert NvmlSource(RecordedNvml(energy_supported=False)).read().energy_mj is None


VCGENCMD = {
    ("measure_temp",): "temp=55.8'C\n",
    ("measure_clock", "arm"): "frequency(48)=1500398464\n",
    ("get_throttled",): "throttled=0x50000\n",
    ("measure_volts",): "volt=0.8375V\n",
    ("pmic_read_adc",): "   VDD_CORE_A current(7)=2.34000000A\n   VDD_CORE_V volt(15)=0.88000000V\n"
                        "   EXT5V_V volt(24)=5.12000000V\n",
}


def test_vcgencmd_recorded_output():
    source = VcgencmdSource(run=lambda args: VCGENCMD[tuple(args)], pmic=True)
    reading = source.read()
    assert dict(reading.temp_c) == {"soc": 55.8}
    assert reading.freq_mhz["arm"] == pytest.approx(1500.398464)
    assert reading.flags == ("under-voltage-occurred", "throttled-occurred")
    assert reading.power_mw["VDD_CORE"] == pytest.approx(2.34 * 0.88 * 1000)
    assert "EXT5V" not in reading.power_mw                  # a voltage without a current is not power
    assert parse_vcgencmd(VCGENCMD[("measure_volts",)]) == {"volt_v": 0.8375}
    assert decode_throttled(0x7) == ("under-voltage", "arm-frequency-capped", "throttled")
    with pytest.raises(edgeperf.InputError, match="unrecognised vcgencmd output"):
        parse_vcgencmd("error=1 error_msg=\"Command not registered\"")


def test_apex_thermal_zones_and_clocks():
    apex = ApexSource(TREES / "coral-pcie")
    assert dict(apex.read().temp_c) == {"tpu": 91.1}
    assert apex.trip_points_c() == (84.8, 89.8, 94.8)
    zones = ThermalZoneSource(TREES / "jetson-nano-jp4")
    assert dict(zones.read().temp_c) == {"CPU-therm": 23.5}       # PMIC-Die reads -256: offline, dropped
    assert zones.trip_points() == {"CPU-therm": [(95.5, "passive")]}
    clocks = ClockSource(TREES / "jetson-nano-jp4").read()
    assert dict(clocks.freq_mhz) == {"cpu:policy0": 1479.0, "devfreq:57000000.gpu": 921.6}


def test_csv_replay_integrates_windows(tmp_path):
    trace = tmp_path / "meter.csv"
    trace.write_text("time_s,power_w\n0,1.0\n1,1.0\n2,3.0\n3,3.0\n")
    meter = CsvPowerReplay(trace)
    assert meter.energy_mj(0.0, 2.0) == pytest.approx(1000 + 2000)       # trapezoids: 1 W x 1 s + 2 W x 1 s
    assert meter.energy_mj(0.5, 1.5) == pytest.approx(1000 * 0.5 + (1000 + 2000) / 2 * 0.5)
    with pytest.raises(edgeperf.InputError, match="outside the power trace"):
        meter.energy_mj(2.5, 9.0)
    trace.write_text("time_s,voltage_v,current_a\n0,5.0,0.2\n1,5.0,0.4\n")
    assert CsvPowerReplay(trace).energy_mj(0.0, 1.0) == pytest.approx((1000 + 2000) / 2)
    trace.write_text("time_s,watts\n0,1\n1,2\n")
    with pytest.raises(edgeperf.InputError, match="needs time_s and power_mw"):
        CsvPowerReplay(trace)
    trace.write_text("time_s,power_mw\n0,1000\n0,2000\n")
    with pytest.raises(edgeperf.InputError, match="increase strictly"):
        CsvPowerReplay(trace)


def test_integrate_and_discovery():
    assert integrate_mj([0, 2], [500, 500]) == 1000.0
    names = {type(s).__name__ for s in discover_sources(TREES / "jetson-nano-jp4")}
    assert names == {"Ina3221Source", "ThermalZoneSource", "ClockSource"}
    assert [type(s).__name__ for s in discover_sources(TREES / "nothing-here")] == ["NullSource"]
    assert NullSource().describe()["power"] is False


def test_power_in_watts_under_a_milliwatt_header_is_refused(tmp_path):
    trace = tmp_path / "meter.csv"
    trace.write_text("time_s,power_mw\n0,4.5\n1,4.7\n")
    with pytest.raises(edgeperf.InputError, match="looks like watts"):
        CsvPowerReplay(trace)
