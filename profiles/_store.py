"""Shipped profiles (``profiles/data/*.json``) and loading by name or path."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from .._args import typed
from .._errors import ProfileError
from .._json import loads_finite
from .._messages import show
from .._userfile import is_regular_file
from ._profile import Profile, RuntimeMapping
from ._schema import parse_runtime_mappings, read_profile_file

__all__ = ["load_profile", "list_profiles", "shipped_profile_path", "runtime_mapping", "runtime_names"]

_DATA = Path(__file__).resolve().parent / "data"
_RUNTIMES = _DATA / "runtimes" / "mappings.json"


@typed
def list_profiles() -> tuple[str, ...]:
    """Names of the shipped profiles, sorted.

    >>> "jetson-nano" in list_profiles()
    True
    """
    return tuple(sorted(p.stem for p in _DATA.glob("*.json")))


def shipped_profile_path(name: str) -> Path:
    """Path of a shipped profile's JSON file.

    Raises
    ------
    ProfileError
        If no shipped profile has that name.
    """
    path = _DATA / f"{name}.json"
    if name not in list_profiles():
        raise ProfileError(f"unknown platform {show(name)}; shipped profiles: {', '.join(list_profiles())} "
                           "(or give the path of a profile .json)")
    return path


@lru_cache(maxsize=64)
def _load_shipped(name: str) -> Profile:
    return read_profile_file(shipped_profile_path(name))


def load_profile(platform) -> Profile:
    """A profile by shipped name (``jetson-nano``), by path, or passed through.

    Raises
    ------
    ProfileError
        If the name is unknown, or the file is missing or invalid.
    """
    if isinstance(platform, Profile):
        return platform
    if not isinstance(platform, (str, os.PathLike)):
        raise ProfileError(f"a platform is a shipped profile name, a profile .json path or a Profile, got "
                           f"{type(platform).__name__} {show(platform)}")
    text = os.fspath(platform) if isinstance(platform, os.PathLike) else platform
    if isinstance(text, bytes) or text.endswith(".json") or "/" in text or is_regular_file(text):
        return read_profile_file(text)
    return _load_shipped(text)


@lru_cache(maxsize=1)
def _runtime_mappings() -> dict:
    return parse_runtime_mappings(loads_finite(_RUNTIMES.read_text(encoding="utf-8")), where=str(_RUNTIMES))


def runtime_names() -> tuple[str, ...]:
    """Names of the runtimes whose mapping ships (``profiles/data/runtimes/mappings.json``), sorted.

    >>> "tensorrt" in runtime_names()
    True
    """
    return tuple(sorted(_runtime_mappings()))


def runtime_mapping(name: str) -> RuntimeMapping:
    """The shipped mapping of runtime ``name`` (what it fuses, folds, elides; Winograd), with its sources.

    Raises
    ------
    ProfileError
        For an unknown runtime, listing the known ones.
    """
    mappings = _runtime_mappings()
    if name not in mappings:
        raise ProfileError(f"unknown runtime {name!r}; known: {', '.join(sorted(mappings))}")
    return mappings[name]
