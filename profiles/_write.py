"""The profile JSON schema's one serializer: :func:`profile_document`, behind :meth:`Profile.to_document`.

Writes a :class:`~edgeperf.profiles.Profile` back as the document :func:`parse_profile` reads
(``_schema``, section by section in the same order): every number as ``{"value", "source"[, "note"]}``
from the profile's citations, optional parts only where the profile has them. It reads the
profile's attributes and imports none of its classes, so :meth:`Profile.to_document` can call it.
"""

from __future__ import annotations

import copy
import json

from .._atomic import write_text_atomic
from .._errors import ProfileError
from .._messages import show
from ._provenance import thaw

__all__ = ["profile_document", "write_profile_file", "SCHEMA_VERSION"]

SCHEMA_VERSION = 1
#: The keys of a thermal section, in the order they are written (the parser accepts these only).
THERMAL_KEYS = ("domain", "ambient_c", "idle_c", "resistance_c_per_w", "time_constant_s", "poll_ms", "hysteresis_c",
                "levels", "first_inference_ms", "fan")
#: The keys of an uncertainty section, in the order they are written (the parser accepts these only).
UNCERTAINTY_KEYS = ("coverage", "half_width", "residuals", "method", "fitted_precisions", "fitted_input_hw",
                    "fitted_classes", "size_slope", "unseen_factor")
#: The keys of a metrics record in provenance.
METRIC_KEYS = ("mape", "within_10pct", "spearman", "n")


class _Writer:
    """Writes numbers as ``{"value", "source"[, "note"]}`` from the profile's citations."""

    def __init__(self, profile):
        self.citations = profile.citations

    def cited(self, address: tuple) -> bool:
        return address in self.citations

    def number(self, address: tuple, value) -> dict:
        citation = self.citations.get(address)
        if citation is None:
            raise ProfileError(f"the number at {'.'.join(map(str, address))} ({show(value)}) cites no source; "
                               "a fitter must cite every number it sets")
        entry = {"value": list(value) if isinstance(value, tuple) else value, "source": citation.source}
        if citation.note is not None:
            entry["note"] = citation.note
        return entry


def profile_document(profile) -> dict:
    """The JSON document of ``profile`` (what :func:`parse_profile` reads back to an equal profile).

    Optional parts are written when the profile has them: numbers that cite a source, a title
    other than the name, non-empty lists and sections.
    """
    w = _Writer(profile)
    document = {"schema_version": SCHEMA_VERSION, "name": profile.name, "version": profile.version,
                "kind": profile.kind}
    if profile.title != profile.name:
        document["title"] = profile.title
    document["quality"] = profile.quality
    document["sources"] = dict(profile.sources)
    if profile.runtime:
        document["runtime"] = thaw(profile.runtime)
    if profile.device:
        document["device"] = thaw(profile.device)
    document["precisions"] = {p: {"peak_gflops": w.number(("precisions", p), peak)}
                              for p, peak in profile.precisions.items()}
    document["default_precision"] = profile.default_precision
    document["memory_bandwidth_gbps"] = w.number(("memory_bandwidth_gbps",), profile.memory_bandwidth_gbps)
    if profile.memory_bytes is not None:
        document["memory_bytes"] = w.number(("memory_bytes",), profile.memory_bytes)
    if profile.unit_cost_eur is not None:
        document["unit_cost_eur"] = w.number(("unit_cost_eur",), profile.unit_cost_eur)
    document["clocks"] = _write_clocks(w, profile)
    if profile.power_modes:
        document["power_modes"] = {mode: {"caps_mhz": {d: w.number(("power_modes", mode, d), cap)
                                                       for d, cap in caps.items()}}
                                   for mode, caps in profile.power_modes.items()}
    if profile.default_power_mode is not None:
        document["default_power_mode"] = profile.default_power_mode
    document["power"] = _write_power(w, profile.power)
    document["mapping"] = _write_mapping(w, profile.mapping)
    document["layer_models"] = {op_class: _write_layer_model(model) for op_class, model in profile.layer_models.items()}
    if profile.thermal is not None:
        document["thermal"] = _write_thermal(w, profile.thermal)
    if w.cited(("inference_overhead_ms",)) or profile.inference_overhead_ms:
        document["inference_overhead_ms"] = w.number(("inference_overhead_ms",), profile.inference_overhead_ms)
    if profile.parameter_memory is not None:
        memory = profile.parameter_memory
        document["parameter_memory"] = {
            "on_chip_bytes": w.number(("parameter_memory", "on_chip_bytes"), memory.on_chip_bytes),
            "stream_gbps": w.number(("parameter_memory", "stream_gbps"), memory.stream_gbps)}
    if profile.uncertainty is not None:
        document["uncertainty"] = _write_uncertainty(w, profile.uncertainty)
    if profile.runtime_support is not None:
        document["runtime_support"] = _write_runtime_support(w, profile.runtime_support)
    if getattr(profile, "operating", None) is not None:
        document["operating_model"] = profile.operating.name
    if profile.network_term is not None:
        document["network_term"] = _write_network_term(w, profile.network_term)
    if getattr(profile, "signature_residuals", None) is not None:
        document["signature_residuals"] = _write_signature_residuals(w, profile.signature_residuals)
    provenance = _write_provenance(profile.provenance)
    if provenance:
        document["provenance"] = provenance
    return document


def write_profile_file(profile, path) -> None:
    """Write ``profile`` as JSON to ``path``, atomically (readers see the old file or the new one).

    Raises
    ------
    InputError
        If ``path`` is a directory or its folder does not exist.
    """
    text = json.dumps(profile_document(profile), indent=2, allow_nan=False) + "\n"
    write_text_atomic(path, text)


def _write_clocks(w: _Writer, profile) -> dict:
    domains = {}
    for name, domain in profile.clocks.items():
        at = ("clocks", name)
        spec = {"reference_mhz": w.number(at + ("reference_mhz",), domain.reference_mhz)}
        if w.cited(at + ("available_mhz",)) or domain.available_mhz != (domain.reference_mhz,):
            spec["available_mhz"] = w.number(at + ("available_mhz",), domain.available_mhz)
        if domain.voltage_v is not None:
            spec["voltage_v"] = w.number(at + ("voltage_v",), domain.voltage_v)
        domains[name] = spec
    return {"compute_domain": profile.compute_domain, "memory_domain": profile.memory_domain, "domains": domains}


def _write_power(w: _Writer, power) -> dict:
    document = {"idle_mw": w.number(("power", "idle_mw"), power.idle_mw),
                "active_mw": {c: w.number(("power", "active_mw", c), mw) for c, mw in power.active_mw.items()}}
    if power.domain_mw:
        document["domain_mw"] = {d: w.number(("power", "domain_mw", d), mw) for d, mw in power.domain_mw.items()}
    for key in ("pj_per_flop", "pj_per_byte"):
        if w.cited(("power", key)) or getattr(power, key, 0.0):
            document[key] = w.number(("power", key), getattr(power, key))
    document["calibrated"] = power.calibrated
    return document


def _write_thermal(w: _Writer, thermal) -> dict:
    def steps(name: str, items, field: str) -> list:
        return [{"temp_c": w.number(("thermal", name, i, "temp_c"), item.temp_c),
                 field: w.number(("thermal", name, i, field), getattr(item, field))} for i, item in enumerate(items)]

    document = {"domain": thermal.domain}
    for key in ("ambient_c", "idle_c", "resistance_c_per_w", "time_constant_s", "poll_ms", "hysteresis_c"):
        document[key] = w.number(("thermal", key), getattr(thermal, key))
    document["levels"] = steps("levels", thermal.levels, "cap_mhz")
    if w.cited(("thermal", "first_inference_ms")) or thermal.first_inference_ms:
        document["first_inference_ms"] = w.number(("thermal", "first_inference_ms"), thermal.first_inference_ms)
    if thermal.fan:
        document["fan"] = steps("fan", thermal.fan, "resistance_c_per_w")
    return document


def _write_network_term(w: _Writer, term) -> dict:
    params = term.params
    cited = w.number(("network_term",), next(iter(params.values())))   # the term's citation (one source for all)
    document = {"form": term.form, "source": cited["source"], "params": params}
    if "note" in cited:
        document["note"] = cited["note"]
    return document


def _write_signature_residuals(w: _Writer, residuals) -> dict:
    cited = w.number(("signature_residuals",), residuals.strength)   # one source for the whole table
    document = {"source": cited["source"], "strength": residuals.strength, "residual_ms": dict(residuals.residual_ms)}
    if "note" in cited:
        document["note"] = cited["note"]
    return document


def _write_runtime_support(w: _Writer, support) -> dict:
    document = {"table": support.table}
    for key in ("host_profile", "link_gbps"):
        if w.cited(("runtime_support", key)):
            document[key] = w.number(("runtime_support", key), getattr(support, key))
    return document


def _write_mapping(w: _Writer, mapping) -> dict:
    rules = []
    for rule in mapping.rules:
        entry = {"name": rule.name, "primary": list(rule.primary), "followers": list(rule.followers),
                 "max_followers": rule.max_followers}
        if rule.absorb_inputs:
            entry["absorb_inputs"] = list(rule.absorb_inputs)
        if rule.subgraph:
            entry["subgraph"] = True
        entry["source"] = rule.source
        rules.append(entry)
    document = {"runtime": mapping.runtime, "elide": list(mapping.elide)}
    if mapping.fold:
        document["fold"] = {"op_types": list(mapping.fold), "source": mapping.fold_source}
    if mapping.weight_storage:
        document["weight_storage"] = {"op_types": list(mapping.weight_storage), "bits": mapping.weight_storage_bits,
                                      "source": mapping.weight_storage_source}
    if mapping.copy_elision:
        document["copy_elision"] = [{"op_types": list(c.op_types), "when": c.when, "source": c.source}
                                    for c in mapping.copy_elision]
    document["rules"] = rules
    if mapping.merge_siblings:
        document["merge_siblings"] = {"op_types": list(mapping.merge_siblings), "source": mapping.merge_source}
    if mapping.winograd is not None:
        wino = mapping.winograd
        document["winograd"] = {"kernel": wino.kernel, "stride": wino.stride, "min_channels": wino.min_channels,
                                "tile": wino.tile}
        if wino.choice != "faster":
            document["winograd"]["choice"] = wino.choice
        document["winograd"]["work_scale"] = w.number(("mapping", "winograd", "work_scale"), wino.work_scale)
    if mapping.nchwc is not None:
        document["nchwc"] = {"block": mapping.nchwc.block, "source": mapping.nchwc.source}
        if mapping.nchwc.pad_multiple is not None:
            document["nchwc"]["pad_multiple"] = mapping.nchwc.pad_multiple
    return document


def _write_uncertainty(w: _Writer, uncertainty) -> dict:
    at = ("uncertainty",)
    document = {"coverage": uncertainty.coverage, "half_width": w.number(at + ("half_width",), uncertainty.half_width),
                "residuals": uncertainty.residuals, "method": uncertainty.method}
    if uncertainty.fitted_precisions:
        document["fitted_precisions"] = list(uncertainty.fitted_precisions)
    if uncertainty.fitted_input_hw is not None:
        document["fitted_input_hw"] = list(uncertainty.fitted_input_hw)
    if uncertainty.fitted_classes:
        document["fitted_classes"] = list(uncertainty.fitted_classes)
    document["size_slope"] = w.number(at + ("size_slope",), uncertainty.size_slope)
    document["unseen_factor"] = w.number(at + ("unseen_factor",), uncertainty.unseen_factor)
    return document


def _write_layer_model(model) -> dict:
    document = {"form": model.form, "params": copy.deepcopy(dict(model.stated)), "source": model.source}
    if model.note is not None:
        document["note"] = model.note
    return document


def _write_provenance(provenance) -> dict:
    document = {}
    for key in ("fitted_on", "n_networks", "precision", "base_profile", "ridge", "folds"):
        if getattr(provenance, key) is not None:
            document[key] = getattr(provenance, key)
    for key in ("cross_validation", "training"):
        if getattr(provenance, key) is not None:
            document[key] = getattr(provenance, key).to_dict()
    if provenance.fitted_classes is not None:
        document["fitted_classes"] = list(provenance.fitted_classes)
    if provenance.date is not None:
        document["date"] = provenance.date
    if provenance.fixed_size_classes is not None:
        document["fixed_size_classes"] = list(provenance.fixed_size_classes)
    for key in ("sibling_merge", "memory_terms", "network_term", "signature_residuals", "power_fit", "validation"):
        if getattr(provenance, key) is not None:
            document[key] = getattr(provenance, key).to_dict()
    for key in ("fitted_input_hw_min", "fitted_input_hw_max"):
        if getattr(provenance, key) is not None:
            document[key] = getattr(provenance, key)
    document.update(thaw(provenance.details))
    return document
