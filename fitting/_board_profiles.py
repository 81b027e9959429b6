"""Board profiles as values: a base profile's datasheet facts plus a runtime mapping and the board model's fit.

``runtime_profile`` puts a shipped runtime mapping (``edgeperf.profiles.runtime_mapping``) into a
base profile, for computing fit features; ``board_profile`` makes the shipped profile: the board
model's coefficients as layer models (step_linear: compute plus memory time), the per-inference
overhead, the parameter memory, the Winograd work scale, the effective int8 peak, the interval model
and the provenance, each number citing the source that says what it was fitted on. Everything is
made with ``dataclasses.replace``; ``edgeperf.profiles`` writes the JSON.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, replace
from types import MappingProxyType

from ..estimator import ParameterMemory, Uncertainty
from ..profiles import Citation, LayerModel, Profile, Provenance, runtime_mapping
from ._board_model import COMBINE

__all__ = ["runtime_profile", "board_profile", "BoardDescription", "datasheet_int8"]

#: Where a fitted profile keeps its datasheet int8 peak once the fit replaced the peak by an effective one.
_DATASHEET_INT8 = "datasheet_int8_peak"


def datasheet_int8(base: Profile) -> tuple[float, Citation] | None:
    """The datasheet int8 peak (GFLOP/s) of ``base`` and its citation; None without int8.

    A board profile's int8 peak is the effective one (datasheet x fitted int8_ratio); the datasheet
    figure is kept in its provenance, where this reads it back (so a refit starts from the datasheet).
    """
    if "int8" not in base.precisions:
        return None
    kept = base.provenance.details.get(_DATASHEET_INT8)
    if kept is not None:
        return float(kept["value"]), Citation(source=kept["source"], note=kept.get("note"))
    return float(base.precisions["int8"]), base.citations[("precisions", "int8")]


def runtime_profile(base: Profile, runtime: str) -> Profile:
    """``base`` with ``runtime``'s shipped mapping and its datasheet int8 peak (for computing fit features)."""
    profile = runtime_mapping(runtime).apply(base)
    int8 = datasheet_int8(base)
    if int8 is not None:
        profile = replace(profile, precisions=MappingProxyType({**profile.precisions, "int8": int8[0]}),
                          citations=MappingProxyType({**profile.citations, ("precisions", "int8"): int8[1]}))
    return profile


def _layer_models(params: dict, key: str, note: str) -> dict:
    """The board model's coefficients as layer models (see ``_board_model``): ``step_linear`` without steps
    (compute and memory time added, :data:`COMBINE`), or rooflines where the model takes the larger."""
    e, m, o = params["compute_efficiency"], params["memory_efficiency"], params["layer_overhead_ms"]

    def model(efficiency: float, what: str) -> LayerModel:
        efficiency, memory = min(efficiency, 1.0), min(m, 1.0)
        if COMBINE == "sum":
            stated = {"compute_scale": 1.0 / efficiency, "memory_scale": 1.0 / memory, "overhead_ms": o}
            return LayerModel(form="step_linear", stated=MappingProxyType(stated), source=key,
                              note=f"{what}; compute_scale = 1 / compute_efficiency, memory_scale = 1 / "
                                   f"memory_efficiency; {note}")
        stated = {"compute_efficiency": efficiency, "memory_efficiency": memory, "overhead_ms": o}
        return LayerModel(form="roofline", stated=MappingProxyType(stated), source=key, note=f"{what}; {note}")

    return {
        "default": model(e, "compute_efficiency, memory_efficiency and overhead_ms of every executed layer"),
        "conv": model(e, "dense and grouped convolutions"),
        "gemm": model(e, "fully connected layers and matrix products"),
        "dwconv": model(e * params["depthwise_ratio"],
                        f"depthwise: compute_efficiency x depthwise_ratio {params['depthwise_ratio']:.3g}"),
    }


def _kept_layer_models(base: Profile, overhead_ms: float, key: str) -> dict:
    """The base's per-class throughput with the fitted per-layer overhead added (an accelerator whose
    throughput is a published fit of its own)."""
    kept = {}
    for op_class, model in base.layer_models.items():
        note = model.note or f"throughput from {model.source}"
        note = note.split("; overhead_ms from ")[0] + f"; overhead_ms from {key}"
        kept[op_class] = replace(model, stated=MappingProxyType({**model.stated, "overhead_ms": overhead_ms}),
                                 note=note)
    return kept


@dataclass(frozen=True, slots=True, kw_only=True)
class BoardDescription:
    """What a board profile says about itself besides its coefficients."""

    name: str
    runtime: str
    kind: str                      # "fitted" or "derived"
    key: str                       # the source key every fitted number cites
    source_text: str
    quality: str
    provenance: Provenance
    uncertainty: Uncertainty
    coefficient_note: str
    extra_sources: dict            # further source keys the numbers cite (interval widening)
    keep_layer_models: bool = False


def board_profile(base: Profile, params: dict, about: BoardDescription, *, int8_ratio: float | None,
                  parameter_memory: tuple[ParameterMemory, dict] | None) -> Profile:
    """A complete board profile from ``base``'s datasheet facts and the board model's ``params`` (linear scale).

    ``parameter_memory`` is the memory and its citations by address; None removes the base's.
    """
    key = about.key
    profile = runtime_mapping(about.runtime).apply(base)
    citations = {a: c for a, c in profile.citations.items() if a[0] not in ("parameter_memory", "uncertainty")}
    sources = {**profile.sources, **about.extra_sources, key: about.source_text}
    mapping = profile.mapping
    if mapping.winograd is not None:
        scale = params.get("winograd_scale", 1.0)
        mapping = replace(mapping, winograd=replace(mapping.winograd, work_scale=min(scale, 1.0)))
        citations[("mapping", "winograd", "work_scale")] = Citation(
            source=key, note=f"fitted winograd_scale {scale:.3g}: the share of a 3x3 convolution's multiply-adds "
                             "its Winograd kernel executes, transforms included")
    models = (_kept_layer_models(base, params["layer_overhead_ms"], key) if about.keep_layer_models
              else _layer_models(params, key, about.coefficient_note))
    citations[("inference_overhead_ms",)] = Citation(
        source=key, note="per inference, outside every layer: runtime call, copies, harness")
    precisions = dict(profile.precisions)
    provenance = about.provenance
    if int8_ratio is not None and "int8" in precisions:
        datasheet, cited = datasheet_int8(base)
        precisions["int8"] = datasheet * int8_ratio
        citations[("precisions", "int8")] = Citation(
            source=key, note=f"effective int8 peak: the datasheet-derived {datasheet:g} GFLOP/s (provenance."
                             f"{_DATASHEET_INT8}) x int8_ratio {int8_ratio:.3g}")
        kept = {"value": datasheet, "source": cited.source, **({"note": cited.note} if cited.note else {})}
        provenance = provenance.with_details(**{_DATASHEET_INT8: kept})
        sources.setdefault(cited.source, base.sources[cited.source])
    memory = None
    if parameter_memory is not None:
        memory, memory_citations = parameter_memory
        citations.update(memory_citations)
    for name in ("half_width", "size_slope", "unseen_factor"):
        citations[("uncertainty", name)] = Citation(source=key if name == "half_width" else "interval-widening")
    return replace(profile, name=about.name, kind=about.kind, version=_dt.date.today().isoformat(),
                   quality=about.quality, sources=MappingProxyType(sources), mapping=mapping,
                   precisions=MappingProxyType(precisions), layer_models=MappingProxyType(models),
                   inference_overhead_ms=params["inference_overhead_ms"], parameter_memory=memory,
                   uncertainty=about.uncertainty, provenance=provenance, citations=MappingProxyType(citations),
                   path="")
