"""Accuracy catalog: published accuracy of networks and the effect of fp16/int8 quantization.

The shipped catalog (``zoo/data/accuracy.json``) holds top-1 ImageNet (or MNIST)
accuracy with sources, and measured int8 deltas where published; other int8 drops
come from documented default rules (standard CNN vs depthwise/squeeze-excite
networks). A user catalog in the same format adds or overrides entries for their
own models (``load_catalog("mine.json")``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from .._errors import InputError
from .._json import loads_finite, read_json_file
from .._messages import show
from .._userfile import user_path

__all__ = ["Accuracy", "Catalog", "load_catalog", "SHIPPED_CATALOG"]

SHIPPED_CATALOG = Path(__file__).resolve().parent / "data" / "accuracy.json"
_PRECISIONS = ("fp32", "fp16", "bf16", "int8")


@dataclass(frozen=True, slots=True, kw_only=True)
class Accuracy:
    """Accuracy of one model at one precision (percent or mAP/mIoU points, as ``metric`` says)."""

    model: str
    metric: str
    precision: str
    value: float
    baseline: float
    delta: float
    dataset: str
    source: str
    delta_source: str

    def to_dict(self) -> dict:
        return {"model": self.model, "metric": self.metric, "precision": self.precision, "value": self.value,
                "baseline": self.baseline, "delta": self.delta, "dataset": self.dataset, "source": self.source,
                "delta_source": self.delta_source}


def _number(value, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InputError(f"{where} must be a finite number, got {show(value)}")
    return float(value)


def _validate(document, where: str) -> dict:
    if not isinstance(document, dict) or document.get("schema_version") != 1:
        raise InputError(f"{where}: an accuracy catalog is a JSON object with schema_version 1")
    sources = document.get("sources", {})
    models = document.get("models", {})
    if not isinstance(sources, dict) or not isinstance(models, dict):
        raise InputError(f"{where}: 'sources' and 'models' must be JSON objects")
    for name, entry in models.items():
        base = f"{where}: models.{name}"
        if not isinstance(entry, dict):
            raise InputError(f"{base} must be an object with metric, value, dataset, source")
        for key in ("metric", "dataset", "source"):
            if not isinstance(entry.get(key), str) or not entry[key]:
                raise InputError(f"{base}.{key} must be a non-empty string, got {show(entry.get(key))}")
        value = _number(entry.get("value"), f"{base}.value")
        if not 0 <= value <= 100:
            raise InputError(f"{base}.value must be between 0 and 100 (percent or points), got {value}")
        for precision in ("fp16", "int8"):
            if precision in entry:
                spec = entry[precision]
                if not isinstance(spec, dict):
                    raise InputError(f"{base}.{precision} must be an object with delta and source")
                _number(spec.get("delta"), f"{base}.{precision}.delta")
    return document


def _read(path) -> dict:
    return read_json_file(path, what="an accuracy catalog", limit=16 * 2**20)


@dataclass(frozen=True, slots=True, eq=False)
class Catalog:
    """Accuracy entries by model name, with default quantization rules."""

    models: MappingProxyType
    sources: MappingProxyType
    defaults: MappingProxyType
    depthwise: frozenset

    def names(self) -> tuple[str, ...]:
        return tuple(sorted(self.models))

    def accuracy(self, model: str, precision: str = "fp32") -> Accuracy | None:
        """Accuracy of ``model`` at ``precision``, or None when the catalog has no entry.

        Raises
        ------
        InputError
            For an unknown precision.
        """
        if precision not in _PRECISIONS:
            raise InputError(f"precision {show(precision)} is not one of {_PRECISIONS}")
        entry = self.models.get(model)
        if entry is None:
            return None
        delta, delta_source = 0.0, entry["source"]
        if precision in ("fp16", "bf16"):
            spec = entry.get("fp16", self.defaults["fp16"])
            delta, delta_source = float(spec["delta"]), spec["source"]
        elif precision == "int8":
            if "int8" in entry:
                delta, delta_source = float(entry["int8"]["delta"]), entry["int8"]["source"]
            else:
                rule = self.defaults["int8"]
                delta = float(rule["depthwise" if model in self.depthwise else "standard"])
                delta_source = rule["source"]
        return Accuracy(model=model, metric=entry["metric"], precision=precision, value=entry["value"] + delta,
                        baseline=float(entry["value"]), delta=delta, dataset=entry["dataset"], source=entry["source"],
                        delta_source=delta_source)


def load_catalog(*paths) -> Catalog:
    """The shipped catalog with the given user catalogs merged over it (later files win).

    Raises
    ------
    InputError
        If a file is missing, not JSON, or violates the catalog format.
    """
    shipped = _validate(_read(SHIPPED_CATALOG), str(SHIPPED_CATALOG))
    models, sources = dict(shipped["models"]), dict(shipped["sources"])
    depthwise = set(shipped.get("depthwise_networks", []))
    for path in paths:
        user = _validate(_read(user_path(path, what="catalog")), str(path))
        models.update(user.get("models", {}))
        sources.update(user.get("sources", {}))
        depthwise.update(user.get("depthwise_networks", []))
    return Catalog(models=MappingProxyType(models), sources=MappingProxyType(sources),
                   defaults=MappingProxyType(dict(shipped["defaults"])), depthwise=frozenset(depthwise))
