"""The one measurement pipeline of calibration and layer sweeps: plan -> measure -> sweep file -> samples.

Both ``edgeperf calibrate`` (whole networks) and ``edgeperf sweep`` (single layers) measure a list
of planned items with the timing harness, in several passes, into a tidy CSV file that is rewritten
atomically after every measurement, so an interrupted run resumes where it stopped; and both turn
the file into one sample per item: the median over its passes, leaving out measurements that are
not steady-state samples of the device (:data:`EXCLUDING_FLAGS`).

Every measurement is checked against its physical floor (the model's FLOPs and weights at the
device's ceilings, ``_plausible``); one that other load disturbed (:data:`DISTURBED_FLAGS`, after
the harness's own re-measuring) stays in the file, flagged, and the next run measures it again in
its place. :func:`raise_if_too_disturbed` ends a command whose file holds too many of them. One row of such a file is a
:class:`SweepRecord`; the two files differ only in the columns that say what was measured
(:data:`NETWORK_SWEEP`, :data:`LAYER_SWEEP`).
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
import statistics
from dataclasses import dataclass
from typing import Callable

from .._atomic import write_text_atomic
from .._errors import DisturbedError, InputError
from .._messages import show
from .._numbers import parse_number
from .._userfile import user_path
from ._harness import DISTURBED_FLAGS, Harness, Timing, raise_if_disturbed
from ._plausible import model_floor_ms
from ._protocols import Runner
from ._trace import read_sweep_rows

__all__ = ["SweepRecord", "SweepFormat", "NETWORK_SWEEP", "LAYER_SWEEP", "EXCLUDING_FLAGS", "SWEEP_COLUMNS",
           "OPTIONAL_COLUMNS", "LAYER_SWEEP_COLUMNS", "read_records", "write_records", "measure_items",
           "median_groups", "raise_if_too_disturbed", "too_few_to_fit"]

#: Flags that exclude a measurement from a fit: it is not a steady-state sample of the device
#: (disturbed by other load, or the device was hot, throttled or changed clocks).
EXCLUDING_FLAGS = DISTURBED_FLAGS + ("hot", "throttled", "clock-changed")
#: Columns of a network calibration's sweep file.
SWEEP_COLUMNS = ("reference", "input_size", "role", "pass", "latency_ms", "raw_latency_ms", "spread", "drift",
                 "flags", "reference_ms", "measured_at")
#: Optional columns of a network sweep (written when a power source is used; older sweep files lack them).
OPTIONAL_COLUMNS = ("energy_mj", "power_mw")
#: Columns of a single-layer sweep file.
LAYER_SWEEP_COLUMNS = ("reference", "kind", "round", "pass", "latency_ms", "raw_latency_ms", "spread", "drift",
                       "flags", "reference_ms", "energy_mj", "power_mw", "measured_at")


@dataclass(frozen=True, slots=True, kw_only=True)
class SweepRecord:
    """One measurement of a sweep file: what was measured, in which pass, and its robust timing (ms).

    ``reference`` names what ran (``resnet18`` or ``nb201:...`` in a network sweep, as the file has
    always written it; ``zoo:layer:...`` in a layer sweep). ``input_size`` and ``role`` (``train`` or
    ``validate``) say more of a network measurement, ``kind`` and ``round`` (the refinement round that
    planned it) of a layer's. The timing fields are the harness's :class:`Timing`.
    """

    reference: str
    pass_: int
    latency_ms: float
    raw_latency_ms: float
    spread: float
    drift: float
    flags: tuple[str, ...]
    reference_ms: float
    measured_at: str
    energy_mj: float | None = None
    power_mw: float | None = None
    input_size: int | None = None
    role: str = "train"
    kind: str = ""
    round: int = 0

    @classmethod
    def measured(cls, timing: Timing, **what) -> "SweepRecord":
        """The record of ``timing``, measured now, of the item ``what`` names (``reference``, ``pass_``, ...)."""
        return cls(latency_ms=timing.median_ms, raw_latency_ms=timing.raw_median_ms, spread=timing.spread,
                   drift=timing.drift, flags=tuple(timing.flags), reference_ms=timing.reference_ms,
                   measured_at=_dt.datetime.now().isoformat(timespec="seconds"), energy_mj=timing.energy_mj,
                   power_mw=timing.power_mw, **what)

    @property
    def disturbed(self) -> bool:
        """True when other load disturbed it (:data:`DISTURBED_FLAGS`): a rerun measures it again."""
        return any(flag in DISTURBED_FLAGS for flag in self.flags)

    @property
    def excluded_by(self) -> tuple[str, ...]:
        """The :data:`EXCLUDING_FLAGS` this measurement raised (empty: a steady-state sample)."""
        return tuple(flag for flag in EXCLUDING_FLAGS if flag in self.flags)


def _number(text: str) -> str:
    return f"{text:.6g}"


@dataclass(frozen=True, slots=True, kw_only=True)
class SweepFormat:
    """The columns of one kind of sweep file, and how a record is written to and read from a row."""

    columns: tuple[str, ...]               # every file of this kind has them
    optional: tuple[str, ...]              # written, but older files may lack them
    what: str                              # names the kind in messages ("an edgeperf sweep file")
    key: tuple[str, ...]                   # the record fields that name a planned item (done when a record has them)
    item: Callable[[SweepRecord], dict]    # the columns that say what was measured
    read_item: Callable[[dict, str], dict]  # those columns of a row as record fields; str: "PATH:LINE"
    check: Callable[[dict, str], None]     # refuses a row whose timing is not a measurement (InputError)

    def row(self, record: SweepRecord) -> dict:
        """The CSV row of ``record`` (numbers as the files have always written them)."""
        optional = lambda value: _number(value) if value is not None else ""  # noqa: E731
        return {**self.item(record), "pass": record.pass_, "latency_ms": _number(record.latency_ms),
                "raw_latency_ms": _number(record.raw_latency_ms), "spread": f"{record.spread:.4f}",
                "drift": f"{record.drift:.4f}", "flags": ";".join(record.flags),
                "reference_ms": _number(record.reference_ms), "energy_mj": optional(record.energy_mj),
                "power_mw": optional(record.power_mw), "measured_at": record.measured_at}

    def record(self, row: dict, where: str) -> SweepRecord:
        """The record of a CSV row (``where`` is ``PATH:LINE`` for messages).

        Raises
        ------
        InputError
            For a value that is not a number where one belongs, or a timing the format refuses.
        """
        self.check(row, where)
        try:
            def optional(column):
                text = (row.get(column) or "").strip()
                return parse_number(text, f"{where}: {column}", low=0.0) if text else None

            return SweepRecord(
                reference=row["reference"], pass_=int(row["pass"]), latency_ms=float(row["latency_ms"]),
                raw_latency_ms=float(row["raw_latency_ms"] or "nan"), spread=float(row["spread"] or "nan"),
                drift=float(row["drift"] or "nan"), flags=tuple(f for f in (row["flags"] or "").split(";") if f),
                reference_ms=float(row["reference_ms"] or "nan"), measured_at=row["measured_at"] or "",
                energy_mj=optional("energy_mj"), power_mw=optional("power_mw"), **self.read_item(row, where))
        except (TypeError, ValueError) as exc:
            raise InputError(f"{where}: not a measurement row of {self.what} ({exc})") from None


def _positive_columns(columns: tuple[str, ...]):
    """A row check: each of ``columns`` holds a positive number (the calibration file's rule)."""
    def check(row: dict, where: str) -> None:
        for column in columns:
            parse_number(row[column], f"{where}: {column}", positive=True)
    return check


def _check_layer_row(row: dict, where: str) -> None:
    from ..zoo import is_layer_reference

    if not is_layer_reference(row.get("reference")):
        raise InputError(f"{where}: reference {show(row.get('reference'))} is not a zoo:layer: reference")
    parse_number(row["latency_ms"], f"{where}: latency_ms (ms)", positive=True)
    parse_number(row["round"], f"{where}: round", integer=True, low=0, high=1000)


def _size(text) -> int | None:
    text = str(text or "").strip()
    return int(text) if text else None


NETWORK_SWEEP = SweepFormat(
    columns=SWEEP_COLUMNS, optional=OPTIONAL_COLUMNS, what="an edgeperf sweep file",
    key=("reference", "input_size", "role", "pass_"),
    item=lambda r: {"reference": r.reference, "input_size": r.input_size or "", "role": r.role},
    read_item=lambda row, where: {"input_size": _size(row["input_size"]), "role": row["role"]},
    check=_positive_columns(("latency_ms", "reference_ms")))

LAYER_SWEEP = SweepFormat(
    columns=LAYER_SWEEP_COLUMNS, optional=(), what="an edgeperf layer sweep",
    key=("reference", "pass_"),             # a point planned again in a later round is measured once
    item=lambda r: {"reference": r.reference, "kind": r.kind, "round": r.round},
    read_item=lambda row, where: {"kind": row["kind"], "round": int(row["round"])},
    check=_check_layer_row)


def read_records(path, fmt: SweepFormat) -> list[SweepRecord]:
    """The records of a sweep file, in file order (missing file: none).

    Raises
    ------
    InputError
        For a directory, a file without the format's columns, or a row that is not a measurement.
    """
    path = user_path(path, what="sweep")
    rows = read_sweep_rows(path, fmt.columns, fmt.what)
    return [fmt.record(row, f"{path}:{line}") for line, row in enumerate(rows, start=2)]


def write_records(path, fmt: SweepFormat, records: list[SweepRecord]) -> None:
    """Write every record to ``path`` atomically (readers see the old file or the new one, never a part)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=fmt.columns + fmt.optional, lineterminator="\n", restval="",
                            extrasaction="ignore")
    writer.writeheader()
    writer.writerows(fmt.row(record) for record in records)
    write_text_atomic(path, out.getvalue())


def measure_items(items, *, path, fmt: SweepFormat, records: list[SweepRecord], runner: Runner, harness: Harness,
                  model_of: Callable[[dict], bytes], ceiling: dict | None = None,
                  progress: Callable[[SweepRecord], None] = lambda record: None,
                  steps: Callable[[int, int], None] = lambda done, total: None) -> None:
    """Measure every planned item that ``records`` lacks; rewrite the file after each measurement.

    ``items`` are dicts of :class:`SweepRecord` fields naming what to measure (``reference``,
    ``pass_`` and the format's other item fields); one is done when a record agrees with it on the
    format's ``key`` and was not disturbed by other load. A disturbed record is measured again and
    replaced in its place; a new one is appended. ``model_of(item)`` is what the runner loads (model
    bytes); each measurement is held to the model's physical floor at ``ceiling``
    (:func:`~edgeperf.measure.ceilings`; None: no floor). ``progress`` gets each new record;
    ``steps(done, total)`` how many of the items are done (a resumed run starts where the file left
    off).
    """
    def key(get) -> tuple:
        return tuple(get(name) for name in fmt.key)

    items = list(items)
    position = {key(lambda name: getattr(record, name)): i for i, record in enumerate(records)}
    done = {k for k, i in position.items() if not records[i].disturbed}
    finished = sum(1 for item in items if key(item.get) in done)
    steps(finished, len(items))
    for item in items:
        if key(item.get) in done:
            continue
        model = model_of(item)
        # the floor rests on the physical ceiling only: a roofline probe slowed by other load would raise it
        timing = harness.measure(runner.load(model).run, floor_ms=model_floor_ms(model, ceiling))
        record = SweepRecord.measured(timing, **item)
        if key(item.get) in position:
            records[position[key(item.get)]] = record
        else:
            position[key(item.get)] = len(records)
            records.append(record)
        done.add(key(item.get))
        write_records(path, fmt, records)
        progress(record)
        finished += 1
        steps(finished, len(items))


def raise_if_too_disturbed(records: list[SweepRecord]) -> None:
    """End the command (:class:`DisturbedError`, exit code 3) when too many records stayed disturbed.

    The file keeps them; a rerun measures them again (:func:`measure_items`).
    """
    raise_if_disturbed(sum(record.disturbed for record in records), len(records))


def too_few_to_fit(records: list[SweepRecord], path, what: str) -> Exception:
    """The error for a sweep left with too few samples to fit: other load's (DisturbedError), or incomplete."""
    disturbed = sum(record.disturbed for record in records)
    if disturbed:       # too few left because of other load: the machine, not the input
        return DisturbedError(disturbed, len(records))
    return InputError(f"{path}: fewer than 3 {what}")


def median_groups(records: list[SweepRecord], group: Callable[[SweepRecord], object]) -> dict:
    """Per group of steady-state records: the median latency (ms) and energy (mJ, or None) over its passes.

    ``group(record)`` is the key of the item a record measured (groups in order of first record).
    Records that raised an :data:`EXCLUDING_FLAGS` flag are left out.
    """
    latency: dict = {}
    energy: dict = {}
    for record in records:
        if record.excluded_by:
            continue
        key = group(record)
        latency.setdefault(key, []).append(record.latency_ms)
        if record.energy_mj is not None:
            energy.setdefault(key, []).append(record.energy_mj)
    return {key: (statistics.median(values), statistics.median(energy[key]) if key in energy else None)
            for key, values in latency.items()}
