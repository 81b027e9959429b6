"""Measured networks: the samples every fit and validation reads, and the CSV table they come in."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from .._csvfile import dict_rows, open_csv
from .._errors import InputError
from .._messages import show
from .._numbers import parse_number
from .._userfile import user_path
from ..estimator import parse_input_shape

__all__ = ["NetworkSample", "read_network_table"]

_MAX_ROWS = 1_000_000
#: Measured values a table may hold: from 1 ns to 11.6 days per inference, 1 pJ to 1 MJ per inference.
LATENCY_MS_RANGE = (1e-6, 1e9)
ENERGY_MJ_RANGE = (1e-9, 1e9)


@dataclass(frozen=True, slots=True, kw_only=True)
class NetworkSample:
    """One measured network: a model reference and its latency (and energy)."""

    model: str
    latency_ms: float
    energy_mj: float | None = None
    input_shape: str | None = None
    line: int = 0

    def shapes(self, default=None) -> dict | None:
        """Input shapes for loading this network: its own ``NAME=DxD...`` if given, else ``default``."""
        if self.input_shape is None:
            return default
        return dict(parse_input_shape(part) for part in self.input_shape.split(";") if part)


def read_network_table(path) -> tuple[NetworkSample, ...]:
    """Read a CSV with columns ``model``, ``latency_ms`` and optionally ``energy_mj`` and ``input_shape``.

    ``input_shape`` holds ``NAME=DxDxD...`` (several separated by ``;``) for networks measured at a
    size other than their file's or zoo default.

    Relative model paths are resolved against the table's folder; ``zoo:`` references
    are kept as they are.

    Raises
    ------
    InputError
        For a missing file, missing or misnamed columns, or values that are not positive finite numbers.
    """
    from ..zoo import is_reference

    path = user_path(path, what="table")
    with open_csv(path, "a network table", hint="give a CSV with columns model, latency_ms[, energy_mj]") as stream:
        reader = csv.DictReader(stream)
        columns = [c.strip() for c in (reader.fieldnames or [])]
        if "model" not in columns or "latency_ms" not in columns:
            hint = ""
            if any(c in columns for c in ("latency", "latency_s", "latency_us", "time")):
                hint = "; latency must be in milliseconds in a column named latency_ms"
            raise InputError(f"{path}: needs columns model and latency_ms (optionally energy_mj), "
                             f"found {show(columns)}{hint}")
        samples = []
        for line, row in dict_rows(reader, path):
            if len(samples) >= _MAX_ROWS:
                raise InputError(f"{path}: more than {_MAX_ROWS} rows; split the table")
            row = {(k or "").strip(): (v or "").strip() for k, v in row.items()}
            model = row.get("model", "")
            if not model:
                raise InputError(f"{path}:{line}: empty model")
            if not is_reference(model) and not Path(model).is_absolute():
                model = str(path.parent / model)
            latency = _positive(row.get("latency_ms", ""), f"{path}:{line}: latency_ms", LATENCY_MS_RANGE)
            energy = row.get("energy_mj", "")
            shape = row.get("input_shape", "") or None
            if shape is not None:
                try:
                    [parse_input_shape(part) for part in shape.split(";") if part]
                except InputError as exc:
                    raise InputError(f"{path}:{line}: {exc}") from None
            samples.append(NetworkSample(
                model=model, latency_ms=latency, line=line, input_shape=shape,
                energy_mj=_positive(energy, f"{path}:{line}: energy_mj", ENERGY_MJ_RANGE) if energy else None))
    if not samples:
        raise InputError(f"{path}: the table has no rows")
    return tuple(samples)


def _positive(text: str, where: str, bounds: tuple[float, float]) -> float:
    """A measured value: a number within ``bounds`` (physically possible, and far from float overflow)."""
    return parse_number(text, where, low=bounds[0], high=bounds[1])
