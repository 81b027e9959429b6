"""Fitting: profiles from measurements, and profiles checked against them.

Every fit takes measured values (samples, tables, traces) and a base profile, and returns a new
profile value (``dataclasses.replace``; the JSON is written by ``edgeperf.profiles`` alone)::

    fit_from_networks(samples, base)       -> FitResult: per-class step-linear layer models (+ power)  (_networks)
    fit_layer_times(graph, times, base)    -> FitResult: the same from per-layer times                 (_layers)
    fit_layer_sweep(samples, base, ...)    -> FitResult: single-layer sweeps, step widths chosen by CV (_sweep)
    fit_power_model(rows, base)            -> Profile: idle, per-class and per-domain power            (_power)
    fit_thermal(time_s, temp_c, power_mw)  -> ThermalFit: the board's RC thermal model                 (_thermal)
    with_thermal_fit(base, fit)            -> Profile: base with the fitted RC model                   (_thermal)
    load_prior()                           -> Prior: other devices' network-fit coefficients           (_prior)
    validate_table(samples, profile)       -> ValidationReport: measured against predicted             (_validate)

Fitting works on values only: it never touches a device (``edgeperf.measure`` measures and calls it).
"""

from ._layers import fit_layer_times
from ._networks import (
    COLUMNS,
    FitResult,
    NetworkFeatures,
    fit_from_networks,
    format_rho,
    network_features,
    prediction_metrics,
    with_sibling_merge,
)
from ._power import fit_power_model, read_power_table
from ._prior import Prior, load_prior, parse_prior
from ._samples import NetworkSample, read_network_table
from ._sweep import STEP_CANDIDATES, fit_layer_sweep
from ._thermal import ThermalFit, fit_thermal, with_thermal_fit
from ._validate import ValidationReport, ValidationRow, validate_table

__all__ = ["fit_layer_times", "COLUMNS", "FitResult", "NetworkFeatures", "fit_from_networks", "format_rho",
           "network_features", "prediction_metrics", "with_sibling_merge", "fit_power_model", "read_power_table",
           "NetworkSample", "read_network_table", "STEP_CANDIDATES", "fit_layer_sweep", "ThermalFit", "fit_thermal",
           "with_thermal_fit", "ValidationReport", "ValidationRow", "validate_table", "Prior", "load_prior",
           "parse_prior"]
