"""The profile JSON schema's one parser: :func:`parse_profile` (and :func:`read_profile_file`).

A profile is versioned JSON (``schema_version`` 1, documented in docs/profile-format.md). Every
number is an object ``{"value": ..., "source": KEY, "note": ...}`` whose KEY names an entry of the
profile's ``sources``, so that each figure says where it came from; the parser keeps each
number's citation (:class:`Citation`, by the number's address in the :class:`Profile`) for the
serializer (``_write``, in the same section order) to write back. Validation names the offending
key path and value; nothing is silently defaulted except documented optional fields. The parser
copies what it reads: the caller's document can change afterwards without changing the profile.
"""

from __future__ import annotations

import copy
import json
import math
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType

from .._errors import ProfileError
from .._json import loads_finite, read_json_file
from .._messages import show
from .._numbers import number_problem
from .._units import PRECISIONS
from ..estimator import (NETWORK_TERM_PARAMS, OP_CLASSES, CopyElision, FusionRule, Mapping, Nchwc, NetworkTerm,
                         ParameterMemory, SignatureResiduals, Uncertainty, Winograd, validate_cost_params)
from ._profile import (Citation, ClockDomain, FanLevel, LayerModel, PowerModel, Profile, RuntimeMapping,
                       RuntimeSupport, ThermalModel, ThrottleLevel)
from ._operating import operating_model
from ._provenance import CrossValidatedChoice, HeldOutErrors, Metrics, PowerFitRecord, Provenance, freeze
from ._write import METRIC_KEYS as _METRIC_KEYS
from ._write import UNCERTAINTY_KEYS as _UNCERTAINTY_KEYS
from ._write import SCHEMA_VERSION, THERMAL_KEYS as _THERMAL_KEYS

__all__ = ["parse_profile", "read_profile_file", "parse_runtime_mappings", "runtime_support_tables"]

_KINDS = ("datasheet", "calibrated", "fitted", "derived")
_MAX_PROFILE_BYTES = 16 * 2**20
_TOP_KEYS = {
    "schema_version", "name", "title", "version", "kind", "quality", "sources", "runtime", "device",
    "precisions", "default_precision", "memory_bandwidth_gbps", "clocks", "power_modes",
    "default_power_mode", "power", "mapping", "layer_models", "unit_cost_eur", "memory_bytes", "provenance", "thermal",
    "inference_overhead_ms", "parameter_memory", "uncertainty", "runtime_support", "operating_model", "network_term",
    "signature_residuals",
}


def _capped(path: str, limit: int = 200) -> str:
    """A key path for a message: the document's own keys can be arbitrarily long."""
    return path if len(path) <= limit else path[:limit] + "..."


class _Reader:
    """Typed access to a JSON document with error messages naming the key path; collects citations."""

    def __init__(self, where: str, sources: dict):
        self.where = where
        self.sources = sources
        self.citations: dict[tuple, Citation] = {}

    def fail(self, path: str, message: str):
        raise ProfileError(f"{self.where}: {_capped(path)} {message}")

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
            self.fail(f"{path}{key}", f"must be a non-empty string, got {show(value)}")
        return value

    def _sourced(self, parent: dict, key: str, path: str, optional: bool, shape: str, cite: tuple):
        """The ``value`` of a ``{"value", "source"}`` entry (and its key path), or (None, None) if optional and absent."""
        full = f"{path}{key}"
        if key not in parent:
            if optional:
                return None, None
            self.fail(full, "is missing")
        entry = parent[key]
        if not isinstance(entry, dict) or "value" not in entry or "source" not in entry:
            self.fail(full, f'must be {{"value": {shape}, "source": KEY}}, got {show(entry)}')
        extra = set(entry) - {"value", "source", "note"}
        if extra:
            self.fail(full, f"has unknown keys {show(sorted(extra))}; allowed: value, source, note")
        self.source(entry["source"], full)
        note = entry.get("note")
        if note is not None and not isinstance(note, str):
            self.fail(full + ".note", f"must be a string, got {show(note)}")
        self.citations[cite] = Citation(source=entry["source"], note=note)
        return entry["value"], full

    def number(self, parent: dict, key: str, path: str, cite: tuple, *, low=0.0, high=math.inf, optional=False,
               positive=False):
        value, full = self._sourced(parent, key, path, optional, "number", cite)
        if full is None:
            return None
        return self.check_number(value, full + ".value", low=low, high=high, positive=positive)

    def numbers(self, parent: dict, key: str, path: str, cite: tuple, *, low=0.0, high=math.inf, optional=False,
                positive=False):
        value, full = self._sourced(parent, key, path, optional, "[numbers]", cite)
        if full is None:
            return None
        if not isinstance(value, list) or not value:
            self.fail(full + ".value", f"must be a non-empty list of numbers, got {show(value)}")
        return tuple(self.check_number(v, f"{full}.value[{i}]", low=low, high=high, positive=positive)
                     for i, v in enumerate(value))

    def check_number(self, value, path: str, *, low=0.0, high=math.inf, positive=False) -> float:
        if isinstance(value, str):                 # JSON numbers only: "1.5" is a mistake worth reporting
            self.fail(path, f"must be a number, got {show(value)}")
        number, problem = number_problem(value, low=low, high=None if math.isinf(high) else high,
                                         positive=positive)
        if problem is not None:
            self.fail(path, problem)
        return number

    def source(self, key, path: str) -> None:
        if not isinstance(key, str) or key not in self.sources:
            self.fail(path + ".source", f"names unknown source {show(key)}; define it under 'sources' "
                                        f"(known: {show(sorted(self.sources))})")


# ---- the whole document ---------------------------------------------------------------------------------------


def parse_profile(document: dict, *, where: str = "profile", path: str = "") -> Profile:
    """Validate a profile document and build a :class:`Profile` (the document is copied, never kept).

    Raises
    ------
    ProfileError
        Naming the bad key path, the value and what is accepted.
    """
    sources = _sources(document, where)
    r = _Reader(where, sources)
    name = r.text(document, "name", "")
    kind = r.text(document, "kind", "")
    if kind not in _KINDS:
        r.fail("kind", f"must be one of {_KINDS}, got {show(kind)}")
    precisions, default_precision = _read_precisions(r, document)
    bandwidth = r.number(document, "memory_bandwidth_gbps", "", ("memory_bandwidth_gbps",), positive=True, high=1e5)
    clocks, compute_domain, memory_domain = _read_clocks(r, r.obj(document, "clocks", ""))
    power_modes, default_mode = _read_power_modes(r, document, clocks)
    power = _read_power(r, r.obj(document, "power", ""), clocks)
    thermal = _read_thermal(r, r.obj(document, "thermal", "", optional=True), clocks)
    mapping = _read_mapping(r, r.obj(document, "mapping", ""))
    layer_models = _read_layer_models(r, r.obj(document, "layer_models", ""))
    unit_cost = r.number(document, "unit_cost_eur", "", ("unit_cost_eur",), optional=True, high=1e7)
    overhead = r.number(document, "inference_overhead_ms", "", ("inference_overhead_ms",), optional=True, high=1e5)
    memory_bytes = r.number(document, "memory_bytes", "", ("memory_bytes",), optional=True, high=2**50)
    parameter_memory = _read_parameter_memory(r, r.obj(document, "parameter_memory", "", optional=True))
    uncertainty = _read_uncertainty(r, r.obj(document, "uncertainty", "", optional=True))
    runtime, device = _facts(r, document, "runtime"), _facts(r, document, "device")
    support = _read_runtime_support(r, r.obj(document, "runtime_support", "", optional=True))
    operating = _read_operating_model(r, document, clocks)
    return Profile(
        name=name,
        title=r.text(document, "title", "", optional=True, default=name), version=r.text(document, "version", ""),
        kind=kind, quality=r.text(document, "quality", ""), sources=MappingProxyType(dict(sources)),
        precisions=MappingProxyType(precisions), default_precision=default_precision, memory_bandwidth_gbps=bandwidth,
        compute_domain=compute_domain, memory_domain=memory_domain, clocks=MappingProxyType(clocks),
        power_modes=MappingProxyType(power_modes), default_power_mode=default_mode, power=power, mapping=mapping,
        layer_models=MappingProxyType(layer_models), unit_cost_eur=unit_cost, inference_overhead_ms=overhead or 0.0,
        network_term=_read_network_term(r, r.obj(document, "network_term", "", optional=True)),
        signature_residuals=_read_signature_residuals(r, r.obj(document, "signature_residuals", "", optional=True)),
        memory_bytes=int(memory_bytes) if memory_bytes is not None else None, runtime=freeze(runtime),
        device=freeze(device), thermal=thermal, runtime_support=support, operating=operating,
        provenance=_read_provenance(r, document.get("provenance", {})),
        parameter_memory=parameter_memory, uncertainty=uncertainty, citations=MappingProxyType(r.citations),
        path=path,
    )


def parse_runtime_mappings(document: dict, *, where: str) -> dict[str, RuntimeMapping]:
    """The shipped runtime mappings (``{"sources": {...}, "runtimes": {name: mapping section}}``), each validated.

    Each mapping section is read as a profile's ``mapping`` is; its :class:`RuntimeMapping` keeps the
    sources it cites.

    Raises
    ------
    ProfileError
        Naming the runtime and the bad key path.
    """
    if not isinstance(document, dict) or not isinstance(document.get("runtimes"), dict):
        raise ProfileError(f"{where}: must be an object with sources and runtimes")
    sources = document.get("sources")
    if not isinstance(sources, dict) or not all(isinstance(v, str) for v in sources.values()):
        raise ProfileError(f"{where}: sources must map keys to citation strings")
    out = {}
    for name, section in document["runtimes"].items():
        r = _Reader(f"{where}: runtime {name}", sources)
        if not isinstance(section, dict):
            r.fail("mapping", "must be an object")
        mapping = _read_mapping(r, section)
        cited = mapping.cited_sources() | {c.source for c in r.citations.values()}
        out[name] = RuntimeMapping(name=name, mapping=mapping,
                                   sources=MappingProxyType({k: sources[k] for k in sorted(cited)}),
                                   citations=MappingProxyType(dict(r.citations)))
    return out


def _sources(document, where: str) -> dict:
    """The document's ``sources``, once it is a profile of this schema version with known top-level keys."""
    if not isinstance(document, dict):
        raise ProfileError(f"{where}: a profile must be a JSON object, got {type(document).__name__}")
    version = document.get("schema_version")
    if version != SCHEMA_VERSION:
        raise ProfileError(f"{where}: schema_version {show(version)} is not supported; this edgeperf reads "
                           f"schema_version {SCHEMA_VERSION} (upgrade edgeperf or convert the profile)")
    unknown = sorted(set(document) - _TOP_KEYS)
    if unknown:
        raise ProfileError(f"{where}: unknown top-level key(s) {show(unknown)}; allowed: {sorted(_TOP_KEYS)}")
    sources = document.get("sources")
    if not isinstance(sources, dict) or not sources or not all(
            isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in sources.items()):
        raise ProfileError(f"{where}: sources must be a non-empty object mapping keys to citation strings")
    return sources


def _facts(r: _Reader, document: dict, key: str) -> dict:
    """A free-form object of facts (``runtime``, ``device``); absent: none."""
    value = document.get(key, {})
    if not isinstance(value, dict):
        r.fail(key, "must be an object")
    return value


def read_profile_file(path) -> Profile:
    """Load and validate a profile JSON file.

    Raises
    ------
    ProfileError
        If the file is missing, too large, not JSON, or violates the schema.
    """
    document = read_json_file(path, what="a profile", limit=_MAX_PROFILE_BYTES, error=ProfileError,
                              hint="give a shipped profile name (edgeperf profiles list) or the path of a profile .json")
    return parse_profile(document, where=str(path), path=str(path))


# ---- precisions and clocks ------------------------------------------------------------------------------------


def _read_precisions(r: _Reader, document: dict) -> tuple[dict, str]:
    precisions = {}
    for precision, spec in r.obj(document, "precisions", "").items():
        if precision not in PRECISIONS:
            r.fail(f"precisions.{precision}", f"is not a known precision; known: {PRECISIONS}")
        if not isinstance(spec, dict):
            r.fail(f"precisions.{precision}", "must be an object with peak_gflops")
        precisions[precision] = r.number(spec, "peak_gflops", f"precisions.{precision}.", ("precisions", precision),
                                         positive=True, high=1e7)
    if not precisions:
        r.fail("precisions", "must list at least one precision")
    default_precision = r.text(document, "default_precision", "")
    if default_precision not in precisions:
        r.fail("default_precision", f"{show(default_precision)} is not among the profile's precisions {sorted(precisions)}")
    return precisions, default_precision


def _read_clocks(r: _Reader, clocks_doc: dict) -> tuple[dict, str, str]:
    clocks = {}
    for domain, spec in r.obj(clocks_doc, "domains", "clocks.").items():
        base = f"clocks.domains.{domain}."
        if not isinstance(spec, dict):
            r.fail(base[:-1], "must be an object")
        at = ("clocks", domain)
        reference = r.number(spec, "reference_mhz", base, at + ("reference_mhz",), positive=True, high=1e5)
        available = r.numbers(spec, "available_mhz", base, at + ("available_mhz",), positive=True, high=1e5,
                              optional=True) or (reference,)
        if list(available) != sorted(available):
            r.fail(base + "available_mhz", "must be sorted ascending")
        if reference not in available:
            r.fail(base + "reference_mhz", f"{reference} must be one of available_mhz {list(available)}")
        voltages = r.numbers(spec, "voltage_v", base, at + ("voltage_v",), positive=True, high=5.0, optional=True)
        if voltages is not None and len(voltages) != len(available):
            r.fail(base + "voltage_v", f"must have one voltage per available frequency ({len(available)}), got {len(voltages)}")
        clocks[domain] = ClockDomain(name=domain, reference_mhz=reference, available_mhz=available, voltage_v=voltages)
    compute_domain = r.text(clocks_doc, "compute_domain", "clocks.")
    memory_domain = r.text(clocks_doc, "memory_domain", "clocks.")
    for key, domain in (("compute_domain", compute_domain), ("memory_domain", memory_domain)):
        if domain not in clocks:
            r.fail(f"clocks.{key}", f"{show(domain)} is not a defined clock domain {sorted(clocks)}")
    return clocks, compute_domain, memory_domain


def _read_power_modes(r: _Reader, document: dict, clocks: dict) -> tuple[dict, str | None]:
    power_modes = {}
    for mode, spec in (r.obj(document, "power_modes", "", optional=True) or {}).items():
        base = f"power_modes.{mode}."
        caps_doc = r.obj(spec, "caps_mhz", base) if isinstance(spec, dict) else r.fail(base[:-1], "must be an object")
        caps = {}
        for domain in caps_doc:
            if domain not in clocks:
                r.fail(f"{base}caps_mhz.{domain}", f"is not a clock domain {sorted(clocks)}")
            caps[domain] = r.number(caps_doc, domain, f"{base}caps_mhz.", ("power_modes", mode, domain),
                                    positive=True, high=1e5)
        power_modes[mode] = MappingProxyType(caps)
    default_mode = r.text(document, "default_power_mode", "", optional=True)
    if default_mode is not None and default_mode not in power_modes:
        r.fail("default_power_mode", f"{show(default_mode)} is not a defined power mode {sorted(power_modes)}")
    return power_modes, default_mode


# ---- power and thermal ----------------------------------------------------------------------------------------


def _read_power(r: _Reader, power_doc: dict, clocks: dict) -> PowerModel:
    idle = r.number(power_doc, "idle_mw", "power.", ("power", "idle_mw"), high=1e7)
    active_doc = r.obj(power_doc, "active_mw", "power.")
    if "default" not in active_doc:
        r.fail("power.active_mw.default", "is missing")
    active = {}
    for op_class in active_doc:
        if op_class != "default" and op_class not in OP_CLASSES:
            r.fail(f"power.active_mw.{op_class}", f"is not an operator class; known: {OP_CLASSES}")
        active[op_class] = r.number(active_doc, op_class, "power.active_mw.", ("power", "active_mw", op_class),
                                    high=1e7)
    calibrated = power_doc.get("calibrated", False)
    if not isinstance(calibrated, bool):
        r.fail("power.calibrated", f"must be true or false, got {show(calibrated)}")
    domain_mw = {}
    for domain in r.obj(power_doc, "domain_mw", "power.", optional=True) or {}:
        if domain not in clocks:
            r.fail(f"power.domain_mw.{domain}", f"is not a clock domain {sorted(clocks)}")
        domain_mw[domain] = r.number(power_doc["domain_mw"], domain, "power.domain_mw.", ("power", "domain_mw", domain),
                                     high=1e7)
    work = {key: r.number(power_doc, key, "power.", ("power", key), optional=True, high=1e6) or 0.0
            for key in ("pj_per_flop", "pj_per_byte")}
    return PowerModel(idle_mw=idle, active_mw=MappingProxyType(active), calibrated=calibrated,
                      domain_mw=MappingProxyType(domain_mw), **work)


def _temperature_steps(r: _Reader, items, path: str, field: str, high: float, what: str, cite: tuple) -> list:
    """``(key path, temp_c, value)`` of each ``{"temp_c": {...}, field: {...}}`` in a list of steps."""
    if not isinstance(items, list):
        r.fail(path, f'must be a list of {{"temp_c": {{...}}, "{field}": {{...}}}} {what}')
    steps = []
    for i, item in enumerate(items):
        where = f"{path}[{i}]."
        if not isinstance(item, dict):
            r.fail(where[:-1], f"must be an object with temp_c and {field}")
        value = r.number(item, field, where, cite + (i, field), positive=True, high=high)
        steps.append((where, r.number(item, "temp_c", where, cite + (i, "temp_c"), low=-60.0, high=300.0), value))
    return steps


_SUPPORT_KEYS = ("table", "host_profile", "link_gbps")


def _read_runtime_support(r: _Reader, doc: dict | None) -> RuntimeSupport | None:
    """The ``runtime_support`` section: a runtime's shipped table by name, and the board's host and link."""
    if doc is None:
        return None
    base = "runtime_support."
    if set(doc) - set(_SUPPORT_KEYS):
        r.fail("runtime_support", f"has unknown keys {sorted(set(doc) - set(_SUPPORT_KEYS))}; allowed: "
                                  f"{list(_SUPPORT_KEYS)}")
    table = r.text(doc, "table", base)
    tables = runtime_support_tables()
    if table not in tables:
        r.fail(base + "table", f"{show(table)} is not a shipped runtime table; known: {sorted(tables)}")
    host, _ = r._sourced(doc, "host_profile", base, True, "profile name", ("runtime_support", "host_profile"))
    if host is not None and (not isinstance(host, str) or not host.strip()):
        r.fail(base + "host_profile.value", f"must be a profile name or path, got {show(host)}")
    link = r.number(doc, "link_gbps", base, ("runtime_support", "link_gbps"), optional=True, positive=True, high=1e4)
    return replace(tables[table], host_profile=host, link_gbps=link)


def _read_operating_model(r: _Reader, document: dict, clocks: dict):
    """The board's operating model by name (``data/operating/boards.json``); its domains must be the profile's."""
    name = r.text(document, "operating_model", "", optional=True)
    if name is None:
        return None
    model = operating_model(name, r.where)
    for domain in (*model.voltage_mv, model.cpu_domain):
        if domain not in clocks:
            r.fail("operating_model", f"{show(name)} describes clock domain {show(domain)}, which the profile lacks "
                                      f"(domains: {sorted(clocks)})")
    return model


def runtime_support_tables() -> dict[str, RuntimeSupport]:
    """The shipped runtime tables (``data/runtimes/support.json``) by name, each validated; read once."""
    return dict(_support_tables())


@lru_cache(maxsize=1)
def _support_tables() -> tuple:
    path = Path(__file__).resolve().parent / "data" / "runtimes" / "support.json"
    where = f"{path}"
    document = loads_finite(path.read_text(encoding="utf-8"))
    sources = document.get("sources", {})
    tables = []
    for name, entry in document.get("runtimes", {}).items():
        r = _Reader(f"{where}: runtime {name}", sources)
        if set(entry) - _TABLE_KEYS:
            r.fail("", f"has unknown keys {sorted(set(entry) - _TABLE_KEYS)}; allowed: {sorted(_TABLE_KEYS)}")
        ops = entry.get("ops")
        if not isinstance(ops, dict) or not ops:
            r.fail("ops", f'must map operator types to precisions, e.g. {{"Conv": ["int8"]}}, got {show(ops)}')
        for op, precisions in ops.items():
            if not isinstance(precisions, list) or not precisions or any(p not in PRECISIONS for p in precisions):
                r.fail(f"ops.{op}", f"must be a non-empty list of precisions {list(PRECISIONS)}, got {show(precisions)}")
        for key in ("ops_source", "rules_source"):
            r.source(entry.get(key), key)
        try:
            tables.append((name, RuntimeSupport(
                table=name, runtime=r.text(entry, "runtime", ""), ops=MappingProxyType({o: tuple(p) for o, p in ops.items()}),
                partition=entry.get("partition"), fallback=entry.get("fallback"), ops_source=entry["ops_source"],
                rules_source=entry["rules_source"], fallback_precision=entry.get("fallback_precision"),
                sources=MappingProxyType({k: sources[k] for k in (entry["ops_source"], entry["rules_source"])}))))
        except ValueError as exc:
            r.fail("", str(exc))
    return tuple(tables)


_TABLE_KEYS = {"runtime", "ops", "ops_source", "partition", "fallback", "fallback_precision", "rules_source", "note"}


def _read_thermal(r: _Reader, doc: dict | None, clocks: dict) -> ThermalModel | None:
    if doc is None:
        return None
    base = "thermal."
    if set(doc) - set(_THERMAL_KEYS):
        r.fail("thermal", f"has unknown keys {sorted(set(doc) - set(_THERMAL_KEYS))}; allowed: {sorted(_THERMAL_KEYS)}")
    domain = r.text(doc, "domain", base)
    if domain not in clocks:
        r.fail(base + "domain", f"{show(domain)} is not a clock domain {sorted(clocks)}")

    def number(key, **bounds):
        return r.number(doc, key, base, ("thermal", key), **bounds)

    ambient = number("ambient_c", low=-60.0, high=150.0)
    idle = number("idle_c", low=-60.0, high=200.0)
    if idle < ambient:
        r.fail(base + "idle_c", f"{idle} must not be below ambient_c {ambient}")
    levels = []
    for where, temp, cap in _temperature_steps(r, doc.get("levels"), base + "levels", "cap_mhz", 1e5, "trip points",
                                               ("thermal", "levels")):
        if cap not in clocks[domain].available_mhz:
            r.fail(where + "cap_mhz", f"{cap} is not a step of domain {show(domain)} {list(clocks[domain].available_mhz)}")
        levels.append(ThrottleLevel(temp_c=temp, cap_mhz=cap))
    temps = [level.temp_c for level in levels]
    caps = [level.cap_mhz for level in levels]
    if temps != sorted(temps) or caps != sorted(caps, reverse=True):
        r.fail(base + "levels", "must be ordered by rising temp_c with falling cap_mhz")
    fan = [FanLevel(temp_c=temp, resistance_c_per_w=value) for _, temp, value in
           _temperature_steps(r, doc.get("fan", []), base + "fan", "resistance_c_per_w", 1e4, "fan steps",
                              ("thermal", "fan"))]
    resistance = number("resistance_c_per_w", positive=True, high=1e4)
    if [f.temp_c for f in fan] != sorted(f.temp_c for f in fan) or any(
            f.resistance_c_per_w > prev for f, prev in zip(fan, [resistance] + [g.resistance_c_per_w for g in fan])):
        r.fail(base + "fan", "must be ordered by rising temp_c with resistance_c_per_w never rising")
    return ThermalModel(
        ambient_c=ambient, idle_c=idle, fan=tuple(fan), resistance_c_per_w=resistance,
        time_constant_s=number("time_constant_s", positive=True, high=1e6),
        poll_ms=number("poll_ms", positive=True, high=1e7),
        hysteresis_c=number("hysteresis_c", high=100.0),
        domain=domain, levels=tuple(levels),
        first_inference_ms=number("first_inference_ms", high=1e7, optional=True) or 0.0,
    )


# ---- mapping and layer models ---------------------------------------------------------------------------------


def _read_mapping(r: _Reader, doc: dict) -> Mapping:
    elide = doc.get("elide", ["shape"])
    if not isinstance(elide, list) or not all(isinstance(e, str) for e in elide):
        r.fail("mapping.elide", f"must be a list of operator classes, got {show(elide)}")
    if not isinstance(doc.get("rules", []), list):
        r.fail("mapping.rules", f"must be a list of fusion rules, got {show(doc.get('rules'))}")
    rules = [_read_rule(r, rule, f"mapping.rules[{i}]") for i, rule in enumerate(doc.get("rules", []))]
    merge = doc.get("merge_siblings")
    merge_types, merge_source = (), ""
    if merge is not None:
        if (not isinstance(merge, dict) or set(merge) - {"op_types", "source"}
                or not isinstance(merge.get("op_types"), list) or not all(isinstance(v, str) for v in merge["op_types"])):
            r.fail("mapping.merge_siblings", f"must be an object with op_types (a list of operator types) and source, "
                                             f"got {show(merge)}")
        r.source(merge.get("source"), "mapping.merge_siblings")
        merge_types, merge_source = tuple(merge["op_types"]), merge["source"]
    fold, fold_source = _read_fold(r, doc)
    storage = _read_weight_storage(r, doc)
    try:
        return Mapping(runtime=r.text(doc, "runtime", "mapping."), elide=tuple(elide), rules=tuple(rules),
                       merge_siblings=merge_types, merge_source=merge_source, fold=fold, fold_source=fold_source,
                       copy_elision=_read_copy_elision(r, doc), winograd=_read_winograd(r, doc),
                       nchwc=_read_nchwc(r, doc), **storage)
    except ValueError as exc:
        raise ProfileError(f"{r.where}: {exc}") from None


def _read_rule(r: _Reader, rule, base: str) -> FusionRule:
    if not isinstance(rule, dict):
        r.fail(base, "must be an object")
    allowed = {"name", "primary", "followers", "max_followers", "absorb_inputs", "source", "subgraph"}
    if set(rule) - allowed:
        r.fail(base, f"has unknown keys {sorted(set(rule) - allowed)}; allowed: {sorted(allowed)}")
    r.source(rule.get("source"), base)
    for key in ("primary", "followers", "absorb_inputs"):
        value = rule.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            r.fail(f"{base}.{key}", f"must be a list of operator types, got {show(value)}")
    try:
        return FusionRule(
            name=r.text(rule, "name", base + "."),
            primary=tuple(rule.get("primary", [])),
            followers=tuple(rule.get("followers", [])),
            max_followers=rule.get("max_followers", 4),
            absorb_inputs=tuple(rule.get("absorb_inputs", [])),
            source=rule["source"],
            subgraph=_flag(r, rule, "subgraph", base),
        )
    except ValueError as exc:
        raise ProfileError(f"{r.where}: {base}: {exc}") from None


def _flag(r: _Reader, parent: dict, key: str, path: str) -> bool:
    value = parent.get(key, False)
    if not isinstance(value, bool):
        r.fail(f"{path}.{key}", f"must be true or false, got {value!r}")
    return value


def _op_types(r: _Reader, spec, path: str, allowed: set) -> tuple[str, ...]:
    """The ``op_types`` of a ``{"op_types": [...], "source": KEY, ...}`` entry whose keys are among ``allowed``."""
    if (not isinstance(spec, dict) or not isinstance(spec.get("op_types"), list) or not spec["op_types"]
            or not all(isinstance(v, str) for v in spec["op_types"])):
        r.fail(path, f"must be an object with op_types (a non-empty list of operator types) and source, got {show(spec)}")
    if set(spec) - allowed:
        r.fail(path, f"has unknown keys {sorted(set(spec) - allowed)}; allowed: {sorted(allowed)}")
    r.source(spec.get("source"), path)
    return tuple(spec["op_types"])


def _read_weight_storage(r: _Reader, doc: dict) -> dict:
    """``mapping.weight_storage``: operator types whose weights the runtime stores narrower (Mapping's fields)."""
    if "weight_storage" not in doc:
        return {}
    spec = doc["weight_storage"]
    types = _op_types(r, spec, "mapping.weight_storage", {"op_types", "bits", "source"})
    bits = spec.get("bits")
    if bits not in (8, 16) or isinstance(bits, bool):
        r.fail("mapping.weight_storage.bits", f"must be 8 or 16, got {show(bits)}")
    return {"weight_storage": types, "weight_storage_bits": bits, "weight_storage_source": spec["source"]}


def _read_fold(r: _Reader, doc: dict) -> tuple[tuple[str, ...], str]:
    """``mapping.fold``: operator types the runtime folds into its kernels (estimator._runtime_rewrites)."""
    if "fold" not in doc:
        return (), ""
    return _op_types(r, doc["fold"], "mapping.fold", {"op_types", "source"}), doc["fold"]["source"]


def _read_copy_elision(r: _Reader, doc: dict) -> tuple[CopyElision, ...]:
    """``mapping.copy_elision``: copies the runtime never makes (estimator._runtime_rewrites)."""
    entries = doc.get("copy_elision", [])
    if not isinstance(entries, list):
        r.fail("mapping.copy_elision", f"must be a list of {{op_types, when, source}}, got {entries!r}")
    copies = []
    for i, entry in enumerate(entries):
        base = f"mapping.copy_elision[{i}]"
        op_types = _op_types(r, entry, base, {"op_types", "when", "source"})
        try:
            copies.append(CopyElision(op_types=op_types, when=entry.get("when"), source=entry["source"]))
        except ValueError as exc:
            r.fail(base, str(exc))
    return tuple(copies)


def _read_winograd(r: _Reader, doc: dict) -> Winograd | None:
    """``mapping.winograd``: which convolutions run as Winograd transforms, and their fitted work scale."""
    if "winograd" not in doc:
        return None
    spec, base = doc["winograd"], "mapping.winograd"
    if not isinstance(spec, dict) or set(spec) - {"kernel", "stride", "min_channels", "tile", "choice", "work_scale"}:
        r.fail(base, f"must be an object with kernel, stride, min_channels, tile, choice and work_scale, got {spec!r}")
    ints = {}
    for key, default in (("kernel", 3), ("stride", 1), ("min_channels", 1), ("tile", 1)):
        value = spec.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 4096:
            r.fail(f"{base}.{key}", f"must be an integer in [1, 4096], got {value!r}")
        ints[key] = value
    scale = r.number(spec, "work_scale", base + ".", ("mapping", "winograd", "work_scale"), positive=True, high=1.0)
    try:
        return Winograd(work_scale=scale, choice=spec.get("choice", "faster"), **ints)
    except ValueError as exc:
        r.fail(base, str(exc))


def _read_nchwc(r: _Reader, doc: dict) -> Nchwc | None:
    """``mapping.nchwc``: the runtime's blocked layout, its block size (floats) and where that came from (``_nchwc``)."""
    if "nchwc" not in doc:
        return None
    spec, base = doc["nchwc"], "mapping.nchwc"
    if not isinstance(spec, dict) or not {"block", "source"} <= set(spec) <= {"block", "pad_multiple", "source"}:
        r.fail(base, f"must be an object with block (floats per channel block: 8 or 16), optional pad_multiple and "
                     f"source, got {show(spec)}")
    r.source(spec["source"], base)
    try:
        return Nchwc(block=spec["block"], pad_multiple=spec.get("pad_multiple"), source=spec["source"])
    except ValueError as exc:
        r.fail(base, str(exc))


def _read_parameter_memory(r: _Reader, doc: dict | None) -> ParameterMemory | None:
    """``parameter_memory``: the accelerator's on-chip parameter memory and the rate of the link feeding the rest."""
    if doc is None:
        return None
    if set(doc) - {"on_chip_bytes", "stream_gbps"}:
        r.fail("parameter_memory", f"has unknown keys {sorted(set(doc) - {'on_chip_bytes', 'stream_gbps'})}; "
                                   "allowed: on_chip_bytes, stream_gbps")
    at = ("parameter_memory",)
    try:
        return ParameterMemory(
            on_chip_bytes=r.number(doc, "on_chip_bytes", "parameter_memory.", at + ("on_chip_bytes",), high=2**40),
            stream_gbps=r.number(doc, "stream_gbps", "parameter_memory.", at + ("stream_gbps",), positive=True,
                                 high=1e5))
    except ValueError as exc:
        r.fail("parameter_memory", str(exc))


def _read_uncertainty(r: _Reader, doc: dict | None) -> Uncertainty | None:
    """``uncertainty``: the interval model of the profile's estimates (estimator._intervals)."""
    if doc is None:
        return None
    base, at = "uncertainty.", ("uncertainty",)
    if set(doc) - set(_UNCERTAINTY_KEYS):
        r.fail("uncertainty", f"has unknown keys {sorted(set(doc) - set(_UNCERTAINTY_KEYS))}; "
                              f"allowed: {sorted(_UNCERTAINTY_KEYS)}")
    coverage = doc.get("coverage")
    if isinstance(coverage, bool) or not isinstance(coverage, (int, float)) or not 0 < coverage < 1:
        r.fail(base + "coverage", f"must be a number in (0, 1), got {coverage!r}")
    residuals = doc.get("residuals")
    if isinstance(residuals, bool) or not isinstance(residuals, int) or residuals < 1:
        r.fail(base + "residuals", f"must be a positive integer (how many held-out residuals), got {residuals!r}")
    fitted = doc.get("fitted_precisions", [])
    if not isinstance(fitted, list) or any(p not in PRECISIONS for p in fitted):
        r.fail(base + "fitted_precisions", f"must be a list of precisions {PRECISIONS}, got {fitted!r}")
    classes = doc.get("fitted_classes", [])
    if not isinstance(classes, list) or any(c not in OP_CLASSES for c in classes):
        r.fail(base + "fitted_classes", f"must be a list of operator classes {OP_CLASSES}, got {classes!r}")
    hw = doc.get("fitted_input_hw")
    if hw is not None and (not isinstance(hw, list) or len(hw) != 2 or not all(
            isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in hw) or hw[0] > hw[1]):
        r.fail(base + "fitted_input_hw", f"must be [smallest, largest] input size in pixels, got {hw!r}")
    try:
        return Uncertainty(
            coverage=float(coverage), residuals=residuals, method=r.text(doc, "method", base),
            half_width=r.number(doc, "half_width", base, at + ("half_width",), high=10.0),
            fitted_precisions=tuple(fitted), fitted_classes=tuple(classes),
            fitted_input_hw=tuple(hw) if hw is not None else None,
            size_slope=r.number(doc, "size_slope", base, at + ("size_slope",), high=10.0),
            unseen_factor=r.number(doc, "unseen_factor", base, at + ("unseen_factor",), low=1.0, high=100.0),
        )
    except ValueError as exc:
        r.fail("uncertainty", str(exc))


def _read_layer_models(r: _Reader, models_doc: dict) -> dict:
    if "default" not in models_doc:
        r.fail("layer_models.default", "is missing (the model for operator classes without their own)")
    models = {}
    for op_class, spec in models_doc.items():
        base = f"layer_models.{op_class}"
        if op_class != "default" and op_class not in OP_CLASSES:
            r.fail(base, f"is not an operator class; known: {OP_CLASSES}")
        if not isinstance(spec, dict) or "form" not in spec:
            r.fail(base, 'must be {"form": NAME, "params": {...}, "source": KEY}')
        if set(spec) - {"form", "params", "source", "note"}:
            r.fail(base, f"has unknown keys {sorted(set(spec) - {'form', 'params', 'source', 'note'})}; "
                         "allowed: form, params, source, note")
        r.source(spec.get("source"), base)
        params = spec.get("params", {})
        if not isinstance(params, dict):
            r.fail(base + ".params", "must be an object")
        note = spec.get("note")
        if note is not None and not isinstance(note, str):
            r.fail(base + ".note", f"must be a string, got {show(note)}")
        try:
            clean = validate_cost_params(spec["form"], params, f"{r.where}: {base}.params")
        except ValueError as exc:
            raise ProfileError(str(exc)) from None
        stated = {key: clean[key] for key in params}   # the form's defaults stay implicit, as written
        models[op_class] = LayerModel(form=spec["form"], stated=MappingProxyType(stated), source=spec["source"],
                                      note=note)
    return models


def _read_network_term(r: _Reader, doc: dict | None) -> NetworkTerm | None:
    """``{"form": FORM, "source": KEY, "params": {the form's parameters}[, "note"]}``.

    Forms and their parameters: ``power_law`` {gamma, reference_ms, lower_ms, upper_ms},
    ``critical_path`` {parallel} (``estimator._network_term``).
    """
    if doc is None:
        return None
    allowed = {"form", "source", "params", "note"}
    if set(doc) - allowed:
        r.fail("network_term", f"has unknown keys {sorted(set(doc) - allowed)}; allowed: {sorted(allowed)}")
    r.source(doc.get("source"), "network_term")
    form = doc.get("form")
    if not isinstance(form, str) or form not in NETWORK_TERM_PARAMS:
        r.fail("network_term.form", f"must be one of {list(NETWORK_TERM_PARAMS)}, got {show(form)}")
    params = doc.get("params")
    names = NETWORK_TERM_PARAMS[form]
    if not isinstance(params, dict) or set(params) != set(names):
        r.fail("network_term.params", f"must be an object with exactly {list(names)}, got {show(params)}")
    values = {name: r.check_number(params[name], f"network_term.params.{name}", high=1e7, positive=name != "parallel")
              for name in names}
    try:
        term = NetworkTerm(form=form, **values)
    except ValueError as exc:
        raise ProfileError(f"{r.where}: {exc}") from None
    r.citations[("network_term",)] = Citation(source=doc["source"], note=doc.get("note"))
    return term


def _read_signature_residuals(r: _Reader, doc: dict | None) -> SignatureResiduals | None:
    """``{"source": KEY, "strength": S, "residual_ms": {SIGNATURE: ms, ...}[, "note"]}`` (``estimator._signatures``)."""
    if doc is None:
        return None
    allowed = {"source", "strength", "residual_ms", "note"}
    if set(doc) - allowed or not {"strength", "residual_ms"} <= set(doc):
        r.fail("signature_residuals", f"must have source, strength and residual_ms (and an optional note), got "
                                      f"{sorted(doc)}")
    r.source(doc.get("source"), "signature_residuals")
    table = doc["residual_ms"]
    if not isinstance(table, dict):
        r.fail("signature_residuals.residual_ms", f"must be an object of signature -> ms, got {show(table)}")
    values = {key: r.check_number(value, f"signature_residuals.residual_ms[{_capped(key)}]", low=-1e5, high=1e5)
              for key, value in table.items()}
    strength = r.check_number(doc["strength"], "signature_residuals.strength", high=1e7, positive=True)
    try:
        residuals = SignatureResiduals(residual_ms=MappingProxyType(values), strength=strength)
    except ValueError as exc:
        raise ProfileError(f"{r.where}: {exc}") from None
    r.citations[("signature_residuals",)] = Citation(source=doc["source"], note=doc.get("note"))
    return residuals


# ---- provenance -----------------------------------------------------------------------------------------------

def _read_provenance(r: _Reader, doc) -> Provenance:
    """The typed parts of the ``provenance`` object; every other key is kept as written, in ``details``."""
    if not isinstance(doc, dict):
        r.fail("provenance", "must be an object describing what the profile was fitted on")
    doc = copy.deepcopy(doc)
    fields = {}
    try:
        for key in ("fitted_on", "precision", "base_profile", "date"):
            if key in doc:
                fields[key] = _typed(doc.pop(key), str, f"provenance.{key}")
        for key in ("n_networks", "folds"):
            if key in doc:
                fields[key] = _typed(doc.pop(key), int, f"provenance.{key}")
        for key in ("ridge", "fitted_input_hw_max", "fitted_input_hw_min"):
            if key in doc:
                fields[key] = _typed(doc.pop(key), (int, float), f"provenance.{key}")
        for key in ("fitted_classes", "fixed_size_classes"):
            if key in doc:
                fields[key] = tuple(_typed(c, str, f"provenance.{key}[]") for c in _typed(doc.pop(key), list,
                                                                                          f"provenance.{key}"))
        for key in ("cross_validation", "training"):
            if key in doc:
                fields[key] = _metrics(doc.pop(key), f"provenance.{key}")
        for key in ("sibling_merge", "memory_terms", "network_term", "signature_residuals"):
            if key in doc:
                fields[key] = _choice(doc.pop(key), f"provenance.{key}")
        if "power_fit" in doc:
            fields["power_fit"] = _power_fit(doc.pop("power_fit"))
        if "validation" in doc:
            fields["validation"] = _held_out(doc.pop("validation"))
    except (TypeError, KeyError, ValueError) as exc:
        r.fail("provenance", f"is not a provenance record edgeperf wrote: {exc}")
    return Provenance(**fields, details=freeze(doc))


def _typed(value, kind, path: str):
    if isinstance(value, bool) or not isinstance(value, kind):
        raise TypeError(f"{path} has the wrong type ({show(value)})")
    return value


def _metrics(doc, path: str) -> Metrics:
    doc = _typed(doc, dict, path)
    if set(doc) != set(_METRIC_KEYS):
        raise KeyError(f"{path} needs exactly {_METRIC_KEYS}, got {sorted(doc)}")
    spearman = doc["spearman"]
    return Metrics(mape=float(_typed(doc["mape"], (int, float), path + ".mape")),
                   within_10pct=float(_typed(doc["within_10pct"], (int, float), path + ".within_10pct")),
                   spearman=None if spearman is None else float(_typed(spearman, (int, float), path + ".spearman")),
                   n=_typed(doc["n"], int, path + ".n"))


def _choice(doc, path: str) -> CrossValidatedChoice:
    doc = _typed(doc, dict, path)
    options = {key.removeprefix("cv_mape_"): float(_typed(v, (int, float), f"{path}.{key}"))
               for key, v in doc.items() if key.startswith("cv_mape_")}
    if "chosen" not in doc or len(options) + 1 != len(doc):
        raise KeyError(f"{path} needs 'chosen' and cv_mape_OPTION entries, got {sorted(doc)}")
    chosen = doc["chosen"]
    if not isinstance(chosen, (bool, str)):
        raise TypeError(f"{path}.chosen must be true, false or an option name, got {show(chosen)}")
    return CrossValidatedChoice(chosen=chosen, cv_mape=MappingProxyType(options))


def _power_fit(doc) -> PowerFitRecord:
    doc = _typed(doc, dict, "provenance.power_fit")
    return PowerFitRecord(busy_points=_typed(doc["busy_points"], int, "busy_points"),
                          idle_points=_typed(doc["idle_points"], int, "idle_points"),
                          idle_from=_typed(doc["idle_from"], str, "idle_from"),
                          coefficients_mw=MappingProxyType({str(k): float(_typed(v, (int, float), "coefficients_mw"))
                                                            for k, v in _typed(doc["coefficients_mw"], dict,
                                                                               "coefficients_mw").items()}),
                          max_abs_residual_mw=float(_typed(doc["max_abs_residual_mw"], (int, float), "residual")),
                          source=_typed(doc["source"], str, "source"))


def _held_out(doc) -> HeldOutErrors:
    doc = _typed(doc, dict, "provenance.validation")
    return HeldOutErrors(metrics=_metrics({k: doc[k] for k in _METRIC_KEYS}, "provenance.validation"),
                         median_abs_error=float(_typed(doc["median_abs_error"], (int, float), "median_abs_error")),
                         max_abs_error=float(_typed(doc["max_abs_error"], (int, float), "max_abs_error")))
