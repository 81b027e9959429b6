"""Power, temperature and clock sources behind one interface, read from sysfs, tools or files.

Every source answers :meth:`read` with a :class:`Reading` (rails in mW, zones in degrees C,
clock domains in MHz, all optional), and says what it is in :meth:`describe`. Sources never
guess: a value that cannot be read is absent, never 0. Formats follow
``shared/notes/energy_dse.md`` section 1; every parser is tested against recorded device output
(``tests/recorded/``).

=====================  =======================================================================
source                 reads
=====================  =======================================================================
``ina3221``            Jetson rails: JetPack <= 4 ``ina3221x`` iio layout (``rail_name_i``,
                       ``in_power<i>_input`` mW) and JetPack >= 5 ``ina3221`` hwmon layout
                       (``in<i>_label``, ``in<i>_input`` mV x ``curr<i>_input`` mA); the module
                       input rail (``POM_5V_IN``/``VDD_IN``) is the total, else the sum
``tegrastats``         one ``tegrastats`` line: rails (instant values), temperatures, GPU/EMC/CPU clocks
``rapl``               Intel/AMD RAPL ``energy_uj`` counters per package, wrap-around safe
``nvml``               NVIDIA GPUs through an ``pynvml``-like module: power, energy counter, temperature, clocks
``vcgencmd``           Raspberry Pi: temperature, ARM clock, core voltage, throttled flags, Pi 5 PMIC rails
``apex``               Coral PCIe/M.2 Edge TPU: ``/sys/class/apex/apex_N/temp`` and trip points
``thermal``            Linux thermal zones: ``temp`` (m°C), trip points
``cpufreq``            ``cpufreq`` (kHz) and ``devfreq`` (Hz) current clocks
``csv``                an external power analyzer's export replayed by time
``none``               nothing: energy is not calibrated
=====================  =======================================================================
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Callable, Iterable

import numpy as np

from .._errors import InputError
from .._messages import show

__all__ = ["Reading", "NullSource", "Ina3221Source", "parse_tegrastats", "TegrastatsSource", "RaplSource",
           "rapl_delta_uj", "NvmlSource", "VcgencmdSource", "parse_vcgencmd", "decode_throttled", "ApexSource",
           "ThermalZoneSource", "ClockSource", "CsvPowerReplay", "integrate_mj", "discover_sources", "SOURCES", "open_power_source", "open_temperature",
           "OFFLINE_C"]

#: A power trace in mW whose largest value is below this was almost certainly written in watts.
_WATTS_LIKE_MW = 50.0

#: tegrastats and jtop report -256 for a sensor that is offline.
OFFLINE_C = -256.0


def _frozen(mapping: dict | None) -> MappingProxyType:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True, slots=True, kw_only=True)
class Reading:
    """One sample: rails (mW), temperatures (degrees C) and clocks (MHz); ``total_mw`` None when unknown."""

    time_s: float
    power_mw: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    total_mw: float | None = None
    temp_c: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    freq_mhz: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    energy_mj: float | None = None             # cumulative counter where the device has one
    flags: tuple[str, ...] = ()


def _text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="ascii", errors="replace").strip()
    except OSError:
        return None


def _number(path: Path) -> float | None:
    text = _text(path)
    if text is None:
        return None
    try:
        value = float(text.split()[0])
    except (ValueError, IndexError):
        return None
    return value if math.isfinite(value) else None


def _total(rails: dict) -> float | None:
    """jtop's rule: the module input rail is the total when present, else the sum of the rails."""
    for name in ("POM_5V_IN", "VDD_IN"):
        if name in rails:
            return rails[name]
    return float(sum(rails.values())) if rails else None


class NullSource:
    """No power, temperature or clock source: readings carry only the time."""

    name = "none"

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock = clock

    def read(self) -> Reading:
        return Reading(time_s=self.clock())

    def describe(self) -> dict:
        return {"source": self.name, "power": False, "note": "no power source: energy is not calibrated"}


class Ina3221Source:
    """Jetson INA3221 rails under ``root`` (``/`` on a board), both sysfs layouts, discovered by label."""

    name = "ina3221"

    def __init__(self, root="/", clock: Callable[[], float] = time.monotonic):
        self.root = Path(root)
        self.clock = clock
        self.channels = self._discover()
        if not self.channels:
            raise InputError(f"no INA3221 rails under {self.root}/sys/bus/i2c/drivers/ina3221x or ina3221")

    def _discover(self) -> list[tuple[str, str, tuple[Path, ...]]]:
        channels = []
        old = self.root / "sys/bus/i2c/drivers/ina3221x"
        for device in sorted(old.glob("*/iio:device*")):
            for label_file in sorted(device.glob("rail_name_*")):
                index = label_file.name.rsplit("_", 1)[1]
                label = _text(label_file)
                if label and "NC" not in label.split("_"):
                    channels.append((label, "power", (device / f"in_power{index}_input",)))
        new = self.root / "sys/bus/i2c/drivers/ina3221"
        for hwmon in sorted(new.glob("*/hwmon/hwmon*")):
            for label_file in sorted(hwmon.glob("in*_label")):
                index = label_file.name[2:-6]
                label = _text(label_file)
                if not label or index == "7" or label == "NC" or "sum" in label.lower():
                    continue
                channels.append((label, "vi", (hwmon / f"in{index}_input", hwmon / f"curr{index}_input")))
        return channels

    def read(self) -> Reading:
        rails = {}
        for label, kind, files in self.channels:
            if kind == "power":
                value = _number(files[0])
            else:
                volts, amps = _number(files[0]), _number(files[1])
                value = volts * amps / 1000.0 if volts is not None and amps is not None else None
            if value is not None:
                rails[label] = value
        return Reading(time_s=self.clock(), power_mw=_frozen(rails), total_mw=_total(rails))

    def describe(self) -> dict:
        return {"source": self.name, "power": True, "rails": [c[0] for c in self.channels],
                "layout": sorted({"iio (JetPack <= 4)" if c[1] == "power" else "hwmon (JetPack >= 5)"
                                  for c in self.channels})}


_RAIL = re.compile(r"\b([A-Za-z][A-Za-z0-9_]*) (\d+(?:\.\d+)?)(?:mW)?/(\d+(?:\.\d+)?)(?:mW)?(?:/\d+(?:\.\d+)?(?:mW)?)?\b")
_TEMP = re.compile(r"\b([A-Za-z][A-Za-z0-9_]*)@(-?\d+(?:\.\d+)?)C\b")
_FREQ = re.compile(r"\b(GR3D|GR3D2|EMC|APE)(?:_FREQ)? (?:(\d+)%)?@(?:\[([\d,]+)\]|(\d+))")
_CPU = re.compile(r"\bCPU \[([^\]]*)\]")
_SKIP_RAILS = {"RAM", "SWAP", "IRAM", "lfb", "cached"}


def parse_tegrastats(line: str, time_s: float = 0.0) -> Reading:
    """Parse one tegrastats line (JetPack 4 to 7 formats).

    Rails give their instantaneous value (the second number is a running
    average since tegrastats started and is ignored); ``-256`` temperatures
    are offline sensors and are dropped; ``GR3D_FREQ 40%@76`` and the array
    form ``@[306]`` give the GPU clock, ``EMC_FREQ`` the memory clock, and
    each online CPU core its clock.

    Raises
    ------
    InputError
        When the line holds neither rails nor temperatures (not tegrastats output).
    """
    if not isinstance(line, str) or len(line) > 100_000:
        raise InputError("a tegrastats line must be text of at most 100000 characters")
    rails = {}
    for name, instant, _average in _RAIL.findall(line):
        if name not in _SKIP_RAILS and not name.startswith("SWAP") and name != "NC":
            rails[name] = float(instant)
    temps = {name: float(value) for name, value in _TEMP.findall(line) if float(value) != OFFLINE_C}
    freqs = {}
    for unit, _load, array, single in _FREQ.findall(line):
        values = [float(v) for v in array.split(",") if v] if array else [float(single)]
        if values:
            freqs[{"GR3D": "gpu", "GR3D2": "gpu2", "EMC": "emc", "APE": "ape"}[unit]] = max(values)
    cpu = _CPU.search(line)
    if cpu:
        for i, core in enumerate(cpu.group(1).split(",")):
            if "@" in core:
                try:
                    freqs[f"cpu{i}"] = float(core.split("@", 1)[1])
                except ValueError:
                    continue
    if not rails and not temps:
        raise InputError(f"not a tegrastats line (no rails or temperatures): {show(line[:80])}")
    return Reading(time_s=time_s, power_mw=_frozen(rails), total_mw=_total(rails), temp_c=_frozen(temps),
                   freq_mhz=_frozen(freqs))


class TegrastatsSource:
    """Readings from tegrastats lines: a recorded log, or a running ``tegrastats --interval MS`` process."""

    name = "tegrastats"

    def __init__(self, lines: Iterable[str], clock: Callable[[], float] = time.monotonic):
        self.lines = iter(lines)
        self.clock = clock

    def read(self) -> Reading:
        for line in self.lines:
            if line.strip():
                return parse_tegrastats(line, self.clock())
        raise InputError("tegrastats produced no more lines")

    def describe(self) -> dict:
        return {"source": self.name, "power": True}


def rapl_delta_uj(before: float, after: float, max_range_uj: float) -> float:
    """Energy between two ``energy_uj`` reads, allowing one wrap of the counter.

    >>> rapl_delta_uj(262_143_000_000, 1_000_000, 262_143_328_850)
    1328850.0
    """
    return float(after - before if after >= before else after + max_range_uj - before)


class RaplSource:
    """Package energy from Linux powercap (``/sys/class/powercap/intel-rapl:N``); reading usually needs root."""

    name = "rapl"

    def __init__(self, root="/", clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        base = Path(root) / "sys/class/powercap"
        self.zones = []
        for zone in sorted(base.glob("intel-rapl:*")):
            name = _text(zone / "name") or ""
            if zone.name.count(":") == 1 and name.startswith("package"):
                self.zones.append((name, zone / "energy_uj", _number(zone / "max_energy_range_uj") or 2.0 ** 32))
        if not self.zones:
            raise InputError(f"no RAPL package zones under {base}")
        self.last = {name: None for name, _, _ in self.zones}
        self.energy_uj = {name: 0.0 for name, _, _ in self.zones}
        self.last_time = None

    def read(self) -> Reading:
        now = self.clock()
        power = {}
        for name, path, max_range in self.zones:
            value = _number(path)
            if value is None:
                raise InputError(f"{path}: cannot read (RAPL energy counters are root-only on most systems)")
            if self.last[name] is not None:
                delta = rapl_delta_uj(self.last[name], value, max_range)
                self.energy_uj[name] += delta
                if self.last_time is not None and now > self.last_time:
                    power[name] = delta / 1000.0 / (now - self.last_time)     # mJ / s = mW
            self.last[name] = value
        self.last_time = now
        return Reading(time_s=now, power_mw=_frozen(power), total_mw=sum(power.values()) if power else None,
                       energy_mj=sum(self.energy_uj.values()) / 1000.0)

    def describe(self) -> dict:
        return {"source": self.name, "power": True, "zones": [z[0] for z in self.zones]}


class NvmlSource:
    """An NVIDIA GPU through ``pynvml`` (or any module with its functions, e.g. a recorded replay)."""

    name = "nvml"

    def __init__(self, nvml=None, index: int = 0, clock: Callable[[], float] = time.monotonic):
        if nvml is None:
            try:
                import pynvml as nvml
            except ImportError:
                raise InputError("the nvml source needs nvidia-ml-py: pip install nvidia-ml-py") from None
            nvml.nvmlInit()
        self.nvml = nvml
        self.handle = nvml.nvmlDeviceGetHandleByIndex(index)
        self.clock = clock

    def read(self) -> Reading:
        nvml, handle = self.nvml, self.handle
        power = float(nvml.nvmlDeviceGetPowerUsage(handle))                        # mW
        try:
            energy = float(nvml.nvmlDeviceGetTotalEnergyConsumption(handle))        # mJ since driver load (Volta+)
        except Exception:  # NVMLError_NotSupported before Volta: no counter, power polling only
            energy = None
        temp = float(nvml.nvmlDeviceGetTemperature(handle, getattr(nvml, "NVML_TEMPERATURE_GPU", 0)))
        freqs = {"gpu": float(nvml.nvmlDeviceGetClockInfo(handle, getattr(nvml, "NVML_CLOCK_SM", 1))),
                 "mem": float(nvml.nvmlDeviceGetClockInfo(handle, getattr(nvml, "NVML_CLOCK_MEM", 2)))}
        return Reading(time_s=self.clock(), power_mw=_frozen({"gpu": power}), total_mw=power,
                       temp_c=_frozen({"gpu": temp}), freq_mhz=_frozen(freqs), energy_mj=energy)

    def describe(self) -> dict:
        return {"source": self.name, "power": True}


_THROTTLE_BITS = {0: "under-voltage", 1: "arm-frequency-capped", 2: "throttled", 3: "soft-temperature-limit",
                  16: "under-voltage-occurred", 17: "arm-frequency-capped-occurred", 18: "throttled-occurred",
                  19: "soft-temperature-limit-occurred"}


def decode_throttled(value: int) -> tuple[str, ...]:
    """Names of the bits set in ``vcgencmd get_throttled``.

    >>> decode_throttled(0x50000)
    ('under-voltage-occurred', 'throttled-occurred')
    """
    return tuple(name for bit, name in sorted(_THROTTLE_BITS.items()) if value >> bit & 1)


_PMIC = re.compile(r"^\s*(\S+)_([AV])\s+(?:current|volt)\(\d+\)=([0-9.]+)[AV]\s*$")


def parse_vcgencmd(output: str) -> dict:
    """Parse the output of one vcgencmd query (``measure_temp``, ``measure_clock arm``, ``measure_volts``,
    ``get_throttled`` or ``pmic_read_adc``) into a dict of what it found.

    Raises
    ------
    InputError
        For output none of these formats matches.
    """
    text = output.strip()
    if match := re.fullmatch(r"temp=(-?[0-9.]+)'C", text):
        return {"temp_c": float(match.group(1))}
    if match := re.fullmatch(r"frequency\(\d+\)=(\d+)", text):
        return {"freq_mhz": int(match.group(1)) / 1e6}
    if match := re.fullmatch(r"volt=([0-9.]+)V", text):
        return {"volt_v": float(match.group(1))}
    if match := re.fullmatch(r"throttled=(0x[0-9a-fA-F]+)", text):
        return {"throttled": decode_throttled(int(match.group(1), 16))}
    rails: dict = {}
    for line in text.splitlines():
        if match := _PMIC.match(line):
            rails.setdefault(match.group(1), {})[match.group(2)] = float(match.group(3))
    if rails:
        power = {name: v["A"] * v["V"] * 1000.0 for name, v in rails.items() if "A" in v and "V" in v}
        return {"power_mw": power}
    raise InputError(f"unrecognised vcgencmd output: {show(text[:80])}")


class VcgencmdSource:
    """Raspberry Pi firmware queries through ``vcgencmd`` (``run`` is injectable for recorded output)."""

    name = "vcgencmd"

    def __init__(self, run: Callable[[list[str]], str] | None = None, clock: Callable[[], float] = time.monotonic,
                 pmic: bool = False):
        self.run = run or _run_vcgencmd
        self.clock = clock
        self.pmic = pmic

    def read(self) -> Reading:
        temp = parse_vcgencmd(self.run(["measure_temp"]))["temp_c"]
        freq = parse_vcgencmd(self.run(["measure_clock", "arm"]))["freq_mhz"]
        flags = parse_vcgencmd(self.run(["get_throttled"]))["throttled"]
        power = parse_vcgencmd(self.run(["pmic_read_adc"]))["power_mw"] if self.pmic else {}
        return Reading(time_s=self.clock(), power_mw=_frozen(power), total_mw=sum(power.values()) if power else None,
                       temp_c=_frozen({"soc": temp}), freq_mhz=_frozen({"arm": freq}), flags=flags)

    def describe(self) -> dict:
        return {"source": self.name, "power": self.pmic,
                "note": "Pi 5 PMIC rails are on-board power, not wall power" if self.pmic else
                "Pi 3/4 have no power ADC: add an external meter (csv source)"}


def _run_vcgencmd(args: list[str]) -> str:
    import subprocess

    try:
        return subprocess.run(["vcgencmd", *args], capture_output=True, text=True, timeout=5, check=True).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise InputError(f"vcgencmd {' '.join(args)} failed: {exc}") from None


class ApexSource:
    """Coral PCIe/M.2 Edge TPU temperature and trip points from ``/sys/class/apex/apex_N``."""

    name = "apex"

    def __init__(self, root="/", device: int = 0, clock: Callable[[], float] = time.monotonic):
        self.path = Path(root) / f"sys/class/apex/apex_{device}"
        if _number(self.path / "temp") is None:
            raise InputError(f"no Coral apex temperature at {self.path}/temp (USB accelerators have none)")
        self.clock = clock

    def trip_points_c(self) -> tuple[float, ...]:
        values = [_number(self.path / f"trip_point{i}_temp") for i in range(3)]
        return tuple(v / 1000.0 for v in values if v is not None)

    def read(self) -> Reading:
        value = _number(self.path / "temp")
        temps = {"tpu": value / 1000.0} if value is not None else {}
        return Reading(time_s=self.clock(), temp_c=_frozen(temps))

    def describe(self) -> dict:
        return {"source": self.name, "power": False, "trip_points_c": list(self.trip_points_c())}


class ThermalZoneSource:
    """Linux thermal zones (``/sys/class/thermal/thermal_zone*``): temperature and trip points by zone type."""

    name = "thermal"

    def __init__(self, root="/", clock: Callable[[], float] = time.monotonic):
        base = Path(root) / "sys/class/thermal"
        self.zones = [(zone, _text(zone / "type") or zone.name) for zone in sorted(base.glob("thermal_zone*"))]
        if not self.zones:
            raise InputError(f"no thermal zones under {base}")
        self.clock = clock

    def trip_points(self) -> dict:
        trips = {}
        for zone, name in self.zones:
            for temp_file in sorted(zone.glob("trip_point_*_temp")):
                value = _number(temp_file)
                kind = _text(temp_file.with_name(temp_file.name.replace("_temp", "_type"))) or "?"
                if value is not None:
                    trips.setdefault(name, []).append((value / 1000.0, kind))
        return trips

    def read(self) -> Reading:
        temps = {}
        for zone, name in self.zones:
            value = _number(zone / "temp")
            if value is not None and value / 1000.0 != OFFLINE_C:
                temps[name] = value / 1000.0
        return Reading(time_s=self.clock(), temp_c=_frozen(temps))

    def describe(self) -> dict:
        return {"source": self.name, "power": False, "zones": [name for _, name in self.zones],
                "trip_points_c": self.trip_points()}


class ClockSource:
    """Current clocks: cpufreq policies (kHz) and devfreq devices (Hz), in MHz."""

    name = "cpufreq"

    def __init__(self, root="/", clock: Callable[[], float] = time.monotonic):
        root = Path(root)
        self.files = [(f"cpu:{p.name}", p / "scaling_cur_freq", 1e3)
                      for p in sorted((root / "sys/devices/system/cpu/cpufreq").glob("policy*"))]
        self.files += [(f"devfreq:{d.name}", d / "cur_freq", 1e6) for d in sorted((root / "sys/class/devfreq").glob("*"))]
        if not self.files:
            raise InputError(f"no cpufreq policies or devfreq devices under {root}")
        self.clock = clock

    def read(self) -> Reading:
        freqs = {}
        for name, path, unit in self.files:
            value = _number(path)
            if value is not None:
                freqs[name] = value / unit
        return Reading(time_s=self.clock(), freq_mhz=_frozen(freqs))

    def describe(self) -> dict:
        return {"source": self.name, "power": False, "domains": [n for n, _, _ in self.files]}


class CsvPowerReplay:
    """An external power analyzer's CSV (``time_s`` and ``power_mw``, or ``power_w``, or ``voltage_v`` x ``current_a``).

    The meter's clock is aligned to the measurement's by ``offset_s``; :meth:`energy_mj` integrates
    any window by the trapezoid rule over the samples inside it (interpolated at its ends).
    """

    name = "csv"

    def __init__(self, path, offset_s: float = 0.0, clock: Callable[[], float] = time.monotonic):
        from ._trace import MAX_TRACE_BYTES, read_trace_csv

        from .._csvfile import open_csv

        with open_csv(path, "a power trace", limit=MAX_TRACE_BYTES) as stream:   # the header line only: the
            names = [h.strip() for h in stream.readline(65536).split(",")]        # trace is read by read_trace_csv
        if "power_mw" in names:
            columns = read_trace_csv(path, ("time_s", "power_mw"))
            power = columns["power_mw"]
        elif "power_w" in names:
            columns = read_trace_csv(path, ("time_s", "power_w"))
            power = columns["power_w"] * 1000.0
        elif "voltage_v" in names and "current_a" in names:
            columns = read_trace_csv(path, ("time_s", "voltage_v", "current_a"))
            power = columns["voltage_v"] * columns["current_a"] * 1000.0
        else:
            raise InputError(f"{path}: a power trace needs time_s and power_mw, power_w, or voltage_v and current_a")
        if "power_mw" in names and power.size and power.max() < _WATTS_LIKE_MW:
            raise InputError(f"{path}: power_mw values are at most {power.max():g}, which looks like watts; name the "
                             "column power_w (or give milliwatts)")
        times = columns["time_s"]
        if times.size < 2 or np.any(np.diff(times) <= 0):
            raise InputError(f"{path}: time_s must increase strictly over at least two samples")
        if np.any(power < 0):
            raise InputError(f"{path}: negative power (wrong units or sign convention?)")
        self.times, self.power = times - offset_s, power
        self.clock = clock

    def power_at(self, time_s: float) -> float:
        return float(np.interp(time_s, self.times, self.power))

    def read(self) -> Reading:
        now = self.clock()
        value = self.power_at(now)
        return Reading(time_s=now, power_mw=_frozen({"meter": value}), total_mw=value)

    def energy_mj(self, start_s: float, end_s: float) -> float:
        """Energy (mJ) over ``[start_s, end_s]`` in the measurement's clock."""
        if not self.times[0] <= start_s < end_s <= self.times[-1]:
            raise InputError(f"window {start_s:.3f}-{end_s:.3f} s is outside the power trace "
                             f"({self.times[0]:.3f}-{self.times[-1]:.3f} s): check offset_s")
        inside = (self.times > start_s) & (self.times < end_s)
        t = np.concatenate([[start_s], self.times[inside], [end_s]])
        p = np.concatenate([[self.power_at(start_s)], self.power[inside], [self.power_at(end_s)]])
        return integrate_mj(t, p)

    def describe(self) -> dict:
        return {"source": self.name, "power": True, "samples": int(self.times.size)}


def integrate_mj(time_s, power_mw) -> float:
    """Energy (mJ) of a power trace by the trapezoid rule (mW x s = mJ).

    >>> integrate_mj([0.0, 1.0, 2.0], [1000.0, 1000.0, 3000.0])
    3000.0
    """
    t = np.asarray(time_s, dtype=float)
    p = np.asarray(power_mw, dtype=float)
    return float(np.sum((p[1:] + p[:-1]) / 2.0 * np.diff(t)))


#: Source names and the classes behind them (the ``csv`` and ``tegrastats`` sources need input of their own).
SOURCES = {"none": NullSource, "ina3221": Ina3221Source, "tegrastats": TegrastatsSource, "rapl": RaplSource,
           "nvml": NvmlSource, "vcgencmd": VcgencmdSource, "apex": ApexSource, "thermal": ThermalZoneSource,
           "cpufreq": ClockSource, "csv": CsvPowerReplay}


def discover_sources(root="/") -> list:
    """Every source that works on this machine (root ``/``) or in a recorded tree; ``none`` when nothing does."""
    found = []
    for cls in (Ina3221Source, RaplSource, ApexSource, ThermalZoneSource, ClockSource):
        try:
            source = cls(root)
            if cls is RaplSource:
                source.read()
            found.append(source)
        except InputError:
            continue
    return found or [NullSource()]


def open_power_source(name: str, root="/"):
    """The power source called ``name`` on this machine (``auto``: the first discovered that measures power).

    Raises
    ------
    InputError
        For an unknown name or a source this machine lacks.
    """
    makers = {"none": NullSource, "ina3221": lambda: Ina3221Source(root), "rapl": lambda: RaplSource(root),
              "nvml": NvmlSource, "vcgencmd": lambda: VcgencmdSource(pmic=True)}
    if name == "auto":
        for source in discover_sources(root):
            if source.describe().get("power"):
                return source
        return NullSource()
    if name not in makers:
        raise InputError(f"--power {show(name)}: choose auto, {', '.join(makers)} (an external meter's CSV is "
                         "matched afterwards with the csv source)")
    return makers[name]()


def open_temperature(root="/") -> Callable[[], float]:
    """A callable returning the hottest thermal zone's temperature (degrees C).

    Raises
    ------
    InputError
        When the machine has no thermal zones (then --max-temp-c cannot be honoured).
    """
    zones = ThermalZoneSource(root)

    def hottest() -> float:
        temps = zones.read().temp_c
        return max(temps.values()) if temps else float("-inf")

    return hottest
