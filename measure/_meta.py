"""What a sweep file was measured on, kept beside it, so that one file never mixes devices or runtime settings."""

from __future__ import annotations

import json
from pathlib import Path

from .._atomic import write_text_atomic
from .._errors import InputError
from .._json import read_json_file
from .._messages import show
from .._userfile import probe

__all__ = ["meta_path", "identity", "check_or_record", "read_meta", "planned_round", "record_round", "MAX_META_BYTES"]

#: Largest sweep record read.
MAX_META_BYTES = 16 * 2**20


def read_meta(sweep: Path) -> dict:
    """The sweep record beside ``sweep`` (a JSON object).

    Raises
    ------
    InputError
        When it is missing, unreadable or not a JSON object.
    """
    path = meta_path(sweep)
    meta = read_json_file(path, what="a sweep record", limit=MAX_META_BYTES)
    if not isinstance(meta, dict):
        raise InputError(f"{path}: not a sweep record (a JSON object expected)")
    return meta


def meta_path(sweep: Path) -> Path:
    return sweep.with_name(sweep.name + ".meta.json")


def identity(settings: dict, info: dict) -> dict:
    """The facts two measurements must share to belong in one sweep."""
    return {"cpu": info.get("cpu"), "cores": info.get("cores"), "machine": info.get("machine"),
            "runtime": settings.get("name"), "runtime_version": settings.get("version"),
            "threads": settings.get("threads"), "providers": settings.get("providers"),
            "delegates": settings.get("delegates")}


def check_or_record(sweep: Path, settings: dict, info: dict, extra=None) -> dict:
    """Record the device and runtime of a new sweep, or check that a resumed one matches them.

    ``extra`` (a callable returning a dict) is evaluated and stored only when the record is new.

    Raises
    ------
    InputError
        When the sweep was measured on another device or with other runtime settings, or its
        record is unreadable.
    """
    path = meta_path(sweep)
    mine = identity(settings, info)
    if probe(path) is not None:
        try:
            meta = read_json_file(path, what="a sweep record", limit=MAX_META_BYTES)
            theirs = meta["identity"]
            if not isinstance(theirs, dict):
                raise TypeError("identity is not an object")
        except (InputError, KeyError, TypeError) as exc:
            raise InputError(f"{path}: unreadable sweep record ({type(exc).__name__}); it belongs to {sweep}: "
                             "restore it or start a new sweep file") from None
        differences = [f"{k} {show(theirs.get(k))} -> {show(v)}" for k, v in mine.items() if theirs.get(k) != v]
        if differences:
            raise InputError(f"{sweep}: was measured on another device or runtime setting ({'; '.join(differences)}); "
                             "one sweep file holds one device: give a new --out/--sweep path")
        return meta
    if (existing := probe(sweep)) is not None and existing.st_size > 0:
        raise InputError(f"{sweep}: has no record of the device it was measured on ({path} is missing); "
                         "give a new sweep path")
    meta = {"schema": "edgeperf.sweep-meta/1", "identity": mine, "runtime": dict(settings), "device": dict(info),
            **(extra() if extra else {})}
    write_text_atomic(path, json.dumps(meta, indent=2) + "\n")
    return meta


def planned_round(sweep: Path, meta: dict, index: int) -> list[str] | None:
    """The layers refinement round ``index`` was planned to measure, or None when it was not planned yet.

    Raises
    ------
    InputError
        When the record's plan is not a list of ``zoo:layer:`` references.
    """
    plans = meta.get("refinement_plans", {})
    points = plans.get(str(index)) if isinstance(plans, dict) else None
    if points is None:
        return None
    if not isinstance(points, list) or not all(isinstance(p, str) and p.startswith("zoo:layer:") for p in points):
        raise InputError(f"{meta_path(sweep)}: refinement_plans.{index} is not a list of zoo:layer: references; "
                         "restore the record or start a new sweep file")
    return points


def record_round(sweep: Path, meta: dict, index: int, points: list[str]) -> dict:
    """Record (atomically, before measuring) the layers refinement round ``index`` will measure; the new record."""
    plans = dict(meta.get("refinement_plans", {}))
    plans[str(index)] = list(points)
    meta = {**meta, "refinement_plans": plans}
    write_text_atomic(meta_path(sweep), json.dumps(meta, indent=2) + "\n")
    return meta
