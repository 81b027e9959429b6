"""Profile documents of the board profiles: a base document's datasheet facts plus a runtime mapping and the fit.

``with_runtime`` puts a runtime's mapping (``data/runtimes.json``) into a base document;
``fitted_document`` and ``derived_document`` write the board model's coefficients as the profile's
roofline layer models, per-inference overhead, parameter memory, Winograd work scale, effective int8
peak, uncertainty and provenance. Each number carries a source key that says what it was fitted on.
"""

from __future__ import annotations

import copy
import datetime as _dt
import json
from functools import lru_cache
from pathlib import Path

from ..profiles import Profile, parse_profile

__all__ = ["runtime_mappings", "with_runtime", "fitted_document", "layer_models"]

_RUNTIMES = Path(__file__).resolve().parent / "data" / "runtimes.json"


@lru_cache(maxsize=1)
def _runtimes_file() -> dict:
    return json.loads(_RUNTIMES.read_text(encoding="utf-8"))


def runtime_mappings() -> tuple[str, ...]:
    """Names of the runtimes whose mapping is known (``tensorrt``, ``tflite``, ...)."""
    return tuple(sorted(_runtimes_file()["runtimes"]))


def with_runtime(base: dict, runtime: str, *, winograd_scale: float = 0.5, winograd_source: str = "winograd-prior",
                 name: str | None = None) -> dict:
    """``base`` with ``runtime``'s mapping and the sources it cites (a new document)."""
    data = _runtimes_file()
    if runtime not in data["runtimes"]:
        raise ValueError(f"unknown runtime {runtime!r}; known: {runtime_mappings()}")
    document = copy.deepcopy(dict(base))
    mapping = copy.deepcopy(data["runtimes"][runtime])
    cited = _cited(mapping) | {winograd_source}
    document["sources"] = {**document["sources"], **{k: v for k, v in data["sources"].items() if k in cited}}
    if "winograd" in mapping:
        mapping["winograd"]["work_scale"] = {"value": winograd_scale, "source": winograd_source}
    document["mapping"] = mapping
    if name:
        document["name"] = name
    return document


def _cited(mapping: dict) -> set:
    keys = {rule["source"] for rule in mapping.get("rules", [])}
    keys |= {entry["source"] for entry in mapping.get("copy_elision", [])}
    for key in ("fold", "merge_siblings"):
        if key in mapping:
            keys.add(mapping[key]["source"])
    return keys


def runtime_profile(base: dict, runtime: str) -> Profile:
    """The base document's datasheet facts with the runtime's mapping, parsed (for computing fit features)."""
    document = with_runtime(base, runtime)
    if "int8" in document["precisions"]:
        document["precisions"]["int8"]["peak_gflops"] = datasheet_int8_entry(base)
    return parse_profile(document, where=f"{base.get('name')} with {runtime}")


def layer_models(params: dict, key: str, note: str) -> dict:
    """The board model's coefficients as roofline layer models (see ``_model``)."""
    e, m, o = params["compute_efficiency"], params["memory_efficiency"], params["layer_overhead_ms"]

    def model(efficiency: float, what: str) -> dict:
        return {"form": "roofline", "source": key, "note": f"{what}; {note}",
                "params": {"compute_efficiency": min(efficiency, 1.0), "memory_efficiency": min(m, 1.0),
                           "overhead_ms": o}}

    return {
        "default": model(e, "compute_efficiency, memory_efficiency and overhead_ms of every executed layer"),
        "conv": model(e, "dense and grouped convolutions"),
        "gemm": model(e, "fully connected layers and matrix products"),
        "dwconv": model(e * params["depthwise_ratio"],
                        f"depthwise: compute_efficiency x depthwise_ratio {params['depthwise_ratio']:.3g}"),
    }


def datasheet_int8_entry(base: dict) -> dict:
    """The datasheet int8 peak entry of a base document (kept in provenance once a fit replaced it)."""
    kept = base.get("provenance", {}).get("datasheet_int8_peak")
    return dict(kept) if kept else dict(base["precisions"]["int8"]["peak_gflops"])


def datasheet_int8_peak(base: dict) -> float:
    return float(datasheet_int8_entry(base)["value"])


def fitted_document(base: dict, *, name: str, runtime: str, params: dict, kind: str, key: str, source_text: str,
                    quality: str, provenance: dict, uncertainty: dict, int8_ratio: float | None,
                    parameter_memory: dict | None, coefficient_note: str, keep_layer_models: bool = False) -> dict:
    """A complete board profile document (validated by parsing it)."""
    document = with_runtime(base, runtime, winograd_scale=params.get("winograd_scale", 1.0), winograd_source=key,
                            name=name)
    document["kind"] = kind
    document["version"] = _dt.date.today().isoformat()
    document["quality"] = quality
    document["sources"][key] = source_text
    if keep_layer_models:   # the base's per-class throughput stays; only the fitted per-layer overhead is added
        kept = copy.deepcopy(document["layer_models"])
        for model in kept.values():
            model["params"] = {**model.get("params", {}), "overhead_ms": params["layer_overhead_ms"]}
            model["note"] = f"{model.get('note', 'throughput from ' + model['source'])}; overhead_ms from {key}"
        document["layer_models"] = kept
    else:
        document["layer_models"] = layer_models(params, key, coefficient_note)
    document["inference_overhead_ms"] = {"value": params["inference_overhead_ms"], "source": key,
                                         "note": "per inference, outside every layer: runtime call, copies, harness"}
    if int8_ratio is not None and "int8" in document["precisions"]:
        datasheet = datasheet_int8_peak(base)
        document["precisions"]["int8"]["peak_gflops"] = {
            "value": datasheet * int8_ratio, "source": key,
            "note": f"effective int8 peak: the datasheet-derived {datasheet:g} GFLOP/s (provenance.datasheet_int8_peak) "
                    f"x int8_ratio {int8_ratio:.3g}"}
        provenance = {**provenance, "datasheet_int8_peak": datasheet_int8_entry(base)}
    if parameter_memory is not None:
        document["parameter_memory"] = parameter_memory
    else:
        document.pop("parameter_memory", None)
    document["uncertainty"] = uncertainty
    document["provenance"] = provenance
    parse_profile(document, where=name)
    return document
