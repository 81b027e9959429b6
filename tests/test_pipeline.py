"""The one measurement pipeline of calibration and layer sweeps: records, files, resuming, samples."""

from __future__ import annotations

import pytest

from edgeperf.measure import Timing
from edgeperf.measure._pipeline import (
    LAYER_SWEEP,
    NETWORK_SWEEP,
    SweepRecord,
    measure_items,
    median_groups,
    read_records,
    write_records,
)


def timing(ms: float, flags=()) -> Timing:
    return Timing(median_ms=ms, raw_median_ms=ms * 1.1, spread=0.01, rounds=3, kept_rounds=3, calls=30, drift=1.0,
                  flags=tuple(flags), reference_ms=0.25, energy_mj=None if not ms else 2 * ms, power_mw=2000.0)


class Recorded:
    """A harness and runner that replay planned timings (ms by reference) and count the measurements."""

    def __init__(self, times: dict):
        self.times, self.loaded, self.current, self.floors = times, [], None, []

    def load(self, model):
        self.loaded.append(model)
        self.current = model
        return self

    def run(self):
        pass

    def settings(self):
        return {"name": "recorded"}

    def measure(self, fn, *, floor_ms=0.0):
        self.floors.append(floor_ms)
        ms, flags = self.times[self.current]
        return timing(ms, flags)


@pytest.mark.parametrize("fmt,item", [
    (NETWORK_SWEEP, {"reference": "resnet18", "input_size": 128, "role": "train", "pass_": 1}),
    (NETWORK_SWEEP, {"reference": "nb201:|none~0|+|none~0|none~1|+|none~0|none~1|none~2|", "input_size": None,
                     "role": "validate", "pass_": 0}),
    (LAYER_SWEEP, {"reference": "zoo:layer:relu,c=1,hw=1", "kind": "relu", "round": 2, "pass_": 1}),
])
def test_a_record_reads_back_as_it_was_written(tmp_path, fmt, item):
    record = SweepRecord.measured(timing(1.25, ("drift",)), **item)
    row = fmt.row(record)
    assert set(row) <= set(fmt.columns + fmt.optional)
    assert row["latency_ms"] == "1.25" and row["flags"] == "drift" and row["energy_mj"] == "2.5"
    path = tmp_path / "s.csv"
    write_records(path, fmt, [record])
    assert read_records(path, fmt) == [record]


def test_items_already_measured_are_skipped_and_the_file_is_whole_after_each(tmp_path):
    path = tmp_path / "s.csv"
    device = Recorded({"a": (1.0, ()), "b": (2.0, ("hot",)), "c": (3.0, ())})
    items = [{"reference": ref, "input_size": size, "role": "train", "pass_": k}
             for k in range(2) for ref, size in (("a", 96), ("b", None), ("c", 160))]
    records = []
    seen = []

    def written(record):
        seen.append(len(read_records(path, NETWORK_SWEEP)))

    measure_items(items[:4], path=path, fmt=NETWORK_SWEEP, records=records, runner=device, harness=device,
                  model_of=lambda item: item["reference"], progress=written)
    assert seen == [1, 2, 3, 4]                             # rewritten after every measurement
    resumed = read_records(path, NETWORK_SWEEP)             # a rerun: the file's records are done
    measure_items(items, path=path, fmt=NETWORK_SWEEP, records=resumed, runner=device, harness=device,
                  model_of=lambda item: item["reference"])
    assert device.loaded == ["a", "b", "c", "a", "b", "c"]   # the last two items only, once each
    assert len(read_records(path, NETWORK_SWEEP)) == 6
    # one group per network, read and new records alike (sizes are numbers, whether read or measured)
    groups = median_groups(resumed, lambda r: (r.reference, r.input_size))
    assert groups == {("a", 96): (1.0, 2.0), ("c", 160): (3.0, 6.0)}   # b was hot in every pass: left out
    assert device.floors == [0.0] * 6                       # no ceiling given: no floor


def test_a_disturbed_record_is_measured_again_in_its_place_and_held_to_its_floor(tmp_path):
    # other load disturbed b (after the harness's own re-measuring): the file keeps it, flagged, and the
    # next run measures it again where it was; a measurement that is merely hot is kept as it is
    from edgeperf import DisturbedError
    from edgeperf.measure._pipeline import raise_if_too_disturbed
    from edgeperf.zoo import runnable_model

    path = tmp_path / "s.csv"
    models = {ref: runnable_model(f"zoo:{ref}") for ref in ("conv3dense1", "dense1")}
    busy = Recorded({models["conv3dense1"]: (0.5, ("disturbed",)), models["dense1"]: (0.2, ("hot",))})
    items = [{"reference": ref, "input_size": None, "role": "train", "pass_": 0} for ref in models]
    records = []
    # ceilings of a 1 GHz core: 64 GFLOP/s, 192 GB/s
    ceiling = {"peak_gflops": 64.0, "bandwidth_gbps": 192.0}
    measure_items(items, path=path, fmt=NETWORK_SWEEP, records=records, runner=busy, harness=busy,
                  model_of=lambda item: models[item["reference"]], ceiling=ceiling)
    with pytest.raises(DisturbedError, match="^1 of 2 measurements disturbed by other load"):
        raise_if_too_disturbed(records)
    from edgeperf.estimator import load_model

    # the floor: the model's FLOPs at 64 GFLOP/s or its weights (1 byte each) at 192 GB/s, the larger
    graph = load_model("zoo:conv3dense1")
    assert busy.floors[0] == pytest.approx(max(graph.flops / 64e6, graph.params / 192e6))
    idle = Recorded({models["conv3dense1"]: (0.4, ()), models["dense1"]: (0.1, ())})
    again = read_records(path, NETWORK_SWEEP)
    measure_items(items, path=path, fmt=NETWORK_SWEEP, records=again, runner=idle, harness=idle,
                  model_of=lambda item: models[item["reference"]], ceiling=ceiling)
    assert idle.loaded == [models["conv3dense1"]]            # only the disturbed one
    assert [(r.reference, r.latency_ms, r.flags) for r in read_records(path, NETWORK_SWEEP)] == [
        ("conv3dense1", 0.4, ()), ("dense1", 0.2, ("hot",))]
    raise_if_too_disturbed(again)


def test_a_layer_sweep_measures_a_point_planned_again_in_a_later_round_once(tmp_path):
    path = tmp_path / "s.csv"
    device = Recorded({"zoo:layer:relu,c=4,hw=2": (0.5, ())})
    item = {"reference": "zoo:layer:relu,c=4,hw=2", "kind": "relu", "pass_": 0}
    records = []
    for round_index in (0, 1):
        measure_items([{**item, "round": round_index}], path=path, fmt=LAYER_SWEEP, records=records, runner=device,
                      harness=device, model_of=lambda i: i["reference"])
    assert len(device.loaded) == 1 and records[0].round == 0
