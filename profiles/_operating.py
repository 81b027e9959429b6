"""Operating models: how a board behaves at a clock setting and a batch (``data/operating/boards.json``).

A profile names its board's entry with ``"operating_model": NAME``; the entry gives

* the SoC's voltage against clock per clock domain (``socs``), each table citing the source it was
  computed from (L4T kernel CVB tables) or saying that it is an assumption;
* the power of each rail: the board's floor, the EMC, the GPU rail (leakage and dynamic power at
  its reference clock and voltage, derived from the board's busy power), one busy CPU core and the
  CPU rail's leakage, the DRAM energy per byte;
* the CPU-side work of an inference: CPU time per kernel launch and serial pre/post-processing
  per item, at the CPU's reference clock (``cpu_speed`` relative to the Nano's Cortex-A57);
* the GPU's occupancy against batch (lanes, outputs per lane for half occupancy) and how much
  of a kernel's shorter roofline part stays exposed;
* ``latency_at_reference``: ``"board-model"`` where the profile's latency model was fitted to (or
  derived from) measured whole-network latencies at the reference clocks and batch 1, which already
  hold the CPU-side work and the GPU's under-filling there: the operating model then adds only how
  they change with the clocks and the batch (``anchored``); ``"added"`` where the latency model is
  an unfitted roofline, to which the operating model adds them whole.

The engine (``estimator/_engine.py``) evaluates it; this module only reads and validates. An
entry may name a ``base`` entry and override some of its numbers (a runtime on the same board).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType

import numpy as np

from .._errors import ProfileError
from .._json import loads_finite
from .._messages import show
from .._numbers import number_problem

__all__ = ["OperatingModel", "operating_models", "NUMBER_KEYS"]

_PATH = Path(__file__).resolve().parent / "data" / "operating" / "boards.json"

#: The numbers of a board entry, with their bounds.
NUMBER_KEYS: dict[str, tuple[float, float]] = {
    "floor_mw": (0.0, 1e6), "busy_mw": (0.0, 1e6), "emc_mw": (0.0, 1e6), "gpu_leak_share": (0.0, 1.0),
    "cpu_core_mw": (0.0, 1e6), "cpu_leak_mw": (0.0, 1e6), "leak_v0_mv": (1.0, 1e9),
    "activity_memory_bound": (0.0, 1.0), "activity_idle": (0.0, 1.0), "dram_pj_per_byte": (0.0, 1e6),
    "overlap_exposed": (0.0, 1.0), "occupancy_per_lane": (0.0, 1e6), "gpu_lanes": (1.0, 1e9),
    "cpu_speed": (1e-3, 1e3), "dispatch_us": (0.0, 1e6), "pre_post_ms": (0.0, 1e6),
}


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class OperatingModel:
    """One board's operating model (units in the names; see the module docstring and docs/how-estimates-work.md).

    ``voltage_mv`` maps a clock domain to ``(mhz, mv)`` tuples; ``citations`` maps each number's key
    (and ``voltage_mv.DOMAIN``) to ``(source key, note)``; ``sources`` are the data file's texts.
    ``gpu_leak_mw`` and ``gpu_dyn_mw`` are derived: the GPU rail is what the busy power leaves after
    the floor, the EMC, one CPU core and the CPU leakage, split by ``gpu_leak_share``.
    """

    name: str
    soc: str
    cpu_domain: str
    voltage_mv: MappingProxyType
    floor_mw: float
    busy_mw: float
    emc_mw: float
    gpu_leak_share: float
    cpu_core_mw: float
    cpu_leak_mw: float
    leak_v0_mv: float
    activity_memory_bound: float
    activity_idle: float
    dram_pj_per_byte: float
    overlap_exposed: float
    occupancy_per_lane: float
    gpu_lanes: float
    cpu_speed: float
    dispatch_us: float
    pre_post_ms: float
    anchored: bool
    citations: MappingProxyType
    sources: MappingProxyType

    @property
    def latency_at_reference(self) -> str:
        """``"board-model"`` when ``anchored`` (the board model holds the reference latency), else ``"added"``."""
        return "board-model" if self.anchored else "added"

    @property
    def gpu_rail_mw(self) -> float:
        return self.busy_mw - self.floor_mw - self.emc_mw - self.cpu_core_mw - self.cpu_leak_mw

    @property
    def gpu_leak_mw(self) -> float:
        return self.gpu_leak_share * self.gpu_rail_mw

    @property
    def gpu_dyn_mw(self) -> float:
        return self.gpu_rail_mw - self.gpu_leak_mw

    def voltage(self, domain: str, freq_mhz):
        """Voltage (mV) of ``domain`` at ``freq_mhz`` (interpolated between steps), or None without a table."""
        table = self.voltage_mv.get(domain)
        if table is None:
            return None
        return np.interp(np.asarray(freq_mhz, dtype=float), table[0], table[1])

    def assumptions(self) -> list[tuple[str, object, str]]:
        """``(key, value, note)`` of every number that is an assumption or a fit (its source says so)."""
        out = []
        for key, (source, note) in self.citations.items():
            if source.startswith(("assumed", "fitted")):
                value = getattr(self, key, None) if not key.startswith("voltage_mv.") else "table"
                out.append((key, value, f"{source}: {note or self.sources.get(source, '')}"))
        return out


def operating_models() -> dict[str, OperatingModel]:
    """The shipped operating models by name, validated; read once."""
    return dict(_models())


@lru_cache(maxsize=1)
def _models() -> tuple:
    where = f"{_PATH.name}"
    document = loads_finite(_PATH.read_text(encoding="utf-8"))
    sources = document.get("sources") or {}
    socs = document.get("socs") or {}
    boards = document.get("boards") or {}
    out = []
    for name in boards:
        out.append((name, _board(name, boards, socs, sources, where)))
    return tuple(out)


def _merged(name: str, boards: dict, where: str, seen=()) -> dict:
    entry = boards.get(name)
    if not isinstance(entry, dict):
        raise ProfileError(f"{where}: no operating model {show(name)}; known: {sorted(boards)}")
    if name in seen:
        raise ProfileError(f"{where}: operating model {show(name)} names itself as a base")
    if "base" not in entry:
        return {**entry, "numbers": dict(entry.get("numbers") or {})}
    base = _merged(entry["base"], boards, where, seen + (name,))
    return {**base, **{k: v for k, v in entry.items() if k != "numbers"},
            "numbers": {**base["numbers"], **(entry.get("numbers") or {})}}


def _board(name: str, boards: dict, socs: dict, sources: dict, where: str) -> OperatingModel:
    entry = _merged(name, boards, where)
    at = f"{where}: boards.{name}"
    soc = entry.get("soc")
    if soc not in socs:
        raise ProfileError(f"{at}.soc {show(soc)} is not among the socs {sorted(socs)}")
    citations: dict[str, tuple[str, str | None]] = {}
    values = {}
    numbers = entry["numbers"]
    missing = sorted(set(NUMBER_KEYS) - set(numbers))
    if missing or set(numbers) - set(NUMBER_KEYS):
        raise ProfileError(f"{at}.numbers: missing {missing}, unknown {sorted(set(numbers) - set(NUMBER_KEYS))}")
    for key, (low, high) in NUMBER_KEYS.items():
        item = numbers[key]
        value, problem = number_problem(item.get("value") if isinstance(item, dict) else None, low=low, high=high)
        if problem is not None or item.get("source") not in sources:
            raise ProfileError(f"{at}.numbers.{key} must be {{value in [{low}, {high}], source: a key of sources}}"
                               f"{': ' + problem if problem else ''}")
        values[key] = float(value)
        citations[key] = (item["source"], item.get("note"))
    anchored = _anchored(entry.get("latency_at_reference"), sources, at)
    citations["latency_at_reference"] = (entry["latency_at_reference"]["source"],
                                         entry["latency_at_reference"].get("note"))
    voltages = {}
    for domain, table in (socs[soc].get("voltage_mv") or {}).items():
        mhz, mv = tuple(float(f) for f in table["mhz"]), tuple(float(v) for v in table["mv"])
        if len(mhz) != len(mv) or len(mhz) < 1 or any(b <= a for a, b in zip(mhz, mhz[1:])) or \
                not all(0 < v < 5000 and math.isfinite(v) for v in mv) or table.get("source") not in sources:
            raise ProfileError(f"{where}: socs.{soc}.voltage_mv.{domain} needs increasing mhz, one mv (0-5000) per "
                               "step and a source")
        voltages[domain] = (mhz, mv)
        citations[f"voltage_mv.{domain}"] = (table["source"], table.get("note"))
    model = OperatingModel(name=name, soc=soc, cpu_domain=str(entry.get("cpu_domain", "cpu")),
                           voltage_mv=MappingProxyType(voltages), anchored=anchored, citations=MappingProxyType(citations),
                           sources=MappingProxyType(dict(sources)), **values)
    if model.gpu_rail_mw <= 0:
        raise ProfileError(f"{at}: busy_mw {model.busy_mw:g} leaves nothing for the GPU rail after the floor, EMC "
                           "and CPU")
    return model


#: ``latency_at_reference`` values, and whether each anchors the operating model to the board model.
REFERENCE_LATENCY = {"board-model": True, "added": False}


def _anchored(item, sources: dict, at: str) -> bool:
    """Whether ``latency_at_reference`` (``{value, source, note}``) says the board model holds the reference latency."""
    if not isinstance(item, dict) or item.get("value") not in REFERENCE_LATENCY or item.get("source") not in sources:
        raise ProfileError(f"{at}.latency_at_reference must be {{value: one of {sorted(REFERENCE_LATENCY)}, "
                           "source: a key of sources}")
    return REFERENCE_LATENCY[item["value"]]


def operating_model(name: str, where: str) -> OperatingModel:
    """The shipped operating model ``name``.

    Raises
    ------
    ProfileError
        Naming the known models when ``name`` is not one.
    """
    models = operating_models()
    if name not in models:
        raise ProfileError(f"{where}: operating_model {show(name)} is not a shipped operating model; known: "
                           f"{sorted(models)}")
    return models[name]
