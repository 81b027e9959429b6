"""Board profiles fitted to published whole-network latencies, across sizes, with intervals.

The published table (``../shared/external/published_board_latency_train.csv``) has 3-8 networks per
board and runtime. :func:`fit_boards` fits the board model (``_model``: a roofline per executed layer
after the runtime's mapping, plus per-layer and per-inference overheads, Winograd and parameter
streaming where the runtime or accelerator has them) to each chip with a prior learned across the
other chips, judges it by leaving one network out, and returns the profile documents that
``benchmarks/board_profiles.py --write`` ships.

>>> from edgeperf.boards import FITTED
>>> sorted(spec.profile for spec in FITTED)[:2]
['coral-edgetpu', 'coral-usb']
"""

from ._document import runtime_mappings, runtime_profile, with_runtime
from ._fit_boards import COVERAGE, TRANSFERS, BoardFit, derive_params, fit_boards, load_samples, metrics
from ._hierarchy import STRENGTHS, HeldOut, Sample, fit_unit, learn_prior, leave_one_network_out, predict_sample
from ._model import PARAMETERS, NetworkFeatures, network_features, predict_ms
from ._published import NETWORKS, PublishedRow, profile_for, read_published_table
from ._specs import DERIVED, FITTED, BoardSpec, DerivedSpec

__all__ = [
    "runtime_mappings", "runtime_profile", "with_runtime", "COVERAGE", "TRANSFERS", "BoardFit", "derive_params",
    "fit_boards", "load_samples", "metrics", "STRENGTHS", "HeldOut", "Sample", "fit_unit", "learn_prior",
    "leave_one_network_out", "predict_sample", "PARAMETERS", "NetworkFeatures", "network_features", "predict_ms",
    "NETWORKS", "PublishedRow", "profile_for", "read_published_table", "DERIVED", "FITTED", "BoardSpec", "DerivedSpec",
]
