"""Platform profiles: versioned JSON, one per platform, every number with its source.

A :class:`Profile` is an immutable value (``_profile``); :func:`parse_profile` reads the JSON
document, copying it (``_schema``: the one parser), and :meth:`Profile.to_document` writes it
(``_write``: the one serializer). Shipped profiles are found by name (``_store``), and so are the
shipped runtime mappings that fitters put into profiles (``runtime_mapping``). Fitting new profiles is
``edgeperf.fitting``'s work; it returns new values, never edited JSON.

>>> from edgeperf.profiles import load_profile
>>> load_profile("jetson-nano").name
'jetson-nano'
"""

from ._profile import (Citation, ClockDomain, FanLevel, LayerModel, PowerModel, Profile, RuntimeMapping,
                       RuntimeSupport, ThermalModel,
                       ThrottleLevel)
from ._provenance import CrossValidatedChoice, HeldOutErrors, Metrics, PowerFitRecord, Provenance
from ._schema import parse_profile, read_profile_file
from ._write import SCHEMA_VERSION, write_profile_file
from ._store import list_profiles, load_profile, runtime_mapping, runtime_names, shipped_profile_path

__all__ = [
    "SCHEMA_VERSION", "Citation", "ClockDomain", "FanLevel", "LayerModel", "PowerModel", "Profile", "RuntimeSupport",
    "ThermalModel",
    "ThrottleLevel", "parse_profile", "read_profile_file", "write_profile_file", "Metrics", "CrossValidatedChoice",
    "HeldOutErrors", "PowerFitRecord", "Provenance", "list_profiles", "load_profile", "shipped_profile_path",
    "RuntimeMapping", "runtime_mapping", "runtime_names",
]
