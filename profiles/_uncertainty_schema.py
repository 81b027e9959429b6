"""The ``uncertainty`` section of a profile (see estimator._intervals and docs/profile-format.md)."""

from __future__ import annotations

from .._units import PRECISIONS
from ..estimator import OP_CLASSES, Uncertainty

__all__ = ["parse_uncertainty"]

_KEYS = {"coverage", "half_width", "residuals", "method", "fitted_precisions", "fitted_input_hw", "fitted_classes",
         "size_slope", "unseen_factor", "note"}


def parse_uncertainty(r, doc: dict | None) -> Uncertainty | None:
    """Validate the section with the profile reader ``r`` (its messages name the key path)."""
    if doc is None:
        return None
    base = "uncertainty."
    if set(doc) - _KEYS:
        r.fail("uncertainty", f"has unknown keys {sorted(set(doc) - _KEYS)}; allowed: {sorted(_KEYS)}")
    coverage = doc.get("coverage")
    if isinstance(coverage, bool) or not isinstance(coverage, (int, float)) or not 0 < coverage < 1:
        r.fail(base + "coverage", f"must be a number in (0, 1), got {coverage!r}")
    residuals = doc.get("residuals")
    if isinstance(residuals, bool) or not isinstance(residuals, int) or residuals < 1:
        r.fail(base + "residuals", f"must be a positive integer (how many held-out residuals), got {residuals!r}")
    fitted = doc.get("fitted_precisions", [])
    if not isinstance(fitted, list) or any(p not in PRECISIONS for p in fitted):
        r.fail(base + "fitted_precisions", f"must be a list of precisions {PRECISIONS}, got {fitted!r}")
    classes = doc.get("fitted_classes", [])
    if not isinstance(classes, list) or any(c not in OP_CLASSES for c in classes):
        r.fail(base + "fitted_classes", f"must be a list of operator classes {OP_CLASSES}, got {classes!r}")
    hw = doc.get("fitted_input_hw")
    if hw is not None and (not isinstance(hw, list) or len(hw) != 2 or not all(
            isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in hw) or hw[0] > hw[1]):
        r.fail(base + "fitted_input_hw", f"must be [smallest, largest] input size in pixels, got {hw!r}")
    try:
        return Uncertainty(
            coverage=float(coverage), residuals=residuals, method=r.text(doc, "method", base),
            half_width=r.number(doc, "half_width", base, high=10.0),
            fitted_precisions=tuple(fitted), fitted_classes=tuple(classes),
            fitted_input_hw=tuple(hw) if hw is not None else None,
            size_slope=r.number(doc, "size_slope", base, high=10.0, optional=True) or 0.0,
            unseen_factor=r.number(doc, "unseen_factor", base, low=1.0, high=100.0, optional=True) or 1.0,
        )
    except ValueError as exc:
        r.fail("uncertainty", str(exc))
