"""Platform profile: schema, validation and the frozen :class:`Profile` value.

A profile is versioned JSON (``schema_version`` 1, documented in
docs/profile-format.md). Every number is an object ``{"value": ..., "source":
KEY}`` whose KEY names an entry of the profile's ``sources``, so that each
figure says where it came from. Validation names the offending key path and
value; nothing is silently defaulted except documented optional fields.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import numpy as np

from .._errors import ProfileError
from .._json import loads_finite
from .._units import PRECISIONS
from ..estimator import OP_CLASSES, FusionRule, Mapping, NetworkTerm, validate_cost_params

__all__ = ["Profile", "ClockDomain", "PowerModel", "LayerModel", "ThermalModel", "ThrottleLevel", "FanLevel",
           "parse_profile",
           "read_profile_file", "SCHEMA_VERSION"]

SCHEMA_VERSION = 1
_KINDS = ("datasheet", "calibrated", "fitted")
_MAX_PROFILE_BYTES = 16 * 2**20
_TOP_KEYS = {
    "schema_version", "name", "title", "version", "kind", "quality", "sources", "runtime", "device",
    "precisions", "default_precision", "memory_bandwidth_gbps", "clocks", "power_modes",
    "default_power_mode", "power", "mapping", "layer_models", "unit_cost_eur", "memory_bytes", "provenance", "thermal",
    "inference_overhead_ms", "network_term",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class ClockDomain:
    """One clock domain: its reference clock, selectable steps and (if known) voltages."""

    name: str
    reference_mhz: float
    available_mhz: tuple[float, ...]
    voltage_v: tuple[float, ...] | None = None

    def voltage_at(self, freq_mhz: float) -> float | None:
        """Voltage at ``freq_mhz`` interpolated from the table, or None when unknown."""
        if self.voltage_v is None:
            return None
        return float(np.interp(freq_mhz, self.available_mhz, self.voltage_v))


@dataclass(frozen=True, slots=True, kw_only=True)
class PowerModel:
    """Board power: idle power plus per-operator-class dynamic power at reference clocks.

    ``active_mw`` maps an operator class (or ``default``) to the power drawn
    above idle while such a layer runs. ``calibrated`` is False when the figures
    are board averages from publications rather than per-layer measurements.
    """

    idle_mw: float
    active_mw: MappingProxyType
    calibrated: bool
    domain_mw: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))  # domain -> dynamic mW at reference

    def active_for(self, op_class: str) -> float:
        return float(self.active_mw.get(op_class, self.active_mw["default"]))

    @property
    def has_model(self) -> bool:
        """False when every power figure is 0: the profile knows nothing about energy."""
        return bool(self.idle_mw or any(self.active_mw.values()) or any(self.domain_mw.values()))


@dataclass(frozen=True, slots=True, kw_only=True)
class ThrottleLevel:
    """One trip point: above ``temp_c`` the throttled domain is capped at ``cap_mhz``."""

    temp_c: float
    cap_mhz: float


@dataclass(frozen=True, slots=True, kw_only=True)
class FanLevel:
    """Above ``temp_c`` the fan runs faster and the board's thermal resistance drops to ``resistance_c_per_w``."""

    temp_c: float
    resistance_c_per_w: float


@dataclass(frozen=True, slots=True, kw_only=True)
class ThermalModel:
    """Lumped RC thermal model of the board and its throttling policy.

    ``idle_c`` is the steady temperature at idle power and ``ambient_c`` the
    ambient it was observed at; the dynamic power above idle heats the die
    through ``resistance_c_per_w`` with time constant ``time_constant_s``. The
    policy is reactive: every ``poll_ms`` the governor caps ``domain`` at the
    level of the highest trip exceeded, and lifts a cap once the temperature is
    ``hysteresis_c`` below that trip.
    """

    ambient_c: float
    idle_c: float
    resistance_c_per_w: float
    time_constant_s: float
    poll_ms: float
    hysteresis_c: float
    domain: str
    levels: tuple[ThrottleLevel, ...]
    first_inference_ms: float = 0.0
    fan: tuple[FanLevel, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class LayerModel:
    """The cost model of one operator class: form name and validated parameters."""

    form: str
    params: MappingProxyType


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Profile:
    """A validated platform profile. Build it with :func:`parse_profile`."""

    name: str
    title: str
    version: str
    kind: str
    quality: str
    sources: MappingProxyType
    precisions: MappingProxyType          # precision -> peak GFLOP/s at reference clocks
    default_precision: str
    memory_bandwidth_gbps: float
    compute_domain: str
    memory_domain: str
    clocks: MappingProxyType              # domain -> ClockDomain
    power_modes: MappingProxyType         # mode -> {domain: cap MHz}
    default_power_mode: str | None
    power: PowerModel
    mapping: Mapping
    layer_models: MappingProxyType        # op class or "default" -> LayerModel
    unit_cost_eur: float | None
    memory_bytes: int | None
    runtime: MappingProxyType
    document: MappingProxyType            # the JSON as loaded, for display
    path: str
    thermal: ThermalModel | None = None
    inference_overhead_ms: float = 0.0     # per inference, outside every layer (runtime call, copies, sync)
    network_term: NetworkTerm | None = None   # the whole network's time as a function of its layer sum

    def layer_model(self, op_class: str) -> LayerModel:
        """The cost model for ``op_class`` (the ``default`` entry when it has none of its own)."""
        return self.layer_models.get(op_class, self.layer_models["default"])


class _Reader:
    """Typed access to a JSON document with error messages naming the key path."""

    def __init__(self, where: str, sources: dict):
        self.where = where
        self.sources = sources

    def fail(self, path: str, message: str):
        raise ProfileError(f"{self.where}: {path} {message}")

    def obj(self, parent: dict, key: str, path: str, *, optional=False) -> dict | None:
        if key not in parent:
            if optional:
                return None
            self.fail(f"{path}{key}", "is missing")
        value = parent[key]
        if not isinstance(value, dict):
            self.fail(f"{path}{key}", f"must be a JSON object, got {type(value).__name__}")
        return value

    def text(self, parent: dict, key: str, path: str, *, optional=False, default=None) -> str | None:
        if key not in parent:
            if optional:
                return default
            self.fail(f"{path}{key}", "is missing")
        value = parent[key]
        if not isinstance(value, str) or not value.strip():
            self.fail(f"{path}{key}", f"must be a non-empty string, got {value!r}")
        return value

    def _sourced(self, parent: dict, key: str, path: str, optional: bool, shape: str):
        """The ``value`` of a ``{"value", "source"}`` entry (and its key path), or (None, None) if optional and absent."""
        full = f"{path}{key}"
        if key not in parent:
            if optional:
                return None, None
            self.fail(full, "is missing")
        entry = parent[key]
        if not isinstance(entry, dict) or "value" not in entry or "source" not in entry:
            self.fail(full, f'must be {{"value": {shape}, "source": KEY}}, got {entry!r}')
        extra = set(entry) - {"value", "source", "note"}
        if extra:
            self.fail(full, f"has unknown keys {sorted(extra)}; allowed: value, source, note")
        self.source(entry["source"], full)
        return entry["value"], full

    def number(self, parent: dict, key: str, path: str, *, low=0.0, high=math.inf, optional=False,
               positive=False):
        value, full = self._sourced(parent, key, path, optional, "number")
        if full is None:
            return None
        return self.check_number(value, full + ".value", low=low, high=high, positive=positive)

    def numbers(self, parent: dict, key: str, path: str, *, low=0.0, high=math.inf, optional=False, positive=False):
        value, full = self._sourced(parent, key, path, optional, "[numbers]")
        if full is None:
            return None
        if not isinstance(value, list) or not value:
            self.fail(full + ".value", f"must be a non-empty list of numbers, got {value!r}")
        return tuple(self.check_number(v, f"{full}.value[{i}]", low=low, high=high, positive=positive)
                     for i, v in enumerate(value))

    def check_number(self, value, path: str, *, low=0.0, high=math.inf, positive=False) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.fail(path, f"must be a number, got {value!r}")
        if not math.isfinite(value):
            self.fail(path, f"must be finite, got {value!r}")
        if value < low or value > high or (positive and value <= 0):
            bound = "> 0" if positive else f"in [{low}, {high}]"
            self.fail(path, f"must be {bound}, got {value!r}")
        return float(value)

    def source(self, key, path: str) -> None:
        if not isinstance(key, str) or key not in self.sources:
            self.fail(path + ".source", f"names unknown source {key!r}; define it under 'sources' "
                                        f"(known: {sorted(self.sources)[:8]})")


def parse_profile(document: dict, *, where: str = "profile", path: str = "") -> Profile:
    """Validate a profile document and build a :class:`Profile`.

    Raises
    ------
    ProfileError
        Naming the bad key path, the value and what is accepted.
    """
    if not isinstance(document, dict):
        raise ProfileError(f"{where}: a profile must be a JSON object, got {type(document).__name__}")
    version = document.get("schema_version")
    if version != SCHEMA_VERSION:
        raise ProfileError(f"{where}: schema_version {version!r} is not supported; this edgeperf reads "
                           f"schema_version {SCHEMA_VERSION} (upgrade edgeperf or convert the profile)")
    unknown = sorted(set(document) - _TOP_KEYS)
    if unknown:
        raise ProfileError(f"{where}: unknown top-level key(s) {unknown}; allowed: {sorted(_TOP_KEYS)}")
    sources = document.get("sources")
    if not isinstance(sources, dict) or not sources or not all(
            isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in sources.items()):
        raise ProfileError(f"{where}: sources must be a non-empty object mapping keys to citation strings")
    r = _Reader(where, sources)
    name = r.text(document, "name", "")
    kind = r.text(document, "kind", "")
    if kind not in _KINDS:
        r.fail("kind", f"must be one of {_KINDS}, got {kind!r}")

    precisions_doc = r.obj(document, "precisions", "")
    precisions = {}
    for precision, spec in precisions_doc.items():
        if precision not in PRECISIONS:
            r.fail(f"precisions.{precision}", f"is not a known precision; known: {PRECISIONS}")
        if not isinstance(spec, dict):
            r.fail(f"precisions.{precision}", "must be an object with peak_gflops")
        precisions[precision] = r.number(spec, "peak_gflops", f"precisions.{precision}.", positive=True, high=1e7)
    if not precisions:
        r.fail("precisions", "must list at least one precision")
    default_precision = r.text(document, "default_precision", "")
    if default_precision not in precisions:
        r.fail("default_precision", f"{default_precision!r} is not among the profile's precisions {sorted(precisions)}")
    bandwidth = r.number(document, "memory_bandwidth_gbps", "", positive=True, high=1e5)

    clocks_doc = r.obj(document, "clocks", "")
    domains_doc = r.obj(clocks_doc, "domains", "clocks.")
    clocks = {}
    for domain, spec in domains_doc.items():
        base = f"clocks.domains.{domain}."
        if not isinstance(spec, dict):
            r.fail(base[:-1], "must be an object")
        reference = r.number(spec, "reference_mhz", base, positive=True, high=1e5)
        available = r.numbers(spec, "available_mhz", base, positive=True, high=1e5, optional=True) or (reference,)
        if list(available) != sorted(available):
            r.fail(base + "available_mhz", "must be sorted ascending")
        if reference not in available:
            r.fail(base + "reference_mhz", f"{reference} must be one of available_mhz {list(available)}")
        voltages = r.numbers(spec, "voltage_v", base, positive=True, high=5.0, optional=True)
        if voltages is not None and len(voltages) != len(available):
            r.fail(base + "voltage_v", f"must have one voltage per available frequency ({len(available)}), got {len(voltages)}")
        clocks[domain] = ClockDomain(name=domain, reference_mhz=reference, available_mhz=available, voltage_v=voltages)
    compute_domain = r.text(clocks_doc, "compute_domain", "clocks.")
    memory_domain = r.text(clocks_doc, "memory_domain", "clocks.")
    for key, domain in (("compute_domain", compute_domain), ("memory_domain", memory_domain)):
        if domain not in clocks:
            r.fail(f"clocks.{key}", f"{domain!r} is not a defined clock domain {sorted(clocks)}")

    power_modes = {}
    for mode, spec in (r.obj(document, "power_modes", "", optional=True) or {}).items():
        base = f"power_modes.{mode}."
        caps_doc = r.obj(spec, "caps_mhz", base) if isinstance(spec, dict) else r.fail(base[:-1], "must be an object")
        caps = {}
        for domain in caps_doc:
            if domain not in clocks:
                r.fail(f"{base}caps_mhz.{domain}", f"is not a clock domain {sorted(clocks)}")
            caps[domain] = r.number(caps_doc, domain, f"{base}caps_mhz.", positive=True, high=1e5)
        power_modes[mode] = MappingProxyType(caps)
    default_mode = r.text(document, "default_power_mode", "", optional=True)
    if default_mode is not None and default_mode not in power_modes:
        r.fail("default_power_mode", f"{default_mode!r} is not a defined power mode {sorted(power_modes)}")

    power_doc = r.obj(document, "power", "")
    idle = r.number(power_doc, "idle_mw", "power.", high=1e7)
    active_doc = r.obj(power_doc, "active_mw", "power.")
    if "default" not in active_doc:
        r.fail("power.active_mw.default", "is missing")
    active = {}
    for op_class in active_doc:
        if op_class != "default" and op_class not in OP_CLASSES:
            r.fail(f"power.active_mw.{op_class}", f"is not an operator class; known: {OP_CLASSES}")
        active[op_class] = r.number(active_doc, op_class, "power.active_mw.", high=1e7)
    calibrated = power_doc.get("calibrated", False)
    if not isinstance(calibrated, bool):
        r.fail("power.calibrated", f"must be true or false, got {calibrated!r}")
    domain_mw = {}
    for domain in r.obj(power_doc, "domain_mw", "power.", optional=True) or {}:
        if domain not in clocks:
            r.fail(f"power.domain_mw.{domain}", f"is not a clock domain {sorted(clocks)}")
        domain_mw[domain] = r.number(power_doc["domain_mw"], domain, "power.domain_mw.", high=1e7)
    thermal = _parse_thermal(r, r.obj(document, "thermal", "", optional=True), clocks)

    mapping = _parse_mapping(r, r.obj(document, "mapping", ""))
    models_doc = r.obj(document, "layer_models", "")
    if "default" not in models_doc:
        r.fail("layer_models.default", "is missing (the model for operator classes without their own)")
    models = {}
    for op_class, spec in models_doc.items():
        base = f"layer_models.{op_class}"
        if op_class != "default" and op_class not in OP_CLASSES:
            r.fail(base, f"is not an operator class; known: {OP_CLASSES}")
        if not isinstance(spec, dict) or "form" not in spec:
            r.fail(base, 'must be {"form": NAME, "params": {...}, "source": KEY}')
        r.source(spec.get("source"), base)
        params = spec.get("params", {})
        if not isinstance(params, dict):
            r.fail(base + ".params", "must be an object")
        try:
            clean = validate_cost_params(spec["form"], params, f"{where}: {base}.params")
        except ValueError as exc:
            raise ProfileError(str(exc)) from None
        models[op_class] = LayerModel(form=spec["form"], params=MappingProxyType(clean))

    unit_cost = r.number(document, "unit_cost_eur", "", optional=True, high=1e7)
    inference_overhead = r.number(document, "inference_overhead_ms", "", optional=True, high=1e5) or 0.0
    memory_bytes = r.number(document, "memory_bytes", "", optional=True, high=2**50)
    runtime = document.get("runtime", {})
    if not isinstance(runtime, dict):
        r.fail("runtime", "must be an object")
    if not isinstance(document.get("provenance", {}), dict):
        r.fail("provenance", "must be an object describing what the profile was fitted on")
    return Profile(
        name=name,
        title=r.text(document, "title", "", optional=True, default=name),
        version=r.text(document, "version", ""),
        kind=kind,
        quality=r.text(document, "quality", ""),
        sources=MappingProxyType(dict(sources)),
        precisions=MappingProxyType(precisions),
        default_precision=default_precision,
        memory_bandwidth_gbps=bandwidth,
        compute_domain=compute_domain,
        memory_domain=memory_domain,
        clocks=MappingProxyType(clocks),
        power_modes=MappingProxyType(power_modes),
        default_power_mode=default_mode,
        power=PowerModel(idle_mw=idle, active_mw=MappingProxyType(active), calibrated=calibrated,
                         domain_mw=MappingProxyType(domain_mw)),
        mapping=mapping,
        layer_models=MappingProxyType(models),
        unit_cost_eur=unit_cost,
        inference_overhead_ms=inference_overhead,
        network_term=_parse_network_term(r, r.obj(document, "network_term", "", optional=True)),
        memory_bytes=int(memory_bytes) if memory_bytes is not None else None,
        runtime=MappingProxyType(dict(runtime)),
        document=MappingProxyType(document),
        path=path,
        thermal=thermal,
    )


def _parse_network_term(r: _Reader, doc: dict | None) -> NetworkTerm | None:
    """``{"form": "power_law", "source": KEY, "params": {gamma, reference_ms, lower_ms, upper_ms}[, "note"]}``."""
    if doc is None:
        return None
    allowed = {"form", "source", "params", "note"}
    if set(doc) - allowed:
        r.fail("network_term", f"has unknown keys {sorted(set(doc) - allowed)}; allowed: {sorted(allowed)}")
    r.source(doc.get("source"), "network_term")
    params = doc.get("params")
    names = ("gamma", "reference_ms", "lower_ms", "upper_ms")
    if not isinstance(params, dict) or set(params) != set(names):
        r.fail("network_term.params", f"must be an object with exactly {list(names)}, got {params!r}")
    values = {name: r.check_number(params[name], f"network_term.params.{name}", high=1e7, positive=True)
              for name in names}
    try:
        return NetworkTerm(form=doc.get("form"), **values)
    except ValueError as exc:
        raise ProfileError(f"{r.where}: {exc}") from None


def _temperature_steps(r: _Reader, items, path: str, field: str, high: float, what: str) -> list:
    """``(key path, temp_c, value)`` of each ``{"temp_c": {...}, field: {...}}`` in a list of steps."""
    if not isinstance(items, list):
        r.fail(path, f'must be a list of {{"temp_c": {{...}}, "{field}": {{...}}}} {what}')
    steps = []
    for i, item in enumerate(items):
        where = f"{path}[{i}]."
        if not isinstance(item, dict):
            r.fail(where[:-1], f"must be an object with temp_c and {field}")
        value = r.number(item, field, where, positive=True, high=high)
        steps.append((where, r.number(item, "temp_c", where, low=-60.0, high=300.0), value))
    return steps


def _parse_thermal(r: _Reader, doc: dict | None, clocks: dict) -> ThermalModel | None:
    if doc is None:
        return None
    base = "thermal."
    allowed = {"ambient_c", "idle_c", "resistance_c_per_w", "time_constant_s", "poll_ms", "hysteresis_c",
               "domain", "levels", "first_inference_ms", "fan"}
    if set(doc) - allowed:
        r.fail("thermal", f"has unknown keys {sorted(set(doc) - allowed)}; allowed: {sorted(allowed)}")
    domain = r.text(doc, "domain", base)
    if domain not in clocks:
        r.fail(base + "domain", f"{domain!r} is not a clock domain {sorted(clocks)}")
    ambient = r.number(doc, "ambient_c", base, low=-60.0, high=150.0)
    idle = r.number(doc, "idle_c", base, low=-60.0, high=200.0)
    if idle < ambient:
        r.fail(base + "idle_c", f"{idle} must not be below ambient_c {ambient}")
    levels = []
    for where, temp, cap in _temperature_steps(r, doc.get("levels"), base + "levels", "cap_mhz", 1e5, "trip points"):
        if cap not in clocks[domain].available_mhz:
            r.fail(where + "cap_mhz", f"{cap} is not a step of domain {domain!r} {list(clocks[domain].available_mhz)}")
        levels.append(ThrottleLevel(temp_c=temp, cap_mhz=cap))
    temps = [level.temp_c for level in levels]
    caps = [level.cap_mhz for level in levels]
    if temps != sorted(temps) or caps != sorted(caps, reverse=True):
        r.fail(base + "levels", "must be ordered by rising temp_c with falling cap_mhz")
    fan = [FanLevel(temp_c=temp, resistance_c_per_w=value) for _, temp, value in
           _temperature_steps(r, doc.get("fan", []), base + "fan", "resistance_c_per_w", 1e4, "fan steps")]
    resistance = r.number(doc, "resistance_c_per_w", base, positive=True, high=1e4)
    if [f.temp_c for f in fan] != sorted(f.temp_c for f in fan) or any(
            f.resistance_c_per_w > prev for f, prev in zip(fan, [resistance] + [g.resistance_c_per_w for g in fan])):
        r.fail(base + "fan", "must be ordered by rising temp_c with resistance_c_per_w never rising")
    return ThermalModel(
        ambient_c=ambient, idle_c=idle, fan=tuple(fan),
        resistance_c_per_w=resistance,
        time_constant_s=r.number(doc, "time_constant_s", base, positive=True, high=1e6),
        poll_ms=r.number(doc, "poll_ms", base, positive=True, high=1e7),
        hysteresis_c=r.number(doc, "hysteresis_c", base, high=100.0),
        domain=domain, levels=tuple(levels),
        first_inference_ms=r.number(doc, "first_inference_ms", base, high=1e7, optional=True) or 0.0,
    )


def _parse_mapping(r: _Reader, doc: dict) -> Mapping:
    elide = doc.get("elide", ["shape"])
    if not isinstance(elide, list) or not all(isinstance(e, str) for e in elide):
        r.fail("mapping.elide", f"must be a list of operator classes, got {elide!r}")
    rules = []
    if not isinstance(doc.get("rules", []), list):
        r.fail("mapping.rules", f"must be a list of fusion rules, got {doc.get('rules')!r}")
    for i, rule in enumerate(doc.get("rules", [])):
        base = f"mapping.rules[{i}]"
        if not isinstance(rule, dict):
            r.fail(base, "must be an object")
        allowed = {"name", "primary", "followers", "max_followers", "absorb_inputs", "source"}
        if set(rule) - allowed:
            r.fail(base, f"has unknown keys {sorted(set(rule) - allowed)}; allowed: {sorted(allowed)}")
        r.source(rule.get("source"), base)
        for key in ("primary", "followers", "absorb_inputs"):
            value = rule.get(key, [])
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                r.fail(f"{base}.{key}", f"must be a list of operator types, got {value!r}")
        try:
            rules.append(FusionRule(
                name=r.text(rule, "name", base + "."),
                primary=tuple(rule.get("primary", [])),
                followers=tuple(rule.get("followers", [])),
                max_followers=rule.get("max_followers", 4),
                absorb_inputs=tuple(rule.get("absorb_inputs", [])),
                source=rule["source"],
            ))
        except ValueError as exc:
            raise ProfileError(f"{r.where}: {base}: {exc}") from None
    merge = doc.get("merge_siblings")
    merge_types, merge_source = (), ""
    if merge is not None:
        if (not isinstance(merge, dict) or set(merge) - {"op_types", "source"}
                or not isinstance(merge.get("op_types"), list) or not all(isinstance(v, str) for v in merge["op_types"])):
            r.fail("mapping.merge_siblings", f"must be an object with op_types (a list of operator types) and source, "
                                             f"got {merge!r}")
        r.source(merge.get("source"), "mapping.merge_siblings")
        merge_types, merge_source = tuple(merge["op_types"]), merge["source"]
    try:
        return Mapping(runtime=r.text(doc, "runtime", "mapping."), elide=tuple(elide), rules=tuple(rules),
                       merge_siblings=merge_types, merge_source=merge_source)
    except ValueError as exc:
        raise ProfileError(f"{r.where}: {exc}") from None


def read_profile_file(path) -> Profile:
    """Load and validate a profile JSON file.

    Raises
    ------
    ProfileError
        If the file is missing, too large, not JSON, or violates the schema.
    """
    path = Path(path)
    if not path.is_file():
        raise ProfileError(f"{path}: no such profile file; give a shipped profile name (edgeperf profiles list) "
                           "or the path of a profile .json")
    if path.stat().st_size > _MAX_PROFILE_BYTES:
        raise ProfileError(f"{path}: {path.stat().st_size} bytes is larger than any profile "
                           f"({_MAX_PROFILE_BYTES} bytes at most)")
    try:
        text = path.read_text(encoding="utf-8")
        document = loads_finite(text)
    except UnicodeDecodeError:
        raise ProfileError(f"{path}: not a UTF-8 text file; a profile is JSON") from None
    except json.JSONDecodeError as exc:
        raise ProfileError(f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    except ValueError as exc:
        raise ProfileError(f"{path}: {exc}") from None
    except RecursionError:
        raise ProfileError(f"{path}: JSON nested too deeply to be a profile") from None
    return parse_profile(document, where=str(path), path=str(path))
