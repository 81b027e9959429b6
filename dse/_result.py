"""Search results as the project's own values: designs, the Pareto front, best per objective, CSV."""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass

from types import MappingProxyType

import numpy as np

from .._frames import frame, short_repr
from .._messages import show
from ..estimator import OperatingPoint
from ._pareto import objective_matrix, pareto_mask, violations

__all__ = ["Partition", "Design", "Best", "SearchResult", "build_result"]


def _number(value):
    value = float(value)
    return None if math.isnan(value) else value


@dataclass(frozen=True, slots=True, kw_only=True)
class Partition:
    """Where a split design cuts the network, what crosses the link, and each side's share (units in the names)."""

    cut_after: str              # the last layer the device runs
    position: int               # model layers the device runs
    tensors: tuple[str, ...]    # what is sent
    link: str
    bits: int
    transfer_bytes: float
    transfer_ms: float
    transfer_mj: float
    device_ms: float
    server_ms: float
    server: str                 # the server's profile

    def to_dict(self) -> dict:
        return {"cut_after": self.cut_after, "position": self.position, "tensors": list(self.tensors),
                "link": self.link, "bits": self.bits, "transfer_bytes": self.transfer_bytes,
                "transfer_ms": self.transfer_ms, "transfer_mj": self.transfer_mj, "device_ms": self.device_ms,
                "server_ms": self.server_ms, "server": self.server}


@dataclass(frozen=True, slots=True, kw_only=True)
class Design:
    """One evaluated design (units in the names; ``partition`` None when unsplit)."""

    model: str
    platform: str
    precision: str
    operating_point: OperatingPoint
    partition: Partition | None
    latency_ms: float
    energy_mj: float | None              # None: the platform has no power model (energy unknown)
    accuracy: float | None
    cost_eur: float | None
    power_mw: float | None
    memory_bytes: float
    feasible: bool
    violated: tuple[str, ...]
    batch: int = 1                      # inferences per run: latency per run, energy per inference
    throughput_per_s: float | None = None
    latency_ms_high: float | None = None   # the device part at its interval's high end (= latency_ms without one)

    def to_dict(self) -> dict:
        return {
            "model": self.model, "platform": self.platform, "precision": self.precision, "batch": self.batch,
            "throughput_per_s": self.throughput_per_s,
            "latency_ms": self.latency_ms, "latency_ms_high": self.latency_ms_high, "energy_mj": self.energy_mj, "accuracy": self.accuracy,
            "cost_eur": self.cost_eur, "power_mw": self.power_mw, "memory_bytes": self.memory_bytes,
            "operating_point": self.operating_point.to_dict(),
            "partition": self.partition.to_dict() if self.partition is not None else None,
            "feasible": self.feasible, "violated": list(self.violated),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Best:
    """The best feasible design for one objective (``None`` when no design is feasible)."""

    metric: str
    direction: str                # "min" or "max"
    design: Design | None

    @property
    def label(self) -> str:
        """``"min latency_ms"``: the objective as the spec writes it."""
        return f"{self.direction} {self.metric}"


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class SearchResult:
    """The outcome of a search: Pareto front, counts, best design per objective, and every design's columns."""

    name: str
    engine: str
    objectives: tuple[tuple[str, str], ...]
    n_evaluated: int
    n_feasible: int
    pareto: tuple[Design, ...]
    best: tuple[Best, ...]        # one per objective, in the spec's order
    infeasible_by: dict
    notes: tuple[str, ...]
    space: object
    columns: dict
    feasible: np.ndarray
    worst: np.ndarray
    n_trials: int | None = None   # optuna trials run (None: exhaustive); n_evaluated counts distinct designs

    def __repr__(self) -> str:
        return short_repr(self, "name", "engine", "n_evaluated", "n_feasible", pareto=len(self.pareto))

    def to_dict(self) -> dict:
        return {
            "schema": "edgeperf.search/1",
            "name": self.name, "engine": self.engine,
            "objectives": [f"{d} {m}" for m, d in self.objectives],
            "n_evaluated": self.n_evaluated, "n_trials": self.n_trials, "n_feasible": self.n_feasible,
            "pareto": [d.to_dict() for d in self.pareto],
            "best": {b.label: (b.design.to_dict() if b.design is not None else None) for b in self.best},
            "infeasible_by": self.infeasible_by,
            "notes": list(self.notes),
        }

    def best_for(self, metric: str) -> Design | None:
        """The best feasible design for the objective on ``metric``.

        Raises
        ------
        KeyError
            When the spec has no objective on ``metric``.
        """
        for best in self.best:
            if best.metric == metric:
                return best.design
        raise KeyError(f"no objective on {show(metric)}; objectives: {', '.join(b.label for b in self.best)}")

    def to_frame(self):
        """Every evaluated design, one row each (the columns of ``designs_csv``, typed). Needs pandas."""
        import csv as _csv

        rows = list(_csv.DictReader(io.StringIO(self.designs_csv())))
        numeric = ("bits", "latency_ms", "latency_ms_high", "energy_mj", "accuracy", "cost_eur", "power_mw", "throughput_per_s", "memory_bytes",
                   "transfer_bytes", "transfer_ms", "device_ms", "server_ms")
        for row in rows:
            for key in numeric:
                row[key] = float(row[key]) if row[key] not in ("", "nan") else None
            row["feasible"] = row["feasible"] == "True"
        return frame(rows)

    def design(self, row: int) -> Design:
        return _design(self.space, self.columns, row, bool(self.feasible[row]), self.worst[row])

    def designs_csv(self) -> str:
        """Every evaluated design, one CSV row each, with the constraint it misses most."""
        header = ["model", "platform", "precision", "batch", "power_mode", "freq_mhz", "cut_after", "link", "bits",
                  "latency_ms", "latency_ms_high", "energy_mj", "accuracy", "cost_eur", "power_mw", "throughput_per_s", "memory_bytes",
                  "transfer_bytes", "transfer_ms", "device_ms", "server_ms", "feasible", "violated"]
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(header)
        space, c = self.space, self.columns
        for i in range(c["latency_ms"].size):
            config = space.configs[int(c["config"][i])]
            mode, freqs = space.points[config.platform][int(c["point"][i])]
            cut = int(c["cut"][i])
            writer.writerow([
                space.spec.models[config.model].name, space.profiles[config.platform].name, config.precision,
                config.batch, mode or "", ";".join(f"{k}={v:g}" for k, v in freqs.items()),
                config.cuts.after[cut] if cut >= 0 else "", space.links[int(c["link"][i])].name if cut >= 0 else "",
                int(c["bits"][i]) if cut >= 0 else "", *(f"{c[k][i]:.6g}" for k in (
                    "latency_ms", "latency_ms_high", "energy_mj", "accuracy", "cost_eur", "power_mw", "throughput_per_s", "memory_bytes",
                    "transfer_bytes", "transfer_ms", "device_ms", "server_ms")),
                bool(self.feasible[i]), self.worst[i],
            ])
        return out.getvalue()


def _design(space, c: dict, i: int, feasible: bool, worst: str) -> Design:
    config = space.configs[int(c["config"][i])]
    mode, freqs = space.points[config.platform][int(c["point"][i])]
    cut = int(c["cut"][i])
    partition = None
    if cut >= 0:
        link = space.links[int(c["link"][i])]
        partition = Partition(
            cut_after=config.cuts.after[cut], position=int(config.cuts.position[cut]),
            tensors=tuple(config.cuts.tensors[cut]), link=link.name, bits=int(c["bits"][i]),
            transfer_bytes=float(c["transfer_bytes"][i]), transfer_ms=float(c["transfer_ms"][i]),
            transfer_mj=float(c["transfer_mj"][i]), device_ms=float(c["device_ms"][i]),
            server_ms=float(c["server_ms"][i]), server=space.server.name,
        )
    return Design(
        model=space.spec.models[config.model].name, platform=space.profiles[config.platform].name,
        precision=config.precision,
        operating_point=OperatingPoint(power_mode=mode, freq_mhz=MappingProxyType(dict(freqs))),
        partition=partition, latency_ms=float(c["latency_ms"][i]), energy_mj=_number(c["energy_mj"][i]),
        accuracy=_number(c["accuracy"][i]), cost_eur=_number(c["cost_eur"][i]), power_mw=_number(c["power_mw"][i]),
        memory_bytes=float(c["memory_bytes"][i]), feasible=feasible, violated=(worst,) if worst else (),
        batch=config.batch, throughput_per_s=float(c["throughput_per_s"][i]),
        latency_ms_high=float(c["latency_ms_high"][i]),
    )


def build_result(space, columns: dict, *, engine: str, notes=(), n_trials: int | None = None) -> SearchResult:
    """Check constraints, find the Pareto front and the best design per objective."""
    spec = space.spec
    platform = np.array([space.configs[int(c)].platform for c in columns["config"]], dtype=int)
    memory = np.asarray(space.memory_limit)[platform]
    budget = np.asarray(space.power_budget)[platform]
    amounts, feasible = violations(columns, spec, memory, budget)
    names = list(amounts)
    worst = np.full(feasible.size, "", dtype=object)
    if names:
        stacked = np.column_stack([amounts[n] for n in names])
        worst_index = np.argmax(stacked, axis=1)
        worst = np.where(feasible, "", np.array(names, dtype=object)[worst_index])
    rows = np.flatnonzero(feasible)
    values = objective_matrix(columns, spec.objectives)[rows]
    finite = np.all(np.isfinite(values), axis=1)
    rows, values = rows[finite], values[finite]
    front_rows = rows[pareto_mask(values)] if rows.size else rows
    order = np.lexsort(objective_matrix(columns, spec.objectives)[front_rows].T[::-1]) if front_rows.size else []
    pareto = tuple(_design(space, columns, int(front_rows[i]), True, "") for i in order)
    best = []
    for k, (metric, direction) in enumerate(spec.objectives):
        design = None
        if rows.size:
            priority = [k] + [j for j in range(values.shape[1]) if j != k]     # objective k first, then the others
            pick = rows[np.lexsort(tuple(values[:, j] for j in reversed(priority)))[0]]
            design = _design(space, columns, int(pick), True, "")
        best.append(Best(metric=metric, direction=direction, design=design))
    infeasible_by = {name: int(np.sum(worst == name)) for name in names if np.any(worst == name)}
    all_notes = list(space.notes) + list(notes)
    if not rows.size:
        all_notes.append("no feasible design: every design misses a constraint (see infeasible_by and the CSV)")
    return SearchResult(
        name=spec.name, engine=engine, objectives=spec.objectives, n_evaluated=int(feasible.size),
        n_feasible=int(feasible.sum()), pareto=pareto, best=tuple(best), infeasible_by=infeasible_by,
        notes=tuple(all_notes), space=space, columns=columns, feasible=feasible, worst=worst, n_trials=n_trials,
    )
