"""Search specs: a hand-edited YAML (``yaml.safe_load``) or TOML file, validated into frozen values.

A spec names the candidates and what a good design is::

    name: traffic-light
    models:                          # zoo references or files; accuracy from the catalog or given
      - zoo:yolov5s
      - {model: zoo:yolov3_tiny, accuracy: 0.331}
    platforms:                       # shipped profile names or profile files; cost from the profile or given
      - jetson-nano
      - {platform: jetson-tx2, unit_cost_eur: 260}
    precisions: [fp32, fp16, int8]   # default: every precision each platform runs
    batches: [1, 8]                  # inferences per run (default [1]); energy per inference, latency per run
    operating_points: default        # default | power_modes | grid
    partition:                       # optional edge/server split
      server: jetson-xavier-nx
      links: [wifi, lora-sf7]        # shipped links, or {name: {kind: rate, uplink_mbps: 20, ...}}
      bits: [8, 4]
      compression_ratio: 0.5         # assumed, stated in the output
      max_cut_tensors: 1
    objectives: [min latency_ms, max accuracy]
    constraints:
      latency_ms: {max: 100}
      accuracy: {min: 0.5}
      cost_eur: {max: 300}
      memory: fits                   # weights fit the platform's memory (the default)

Every error names the file, the key path, the bad value and what is accepted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

from .._args import typed
from .._errors import InputError
from .._limits import check_toml_keys, check_tree
from .._messages import show
from .._numbers import json_number_hooks, number_problem
from .._userfile import probe, read_text, user_path
from ..zoo import is_reference, reference_name
from ._links import Link, make_link, shipped_links

__all__ = ["SearchSpec", "ModelChoice", "PlatformChoice", "PartitionSpec", "Constraint", "load_spec", "parse_spec",
           "METRICS", "MAX_SPEC_BYTES"]

#: Metrics a design has, usable as objectives and constraints, with their natural direction.
METRICS = {"latency_ms": "min", "latency_ms_high": "min", "energy_mj": "min", "accuracy": "max", "cost_eur": "min", "power_mw": "min",
           "memory_bytes": "min", "throughput_per_s": "max"}
_OBJECTIVE_METRICS = ("latency_ms", "latency_ms_high", "energy_mj", "accuracy", "cost_eur", "power_mw", "throughput_per_s")
MAX_SPEC_BYTES = 1024 * 1024
_MAX_ITEMS = 500
_POINT_MODES = ("default", "power_modes", "grid")


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelChoice:
    """A candidate network: its reference, label, and accuracy (fraction) when given in the spec."""

    ref: str
    name: str
    accuracy: float | None = None
    input_shapes: tuple[tuple[str, tuple[int, ...]], ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class PlatformChoice:
    """A candidate platform and the spec's overrides of its profile."""

    ref: str
    unit_cost_eur: float | None = None
    power_budget_mw: float | None = None
    memory_bytes: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PartitionSpec:
    """Edge/server split options."""

    server: str
    links: tuple[Link, ...]
    bits: tuple[int, ...]
    compression_ratio: float | None
    sample: str | None
    max_cut_tensors: int
    server_cost_eur: float
    accuracy_drop: tuple[tuple[int, float], ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Constraint:
    """``low <= metric <= high`` (either bound may be None)."""

    metric: str
    low: float | None = None
    high: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SearchSpec:
    """A validated search spec."""

    name: str
    models: tuple[ModelChoice, ...]
    platforms: tuple[PlatformChoice, ...]
    precisions: tuple[str, ...] | None
    operating_points: str
    partition: PartitionSpec | None
    objectives: tuple[tuple[str, str], ...]
    constraints: tuple[Constraint, ...]
    memory_fits: bool
    source: str
    mixed_accuracy_metrics: bool = False   # rank accuracies of different catalog metrics together (said in notes)
    batches: tuple[int, ...] = (1,)        # inferences per run, a dimension of the space


class _Checker:
    def __init__(self, where: str):
        self.where = where

    def fail(self, path: str, message: str):
        path = path if len(path) <= 200 else path[:200] + "..."     # keys come from the document: any length
        raise InputError(f"{self.where}: {path}: {message}")

    def mapping(self, value, path: str) -> dict:
        if not isinstance(value, dict):
            self.fail(path, f"must be a mapping, got {type(value).__name__}")
        for key in value:
            if not isinstance(key, str):
                self.fail(path, f"keys must be strings, got {show(key)}")
        return value

    def items(self, value, path: str) -> list:
        if isinstance(value, (str, dict)):
            value = [value]
        if not isinstance(value, list) or not value:
            self.fail(path, "must be a non-empty list")
        if len(value) > _MAX_ITEMS:
            self.fail(path, f"has {len(value)} entries; at most {_MAX_ITEMS}")
        return value

    def text(self, value, path: str) -> str:
        if not isinstance(value, str) or not value.strip() or len(value) > 4096:
            self.fail(path, f"must be a non-empty string, got {show(value)}")
        return value.strip()

    def number(self, value, path: str, *, low=-math.inf, high=math.inf) -> float:
        if isinstance(value, str):
            self.fail(path, f"must be a finite number, got {show(value)}")
        number, problem = number_problem(value, low=None if math.isinf(low) else low,
                                         high=None if math.isinf(high) else high)
        if problem is not None:
            self.fail(path, problem)
        return number

    def keys(self, value: dict, path: str, allowed: tuple[str, ...]) -> None:
        unknown = sorted(set(value) - set(allowed))
        if unknown:
            self.fail(path, f"unknown key(s) {unknown}; allowed: {', '.join(allowed)}")


def _accuracy(c: _Checker, value, path: str) -> float:
    number = c.number(value, path, low=0.0, high=math.inf)
    if number > 1.0:
        c.fail(path, f"accuracy is a fraction in [0, 1]; {number:g} looks like a percentage (write {number / 100:g})")
    return number


def _shapes(c: _Checker, value, path: str) -> tuple:
    from ..estimator import parse_input_shape

    texts = [value] if isinstance(value, str) else value
    if not isinstance(texts, list):
        c.fail(path, "must be NAME=1x3x224x224 or a list of those")
    try:
        return tuple(parse_input_shape(c.text(t, path)) for t in texts)
    except InputError as exc:
        c.fail(path, str(exc))


def _models(c: _Checker, value) -> tuple[ModelChoice, ...]:
    models = []
    for i, item in enumerate(c.items(value, "models")):
        path = f"models[{i}]"
        if isinstance(item, str):
            ref = c.text(item, path)
            models.append(ModelChoice(ref=ref, name=reference_name(ref)))
            continue
        item = c.mapping(item, path)
        c.keys(item, path, ("model", "name", "accuracy", "input_shape"))
        if "model" not in item:
            c.fail(path, "needs 'model' (a zoo:NAME reference or a model file)")
        ref = c.text(item["model"], path + ".model")
        models.append(ModelChoice(
            ref=ref, name=c.text(item.get("name", reference_name(ref)), path + ".name"),
            accuracy=_accuracy(c, item["accuracy"], path + ".accuracy") if "accuracy" in item else None,
            input_shapes=_shapes(c, item["input_shape"], path + ".input_shape") if "input_shape" in item else (),
        ))
    names = [m.name for m in models]
    duplicate = next((n for n in names if names.count(n) > 1), None)
    if duplicate:
        c.fail("models", f"name {show(duplicate)} appears twice; give each entry a distinct 'name'")
    return tuple(models)


def _platforms(c: _Checker, value) -> tuple[PlatformChoice, ...]:
    platforms = []
    for i, item in enumerate(c.items(value, "platforms")):
        path = f"platforms[{i}]"
        if isinstance(item, str):
            platforms.append(PlatformChoice(ref=c.text(item, path)))
            continue
        item = c.mapping(item, path)
        c.keys(item, path, ("platform", "unit_cost_eur", "power_budget_mw", "memory_bytes"))
        if "platform" not in item:
            c.fail(path, "needs 'platform' (a shipped profile name or a profile .json)")
        platforms.append(PlatformChoice(
            ref=c.text(item["platform"], path + ".platform"),
            unit_cost_eur=c.number(item["unit_cost_eur"], path + ".unit_cost_eur", low=0.0)
            if "unit_cost_eur" in item else None,
            power_budget_mw=c.number(item["power_budget_mw"], path + ".power_budget_mw", low=0.0)
            if "power_budget_mw" in item else None,
            memory_bytes=int(c.number(item["memory_bytes"], path + ".memory_bytes", low=1.0, high=2.0 ** 60))
            if "memory_bytes" in item else None,
        ))
    refs = [p.ref for p in platforms]
    duplicate = next((r for r in refs if refs.count(r) > 1), None)
    if duplicate:
        c.fail("platforms", f"{show(duplicate)} appears twice")
    return tuple(platforms)


def _links(c: _Checker, value) -> tuple[Link, ...]:
    shipped = shipped_links()
    links = []
    entries = value if isinstance(value, list) else [value]
    if not entries:
        c.fail("partition.links", "must list at least one link")
    for i, item in enumerate(entries):
        path = f"partition.links[{i}]"
        if isinstance(item, str):
            if item not in shipped:
                c.fail(path, f"unknown link {show(item)}; shipped links: {', '.join(shipped)} (or define one as a mapping)")
            links.append(shipped[item])
            continue
        item = c.mapping(item, path)
        if len(item) != 1:
            c.fail(path, "a custom link is {NAME: {kind: rate|lora, ...}} or {NAME: {base: wifi, uplink_mbps: ...}}")
        (name, fields), = item.items()
        fields = dict(c.mapping(fields, f"{path}.{name}"))
        base = fields.get("base")
        if base is not None:
            if base not in shipped:
                c.fail(f"{path}.{name}.base", f"unknown link {show(base)}; shipped: {', '.join(shipped)}")
            fields = {**shipped[base].fields(), **{k: v for k, v in fields.items() if k != "base"}}
        links.append(make_link(name, fields, f"{c.where}: {path}.{name}"))
    return tuple(links)


def _partition(c: _Checker, value) -> PartitionSpec | None:
    if value is None:
        return None
    value = c.mapping(value, "partition")
    allowed = ("server", "links", "bits", "compression_ratio", "sample", "max_cut_tensors", "server_cost_eur",
               "accuracy_drop")
    c.keys(value, "partition", allowed)
    for key in ("server", "links"):
        if key not in value:
            c.fail("partition", f"needs '{key}'")
    bits_value = value.get("bits", [8])
    bits_list = bits_value if isinstance(bits_value, list) else [bits_value]
    bits = []
    for i, b in enumerate(bits_list):
        if isinstance(b, bool) or not isinstance(b, int) or not 1 <= b <= 32:
            c.fail(f"partition.bits[{i}]", f"must be an integer number of bits 1..32, got {show(b)}")
        bits.append(b)
    ratio = value.get("compression_ratio")
    if ratio is not None:
        ratio = c.number(ratio, "partition.compression_ratio", low=1e-6, high=1.0)
    sample = c.text(value["sample"], "partition.sample") if "sample" in value else None
    if ratio is not None and sample is not None:
        c.fail("partition", "give either compression_ratio (assumed) or sample (measured), not both")
    tensors = value.get("max_cut_tensors", 1)
    if isinstance(tensors, bool) or not isinstance(tensors, int) or not 1 <= tensors <= 8:
        c.fail("partition.max_cut_tensors", f"must be an integer 1..8, got {show(tensors)}")
    drops = []
    drop_map = value.get("accuracy_drop", {})
    if not isinstance(drop_map, dict):
        c.fail("partition.accuracy_drop", "must map bit widths to accuracy drops (fractions), e.g. {4: 0.01}")
    for key, drop in drop_map.items():
        if isinstance(key, bool) or not (isinstance(key, int) or isinstance(key, str) and key.isdigit()):
            c.fail("partition.accuracy_drop", f"keys are bit widths, got {show(key)}")
        b = int(key)
        drops.append((b, c.number(drop, f"partition.accuracy_drop.{key}", low=0.0, high=1.0)))
    return PartitionSpec(
        server=c.text(value["server"], "partition.server"), links=_links(c, value["links"]),
        bits=tuple(sorted(set(bits), reverse=True)), compression_ratio=ratio, sample=sample,
        max_cut_tensors=tensors,
        server_cost_eur=c.number(value.get("server_cost_eur", 0.0), "partition.server_cost_eur", low=0.0),
        accuracy_drop=tuple(sorted(drops)),
    )


def _objectives(c: _Checker, value) -> tuple[tuple[str, str], ...]:
    objectives = []
    for i, item in enumerate(c.items(value if value is not None else ["min latency_ms", "max accuracy"], "objectives")):
        path = f"objectives[{i}]"
        words = c.text(item, path).split()
        if len(words) != 2 or words[0] not in ("min", "max") or words[1] not in _OBJECTIVE_METRICS:
            c.fail(path, f"must be 'min METRIC' or 'max METRIC' with METRIC one of {', '.join(_OBJECTIVE_METRICS)}; "
                         f"got {show(item)}")
        objectives.append((words[1], words[0]))
    metrics = [m for m, _ in objectives]
    if len(set(metrics)) != len(metrics):
        c.fail("objectives", "names a metric twice")
    return tuple(objectives)


def _constraints(c: _Checker, value) -> tuple[tuple[Constraint, ...], bool]:
    constraints, fits = [], True
    for metric, bound in c.mapping(value or {}, "constraints").items():
        path = f"constraints.{metric}"
        if metric == "memory":
            if bound not in ("fits", "ignore"):
                c.fail(path, f"must be 'fits' or 'ignore', got {show(bound)}")
            fits = bound == "fits"
            continue
        if metric not in METRICS:
            c.fail(path, f"unknown metric; constrain one of {', '.join(METRICS)} or memory")
        bound = c.mapping(bound, path)
        c.keys(bound, path, ("min", "max"))
        if not bound:
            c.fail(path, "needs min and/or max")
        low = c.number(bound["min"], path + ".min") if "min" in bound else None
        high = c.number(bound["max"], path + ".max") if "max" in bound else None
        if low is not None and high is not None and low > high:
            c.fail(path, f"min {low:g} is above max {high:g}")
        if metric == "accuracy":
            for b in (low, high):
                if b is not None and b > 1:
                    c.fail(path, f"accuracy is a fraction in [0, 1]; {b:g} looks like a percentage")
        constraints.append(Constraint(metric=metric, low=low, high=high))
    return tuple(constraints), fits


def _relative(ref: str, base: Path | None) -> str:
    """A file reference resolved against the spec's folder when it names a file there."""
    if base is None or is_reference(ref) or Path(ref).is_absolute():
        return ref
    candidate = base / ref
    return str(candidate) if probe(candidate) is not None else ref


@typed
def parse_spec(document, *, where: str = "spec", base: Path | None = None) -> SearchSpec:
    """Validate a spec document (already parsed YAML/TOML, or a dict built in code).

    File references (models, profile files, a partition sample) are resolved against ``base``
    (the spec file's folder) when they name a file there, else taken as given.

    Raises
    ------
    InputError
        Naming ``where``, the key path, the value and what is accepted.
    """
    c = _Checker(where)
    document = c.mapping(document, "top level")
    allowed = ("name", "models", "platforms", "precisions", "operating_points", "partition", "objectives",
               "constraints", "mixed_accuracy_metrics", "batches")
    c.keys(document, "top level", allowed)
    for key in ("models", "platforms"):
        if key not in document:
            c.fail("top level", f"needs '{key}'")
    precisions = document.get("precisions")
    if precisions is not None:
        from .._units import PRECISIONS

        precisions = c.items(precisions, "precisions")
        for i, p in enumerate(precisions):
            if p not in PRECISIONS:
                c.fail(f"precisions[{i}]", f"unknown precision {show(p)}; known: {', '.join(PRECISIONS)}")
        precisions = tuple(dict.fromkeys(precisions))
    batches = _batches(c, document.get("batches"))
    mixed = document.get("mixed_accuracy_metrics", False)
    if not isinstance(mixed, bool):
        c.fail("mixed_accuracy_metrics", f"must be true or false, got {show(mixed)}")
    points = document.get("operating_points", "default")
    if points not in _POINT_MODES:
        c.fail("operating_points", f"must be one of {', '.join(_POINT_MODES)}, got {show(points)}")
    constraints, fits = _constraints(c, document.get("constraints"))
    models = tuple(replace(m, ref=_relative(m.ref, base)) for m in _models(c, document["models"]))
    platforms = tuple(replace(p, ref=_relative(p.ref, base)) for p in _platforms(c, document["platforms"]))
    partition = _partition(c, document.get("partition"))
    if partition is not None and batches != (1,):
        c.fail("batches", "a split design (partition) is searched at batch 1 only; drop 'batches' or 'partition'")
    if partition is not None:
        partition = replace(partition, server=_relative(partition.server, base),
                            sample=_relative(partition.sample, base) if partition.sample else None)
    return SearchSpec(
        name=c.text(document.get("name", Path(where).stem or "search"), "name"),
        models=models, platforms=platforms,
        precisions=precisions, operating_points=points, partition=partition,
        objectives=_objectives(c, document.get("objectives")), constraints=constraints, memory_fits=fits,
        source=where, mixed_accuracy_metrics=mixed, batches=batches,
    )


def _batches(c: _Checker, value) -> tuple[int, ...]:
    """The ``batches`` list: positive integers up to the estimator's limit (default: batch 1)."""
    from ..estimator import MAX_BATCH

    if value is None:
        return (1,)
    items = c.items([value] if isinstance(value, int) else value, "batches")
    for i, b in enumerate(items):
        if isinstance(b, bool) or not isinstance(b, int) or not 1 <= b <= MAX_BATCH:
            c.fail(f"batches[{i}]", f"must be an integer in [1, {MAX_BATCH}], got {show(b)}")
    return tuple(dict.fromkeys(items))


def load_spec(path) -> SearchSpec:
    """Read and validate a YAML (``.yaml``/``.yml``) or TOML (``.toml``) spec file.

    Raises
    ------
    InputError
        For a missing, oversized or unparsable file, or an invalid spec.
    """
    path = user_path(path, what="spec")
    suffix = path.suffix.lower()
    if suffix not in (".toml", ".yaml", ".yml"):
        raise InputError(f"{path}: unknown spec format {show(suffix)}; use .yaml, .yml or .toml")
    text = read_text(path, what="a search spec", limit=MAX_SPEC_BYTES,
                     hint="give a .yaml or .toml search spec (see examples/)")
    if suffix == ".toml":
        document = _safe_toml(path, text)
    else:
        document = _safe_yaml(path, text)
    check_tree(document, where=str(path))
    return parse_spec(document, where=str(path), base=path.parent)


def _safe_toml(path: Path, text: str):
    try:
        import tomllib
    except ImportError:                      # Python 3.10
        try:
            import tomli as tomllib
        except ImportError:
            raise InputError("TOML specs need Python 3.11 or the tomli package (or write the spec as YAML)") from None
    check_toml_keys(text, where=str(path))
    hooks = json_number_hooks(InputError, str(path))
    try:
        return tomllib.loads(text, parse_float=hooks["parse_float"])
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: not valid TOML ({show(str(exc), 200)})") from None
    except ValueError as exc:                # an integer beyond Python's digit limit
        raise InputError(f"{path}: not valid TOML: a number is out of range ({show(str(exc), 80)})") from None
    except RecursionError:
        raise InputError(f"{path}: TOML nested too deeply to be a spec") from None


def _bounded_loader(yaml):
    """PyYAML's SafeLoader with integers and floats read by the one number parser (no digit-limit error)."""

    class Loader(yaml.SafeLoader):
        pass

    def number(loader, node, integer: bool):
        text = loader.construct_scalar(node)
        if len(text) > 64:
            raise yaml.constructor.ConstructorError(None, None, f"a number of {len(text)} characters",
                                                    node.start_mark)
        if integer:
            return yaml.SafeLoader.construct_yaml_int(loader, node)
        return yaml.SafeLoader.construct_yaml_float(loader, node)

    Loader.add_constructor("tag:yaml.org,2002:int", lambda loader, node: number(loader, node, True))
    Loader.add_constructor("tag:yaml.org,2002:float", lambda loader, node: number(loader, node, False))
    return Loader


def _safe_yaml(path: Path, text: str):
    try:
        import yaml
    except ImportError:
        raise InputError("YAML specs need PyYAML: pip install 'edgeperf[search]' (or write the spec as TOML)") from None
    try:
        return yaml.load(text, Loader=_bounded_loader(yaml))  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise InputError(f"{path}: not valid YAML{where} ({show(str(problem), 200)})") from None
    except RecursionError:
        raise InputError(f"{path}: YAML nested too deeply to be a spec") from None
