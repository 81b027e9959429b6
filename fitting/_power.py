"""Fit a profile's power model to board power measured at two or more operating points.

Under a sustained load at operating point ``p`` the board draws
``P(p) = P_idle + A * s_c(p) + sum_d D_d * s_d(p)``, where ``s = (f / f_ref) * (V / V_ref)^2``
for the compute domain ``c`` and each other domain ``d`` whose clock varies in the data
(``f / f_ref`` without voltages). ``A`` becomes ``power.active_mw.default`` (other classes keep
their ratio to it), ``D_d`` ``power.domain_mw``, and the idle power is the median of the
``idle`` rows (or the profile's own, said so). Coefficients are non-negative (least squares
with bounds); the fit's residuals are reported and stored.

The table (CSV) has a ``state`` column (``idle`` or ``busy``), a ``power_mw`` column and one
``<domain>_mhz`` column per clock domain set during the measurement (missing: the reference).
"""

from __future__ import annotations

import csv
import datetime as _dt
from dataclasses import replace
from types import MappingProxyType

import numpy as np

from .._csvfile import dict_rows, open_csv
from .._errors import InputError
from .._messages import show
from .._numbers import parse_number
from .._userfile import user_path
from ..estimator import power_scale
from ..profiles import Citation, PowerFitRecord, Profile

__all__ = ["read_power_table", "fit_power_model"]


def read_power_table(path) -> list[dict]:
    """Rows ``{"state", "power_mw", "freq_mhz": {domain: MHz}}`` of a power table.

    Raises
    ------
    InputError
        Naming the file and line for missing columns, unknown states or bad numbers.
    """
    path = user_path(path, what="power table")
    with open_csv(path, "a power table", hint="columns: state, power_mw, <domain>_mhz...") as stream:
        reader = csv.DictReader(stream)
        header = reader.fieldnames or []
        for column in ("state", "power_mw"):
            if column not in header:
                raise InputError(f"{path}: missing column {show(column)}; columns: state (idle|busy), power_mw, "
                                 "<domain>_mhz...")
        domains = [h[:-4] for h in header if h.endswith("_mhz")]
        rows = []
        for line, row in dict_rows(reader, path):
            state = (row.get("state") or "").strip()
            if state not in ("idle", "busy"):
                raise InputError(f"{path}:{line}: state must be idle or busy, got {show(state)}")
            power = parse_number(row["power_mw"], f"{path}:{line}: power_mw", positive=True, high=1e9)
            freqs = {d: parse_number(row[f"{d}_mhz"], f"{path}:{line}: {d}_mhz", positive=True, high=1e6)
                     for d in domains if (row.get(f"{d}_mhz") or "").strip()}
            rows.append({"state": state, "power_mw": power, "freq_mhz": freqs, "line": line})
    if rows and max(r["power_mw"] for r in rows) < 50.0:
        raise InputError(f"{path}: power_mw values are at most {max(r['power_mw'] for r in rows):g}, which looks like "
                         "watts; give milliwatts (x 1000)")
    if not any(r["state"] == "busy" for r in rows):
        raise InputError(f"{path}: no busy rows; measure the board's power under load at one or more operating points")
    return rows


def fit_power_model(rows: list[dict], base: Profile, *, source: str = "a power table") -> Profile:
    """The base profile with its power model fitted to ``rows`` (``provenance.power_fit`` says how well).

    Raises
    ------
    InputError
        For a clock domain the profile lacks, or too few distinct busy points for the unknowns.
    """
    from scipy.optimize import lsq_linear

    for row in rows:
        for domain in row["freq_mhz"]:
            if domain not in base.clocks:
                raise InputError(f"line {row['line']}: {domain}_mhz: platform {show(base.name)} has no clock domain "
                                 f"{show(domain)}; domains: {sorted(base.clocks)}")
    idle_rows = [r["power_mw"] for r in rows if r["state"] == "idle"]
    idle = float(np.median(idle_rows)) if idle_rows else base.power.idle_mw
    busy = [r for r in rows if r["state"] == "busy"]

    def scale(row, domain):
        clock = base.clocks[domain]
        return float(power_scale(clock, row["freq_mhz"].get(domain, clock.reference_mhz)))

    others = sorted({d for r in busy for d in r["freq_mhz"] if d != base.compute_domain
                     and len({r2["freq_mhz"].get(d) for r2 in busy}) > 1})
    columns = [base.compute_domain] + others
    x = np.array([[scale(r, d) for d in columns] for r in busy])
    y = np.array([r["power_mw"] for r in busy]) - idle
    distinct = len({tuple(row) for row in np.round(x, 9)})
    if distinct < len(columns):
        raise InputError(f"{len(columns)} power coefficients ({', '.join(columns)}) need busy rows at at least "
                         f"{len(columns)} distinct operating points; got {distinct}")
    solution = lsq_linear(x, y, bounds=(0, np.inf)).x
    residual = x @ solution - y
    key = "fit-power"
    citation = (f"edgeperf fit-power on {len(busy)} busy and {len(idle_rows)} idle board power measurements "
                f"({source}), {_dt.date.today().isoformat()}; model P = P_idle + A s_c + sum D_d s_d with s = f V^2 "
                "scaling")
    power, cited = _fitted_power(base, solution, others, idle if idle_rows else None, len(idle_rows), key)
    record = PowerFitRecord(busy_points=len(busy), idle_points=len(idle_rows),
                            idle_from="table" if idle_rows else "profile",
                            coefficients_mw=MappingProxyType(dict(zip(columns, map(float, solution)))),
                            max_abs_residual_mw=float(np.abs(residual).max()), source=source)
    return replace(base, path="", sources=MappingProxyType({**base.sources, key: citation}), power=power,
                   citations=MappingProxyType({**base.citations, **cited}),
                   provenance=replace(base.provenance, power_fit=record))


def _fitted_power(base: Profile, solution: np.ndarray, others: list, idle: float | None, idle_rows: int, key: str):
    """The power model with the fitted coefficients (rounded to 0.001 mW), and the citations of what changed.

    Classes with their own active power keep their ratio to the default; the idle power is the
    table's where it has idle rows, the profile's otherwise; domains whose clock did not vary keep
    their figure.
    """
    old_default = base.power.active_mw["default"]
    ratio = solution[0] / old_default if old_default > 0 else None
    active, cited = {}, {}
    for op_class in base.power.active_mw:
        value = solution[0] if op_class == "default" or ratio is None else base.power.active_for(op_class) * ratio
        active[op_class] = round(float(value), 3)
        cited[("power", "active_mw", op_class)] = Citation(
            source=key, note="fitted" if op_class == "default" else "scaled with the fitted default")
    power = replace(base.power, active_mw=MappingProxyType(active), calibrated=True)
    if idle is not None:
        power = replace(power, idle_mw=round(idle, 3))
        cited[("power", "idle_mw")] = Citation(source=key, note=f"median of {idle_rows} idle rows")
    if others:
        power = replace(power, domain_mw=MappingProxyType({d: round(float(v), 3) for d, v in zip(others, solution[1:])}))
        cited.update({("power", "domain_mw", d): Citation(source=key) for d in others})
    return power, cited
