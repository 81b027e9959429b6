"""Shipped board profiles reduced to their datasheet facts, for tests that compute estimates by hand."""

from __future__ import annotations

import json

from edgeperf.profiles import Profile, load_profile, parse_profile

__all__ = ["datasheet", "datasheet_document", "datasheet_file"]


def datasheet_document(name: str) -> dict:
    """``name``'s document as a pure roofline at its datasheet peaks and bandwidth.

    Layer models at efficiency 1 without overheads; no per-inference overhead, parameter streaming,
    Winograd work scale or interval; the datasheet int8 peak where a fit replaced it; kind
    ``datasheet`` (estimates say their latency is a bound) and no provenance. The runtime mapping
    (fusion, folding, copy elision) is kept.
    """
    document = load_profile(name).to_document()
    document["kind"] = "datasheet"
    source = next(iter(document["sources"]))
    document["layer_models"] = {"default": {"form": "roofline", "source": source,
                                            "params": {"compute_efficiency": 1.0, "memory_efficiency": 1.0,
                                                       "overhead_ms": 0.0}}}
    for key in ("inference_overhead_ms", "parameter_memory", "uncertainty"):
        document.pop(key, None)
    document["mapping"].pop("winograd", None)
    kept = document.pop("provenance", {}).get("datasheet_int8_peak")
    if kept:
        document["precisions"]["int8"]["peak_gflops"] = kept
    return json.loads(json.dumps(document))


def datasheet(name: str, edit=None) -> Profile:
    """:func:`datasheet_document` of ``name``, after ``edit(document)`` if given, parsed."""
    document = datasheet_document(name)
    if edit is not None:
        edit(document)
    return parse_profile(document, where=f"{name} (datasheet roofline)")


def datasheet_file(name: str, folder) -> str:
    """:func:`datasheet_document` of ``name`` written to ``folder/NAME-datasheet.json`` (for the command line)."""
    path = folder / f"{name}-datasheet.json"
    path.write_text(json.dumps(datasheet_document(name)))
    return str(path)
