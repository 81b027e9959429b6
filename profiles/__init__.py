"""Platform profiles: versioned JSON, one per platform, every number with its source.

>>> from edgeperf.profiles import load_profile
>>> load_profile("jetson-nano").name
'jetson-nano'
"""

from ._schema import (
    SCHEMA_VERSION,
    ClockDomain,
    LayerModel,
    PowerModel,
    Profile,
    ThermalModel,
    ThrottleLevel,
    parse_profile,
    read_profile_file,
)
from ._fit import (
    FitResult,
    NetworkSample,
    ValidationReport,
    ValidationRow,
    fit_from_networks,
    format_rho,
    network_features,
    prediction_metrics,
    read_network_table,
    validate_table,
    with_sibling_merge,
)
from ._power_fit import fit_power_model, read_power_table
from ._prior import Prior, load_prior, parse_prior
from ._store import list_profiles, load_profile, shipped_profile_path

__all__ = [
    "SCHEMA_VERSION", "ClockDomain", "LayerModel", "PowerModel", "Profile", "ThermalModel", "ThrottleLevel", "parse_profile", "read_profile_file",
    "list_profiles", "load_profile", "shipped_profile_path", "FitResult", "NetworkSample", "ValidationReport",
    "ValidationRow", "fit_from_networks", "format_rho", "network_features", "prediction_metrics", "read_network_table",
    "validate_table", "fit_power_model", "read_power_table", "with_sibling_merge", "Prior", "load_prior", "parse_prior",
]
