"""Fit a profile to single-layer sweep measurements, choosing each class's step widths from the data.

The method of seed 003 (ANNETTE, Blackthorn): step-plus-linear models per class, fitted to few,
well-chosen single layers. Step widths 1, 2, 4, 8, 16, 32 are tried on the channel dimensions of
each class, and the width whose cross-validated error is lowest is kept (a width other than 1 must
win by 2 %), so step widths come from the data, not from an assumption.
"""

from __future__ import annotations

from dataclasses import replace

from .._errors import InputError
from ..profiles import Profile
from ._networks import FitResult, fit_from_networks

__all__ = ["fit_layer_sweep", "STEP_CANDIDATES", "STEP_DIMS"]

#: Step widths tried on channel dimensions.
STEP_CANDIDATES = (1, 2, 4, 8, 16, 32)
#: The dimensions whose step width is searched, per operator class.
STEP_DIMS = {"conv": ("c_out", "c_in"), "dwconv": ("c_out",), "gemm": ("c_out", "c_in")}
#: How much better (relative cross-validated MAPE) a step width must fit than none to be kept.
_MIN_GAIN = 0.98


def fit_layer_sweep(samples, base: Profile, *, name: str, source: str, steps: dict | None = None,
                    search_steps: bool = True, progress=lambda message: None) -> FitResult:
    """Fit ``base``'s layer models to single-layer samples (fp32), with step widths from ``steps`` or searched.

    Parameters
    ----------
    samples : sequence of NetworkSample
        One per measured layer (``zoo:layer:...``), the runtime's per-call overhead already subtracted.
    steps : dict, optional
        Operator class -> step widths to use as they are (``search_steps=False``), or to start from.
    search_steps : bool
        Try :data:`STEP_CANDIDATES` on the dimensions of :data:`STEP_DIMS` and keep what cross-validates better.
    progress : callable(str)
        Receives one line per step width kept.

    Returns
    -------
    FitResult
        Its provenance records the step widths (``step_widths``).

    Raises
    ------
    InputError
        With fewer than 3 samples.
    """
    samples = tuple(samples)
    if len(samples) < 3:
        raise InputError(f"{source}: fewer than 3 measured layers; run `edgeperf sweep` to complete it")

    def fit(with_steps):
        return fit_from_networks(samples, base, name=name, precision="fp32", source=source, steps=with_steps or None)

    chosen: dict = dict(steps or {})
    if search_steps:
        fitted_classes = fit(chosen).fitted_classes
        for op_class, dims in STEP_DIMS.items():
            if op_class not in fitted_classes:
                continue
            for dim in dims:
                scores = {}
                for width in STEP_CANDIDATES:
                    trial = {**chosen, op_class: {**chosen.get(op_class, {}), dim: {"par": width}}} if width > 1 \
                        else chosen
                    scores[width] = fit(trial).cross_validation.mape
                width = min(scores, key=scores.get)
                if width > 1 and scores[width] < _MIN_GAIN * scores[1]:
                    chosen = {**chosen, op_class: {**chosen.get(op_class, {}), dim: {"par": width}}}
                    progress(f"{op_class} {dim}: step width {width} (cross-validated MAPE {100 * scores[width]:.1f}% "
                             f"against {100 * scores[1]:.1f}% without)")
    final = fit(chosen)
    # single layers' inputs are not a network's input size: the range check of network fits does not apply
    provenance = replace(final.profile.provenance, fitted_input_hw_min=None,
                         fitted_input_hw_max=None).with_details(step_widths=chosen)
    return replace(final, profile=replace(final.profile, provenance=provenance))
