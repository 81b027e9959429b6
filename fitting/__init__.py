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
    fit_boards(rows, bases)                -> BoardFit: board profiles from published whole-network latencies,
                                              a prior learned across boards, held-out intervals    (_boards, _board_*)

Fitting works on values only: it never touches a device (``edgeperf.measure`` measures and calls it).
"""

from ._board_model import PARAMETERS, BoardFeatures, board_features, predict_ms
from ._board_prior import STRENGTHS, HeldOut, Sample, fit_unit, learn_prior, leave_one_network_out, predict_sample
from ._board_profiles import BoardDescription, board_profile, runtime_profile
from ._board_specs import BLOCK_TABLES, DERIVED, FITTED, BoardSpec, DerivedSpec
from ._boards import (COVERAGE, TRANSFERS, BoardFit, derive_params, fit_boards, leave_one_board_out, load_samples,
                      metrics)
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
from ._published import NETWORKS, PublishedRow, profile_for, read_block_table, read_published_table
from ._samples import NetworkSample, read_network_table
from ._sweep import STEP_CANDIDATES, fit_layer_sweep
from ._thermal import ThermalFit, fit_thermal, with_thermal_fit
from ._validate import ValidationReport, ValidationRow, validate_table

__all__ = ["fit_layer_times", "COLUMNS", "FitResult", "NetworkFeatures", "fit_from_networks", "format_rho",
           "network_features", "prediction_metrics", "with_sibling_merge", "fit_power_model", "read_power_table",
           "NetworkSample", "read_network_table", "STEP_CANDIDATES", "fit_layer_sweep", "ThermalFit", "fit_thermal",
           "with_thermal_fit", "ValidationReport", "ValidationRow", "validate_table",
           "PARAMETERS", "BoardFeatures", "board_features", "predict_ms", "STRENGTHS", "HeldOut", "Sample", "fit_unit",
           "learn_prior", "leave_one_network_out", "predict_sample", "BoardDescription", "board_profile",
           "runtime_profile", "DERIVED", "FITTED", "BoardSpec", "DerivedSpec", "COVERAGE", "TRANSFERS", "BoardFit",
           "derive_params", "fit_boards", "load_samples", "metrics", "NETWORKS", "PublishedRow", "profile_for",
           "read_published_table", "BLOCK_TABLES", "read_block_table", "leave_one_board_out", "Prior",
           "load_prior", "parse_prior"]
