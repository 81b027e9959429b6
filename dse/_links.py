"""Network links between an edge device and a server: transfer time and radio energy per payload.

Two kinds of link, both data in ``data/links.json`` (every number with its source):

``rate``
    A throughput link (Wi-Fi, LTE, Ethernet, BLE, NB-IoT): ``t = 8 B / R`` and
    transmit power ``P = alpha * R + beta`` (Huang et al.'s linear model; alpha 0
    for radios given as a fixed transmit power), energy ``P t``.
``lora``
    LoRa time on air per Semtech AN1200.13, payloads split into packets of at
    most ``max_payload_bytes``, each packet followed by the off time the duty
    cycle imposes (not after the last); energy is transmit power times air time.

All functions are vectorised over payload sizes in bytes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from importlib import resources

import numpy as np

from .._errors import InputError
from .._json import loads_finite
from .._messages import show

__all__ = ["Link", "shipped_links", "make_link", "lora_time_on_air_s"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Link:
    """One link model; see the module docstring for the two kinds."""

    name: str
    kind: str
    uplink_mbps: float = 0.0
    power_alpha_mw_per_mbps: float = 0.0
    power_beta_mw: float = 0.0
    header_bytes: float = 0.0
    spreading_factor: int = 7
    bandwidth_khz: float = 125.0
    coding_rate: int = 1
    preamble_symbols: int = 8
    max_payload_bytes: int = 222
    duty_cycle: float = 1.0
    tx_power_mw: float = 0.0
    sources: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in ("rate", "lora"):
            raise InputError(f"link {show(self.name)}: kind must be 'rate' or 'lora', got {show(self.kind)}")
        if self.kind == "rate" and not self.uplink_mbps > 0:
            raise InputError(f"link {show(self.name)}: uplink_mbps must be > 0, got {self.uplink_mbps}")
        if self.kind == "lora":
            if not 6 <= self.spreading_factor <= 12:
                raise InputError(f"link {show(self.name)}: spreading_factor must be 6..12, got {self.spreading_factor}")
            if not 0 < self.duty_cycle <= 1:
                raise InputError(f"link {show(self.name)}: duty_cycle must be in (0, 1], got {self.duty_cycle}")
            if not 1 <= self.max_payload_bytes <= 255:
                raise InputError(f"link {show(self.name)}: max_payload_bytes must be 1..255, got {self.max_payload_bytes}")

    def fields(self) -> dict:
        """``kind`` and the fields of this kind, as :func:`make_link` accepts them (to derive a link from it)."""
        return {"kind": self.kind, **{name: getattr(self, name) for name in _FIELDS[self.kind]}}

    def transfer(self, payload_bytes) -> tuple[np.ndarray, np.ndarray]:
        """Time (ms) and transmit energy (mJ) to send each payload (bytes, array-like)."""
        payload = np.asarray(payload_bytes, dtype=float)
        if self.kind == "rate":
            seconds = 8.0 * (payload + self.header_bytes) / (self.uplink_mbps * 1e6)
            power_mw = self.power_alpha_mw_per_mbps * self.uplink_mbps + self.power_beta_mw
            return seconds * 1000.0, power_mw * seconds
        full, rest = np.divmod(np.ceil(payload), self.max_payload_bytes)
        per_full = lora_time_on_air_s(self.max_payload_bytes, self.spreading_factor, self.bandwidth_khz,
                                      self.coding_rate, self.preamble_symbols)
        last = np.where(rest > 0, lora_time_on_air_s(rest, self.spreading_factor, self.bandwidth_khz,
                                                     self.coding_rate, self.preamble_symbols), 0.0)
        air = full * per_full + last
        last_packet = np.where(rest > 0, last, np.where(full > 0, per_full, 0.0))
        off = (air - last_packet) * (1.0 / self.duty_cycle - 1.0)
        return (air + off) * 1000.0, self.tx_power_mw * air


def lora_time_on_air_s(payload_bytes, sf: int, bandwidth_khz: float, coding_rate: int = 1, preamble: int = 8,
                       explicit_header: bool = True, crc: bool = True) -> np.ndarray:
    """LoRa time on air (s) of one packet, Semtech AN1200.13.

    >>> round(float(lora_time_on_air_s(10, 7, 125.0)), 6)   # 10 bytes, SF7/125 kHz, CR 4/5
    0.041216
    """
    payload = np.asarray(payload_bytes, dtype=float)
    t_sym = 2.0 ** sf / (bandwidth_khz * 1000.0)
    low_rate = 1 if t_sym > 0.016 else 0
    header = 0 if explicit_header else 1
    numerator = 8 * payload - 4 * sf + 28 + 16 * int(crc) - 20 * header
    symbols = 8 + np.maximum(np.ceil(numerator / (4 * (sf - 2 * low_rate))) * (coding_rate + 4), 0)
    return (preamble + 4.25) * t_sym + symbols * t_sym


_FIELDS = {"rate": ("uplink_mbps", "power_alpha_mw_per_mbps", "power_beta_mw", "header_bytes"),
           "lora": ("spreading_factor", "bandwidth_khz", "coding_rate", "preamble_symbols", "max_payload_bytes",
                    "duty_cycle", "tx_power_mw")}
_INTEGER = {"spreading_factor", "coding_rate", "preamble_symbols", "max_payload_bytes"}


def make_link(name: str, spec: dict, where: str) -> Link:
    """Build a link from a plain mapping of numbers (a spec) or of ``{value, source}`` entries (shipped data).

    Raises
    ------
    InputError
        Naming ``where`` and the field for a missing, unknown or bad value.
    """
    if not isinstance(spec, dict):
        raise InputError(f"{where}: a link must be a mapping with 'kind' and its fields")
    kind = spec.get("kind")
    if kind not in _FIELDS:
        raise InputError(f"{where}.kind: must be 'rate' or 'lora', got {show(kind)}")
    unknown = set(spec) - set(_FIELDS[kind]) - {"kind", "base"}
    if unknown:
        raise InputError(f"{where}: unknown field(s) {show(sorted(unknown))} for a {kind} link; "
                         f"allowed: {', '.join(_FIELDS[kind])}")
    values, sources = {}, []
    for field in _FIELDS[kind]:
        if field not in spec:
            continue
        entry = spec[field]
        value = entry.get("value") if isinstance(entry, dict) else entry
        if isinstance(entry, dict):
            sources.append(entry.get("source", ""))
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise InputError(f"{where}.{field}: must be a finite number >= 0, got {show(value)}")
        values[field] = int(value) if field in _INTEGER else float(value)
    return Link(name=name, kind=kind, sources=tuple(dict.fromkeys(s for s in sources if s)), **values)


def shipped_links() -> dict[str, Link]:
    """The shipped link models by name (``wifi``, ``lte``, ``ethernet``, ``ble``, ``nbiot``, ``lora-sf7``, ``lora-sf12``)."""
    text = resources.files("edgeperf.dse").joinpath("data/links.json").read_text(encoding="utf-8")
    document = loads_finite(text)
    return {name: make_link(name, spec, f"links.json: {name}") for name, spec in document["links"].items()}


def link_sources() -> dict[str, str]:
    """Citation of every source key used by the shipped links."""
    text = resources.files("edgeperf.dse").joinpath("data/links.json").read_text(encoding="utf-8")
    return dict(loads_finite(text)["sources"])
