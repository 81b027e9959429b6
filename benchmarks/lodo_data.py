"""The device columns of ../shared/external and their fit features, cached on disk (for lodo_fit.py).

Every device column of the public NAS measurements is one :class:`Device`: LatBench's 8 NB201
columns (BRP-NAS's network), HELP's 8 NB201 columns (HW-NAS-Bench's and HELP's measurements of
the original NB201 network), HELP's 4 FBNet columns, and the Jetson TX2 FBNet column that
HW-NAS-Bench defines the same way as those four (the sum of its per-block lookup table, with the
stem, final 1x1 convolution, pooling and classifier entries; the sums reproduce HELP's four FBNet
columns exactly, which :func:`rows` checks). Columns of the same hardware share a ``hardware``
name so that a leave-one-device-out run holds all of them out together.

Each device is fitted with the fusion rules of the runtime family a new user would pick for it
(fixed here, before any device is held out): NVIDIA GPUs with TensorRT's rules (the jetson-nano
profile's mapping), everything else with TensorFlow Lite's (raspberry-pi-4's). The fit is
invariant to scaling a feature column (``edgeperf fit`` normalises columns), so features computed
at one base profile per family serve every device of that family; only the base work of classes
at one size in every network (the classifier) depends on the base, by microseconds here.

Features (per network: executed layers, compute ms and memory ms of inputs, weights and outputs per
operator class, with and without sibling-convolution merging) are computed once per dataset and
family and cached as ``.npz`` files in a cache folder; a run that needs more rows extends the cache.
"""

from __future__ import annotations

import csv
import os
import random
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgeperf.fitting import NetworkSample, network_features, with_sibling_merge
from edgeperf.fitting._critical_fit import NetworkLayers
from edgeperf.profiles import load_profile
from edgeperf.zoo._nas import FBNET_LAYOUT, latbench_vertices, parse_fbnet, parse_nb201

EXTERNAL = Path(__file__).resolve().parents[2] / "shared" / "external"
LATBENCH = EXTERNAL / "latbench_brpnas_nb201_latency_seconds.csv"
HELP_NB201 = EXTERNAL / "help_nb201_latency_ms.csv"
HELP_FBNET = EXTERNAL / "help_fbnet_cifar100_latency_ms.csv"
FBNET_LUT = EXTERNAL / "hwnasbench_fbnet_block_lut.csv"

#: dataset -> (file, zoo space, latency unit factor to ms)
DATASETS = {
    "latbench": (LATBENCH, "nb201-latbench", 1000.0),
    "help-nb201": (HELP_NB201, "nb201", 1.0),
    "help-fbnet": (HELP_FBNET, "fbnet", 1.0),
}
#: dataset -> zoo spaces that may describe what its devices executed (a fit tries each)
GRAPHS = {"latbench": ("nb201-latbench",), "help-nb201": ("nb201", "nb201-eager"), "help-fbnet": ("fbnet",)}
#: Runtime family -> base profile whose mapping (fusion rules) the family's devices are fitted with: the
#: datasheet profiles jetson-nano and raspberry-pi-4 as shipped until the board profiles replaced them
#: (kept in lodo_bases/, so the features, the cache and the shipped prior stay what they were measured with).
FAMILIES = {"tensorrt": str(Path(__file__).resolve().parent / "lodo_bases" / "jetson-nano.json"),
            "tflite": str(Path(__file__).resolve().parent / "lodo_bases" / "raspberry-pi-4.json")}
CACHE_VERSION = 2   # 2: each network's layers and their DAG (for the critical-path term)


@dataclass(frozen=True, slots=True, kw_only=True)
class Device:
    """One device column: where its latencies are and how a new user would fit it."""

    name: str
    hardware: str
    dataset: str
    column: str
    family: str
    title: str
    shipped: str | None = None   # the shipped -nb201 profile fitted to this column, if any


DEVICES = (
    Device(name="lb-i7-7820x", hardware="i7-7820x", dataset="latbench", column="desktop-cpu-core-i7-7820x-fp32",
           family="tflite", title="LatBench desktop CPU i7-7820X fp32"),
    Device(name="lb-gtx-1080ti", hardware="gtx-1080ti", dataset="latbench", column="desktop-gpu-gtx-1080ti-fp32",
           family="tensorrt", title="LatBench GTX 1080 Ti fp32"),
    Device(name="lb-nano-fp16", hardware="jetson-nano", dataset="latbench", column="embedded-gpu-jetson-nano-fp16",
           family="tensorrt", title="LatBench Jetson Nano fp16", shipped="jetson-nano-nb201"),
    Device(name="lb-nano-fp32", hardware="jetson-nano", dataset="latbench", column="embedded-gpu-jetson-nano-fp32",
           family="tensorrt", title="LatBench Jetson Nano fp32", shipped="jetson-nano-fp32-nb201"),
    Device(name="lb-edgetpu", hardware="edge-tpu", dataset="latbench", column="embedded-tpu-edge-tpu-int8",
           family="tflite", title="LatBench Edge TPU int8", shipped="coral-edgetpu-nb201"),
    Device(name="lb-sd855-cpu", hardware="sd855-kryo485", dataset="latbench",
           column="mobile-cpu-snapdragon-855-kryo-485-int8", family="tflite",
           title="LatBench Snapdragon 855 CPU int8", shipped="snapdragon-855-cpu-nb201"),
    Device(name="lb-sd855-dsp", hardware="sd855-hexagon690", dataset="latbench",
           column="mobile-dsp-snapdragon-855-hexagon-690-int8", family="tflite",
           title="LatBench Snapdragon 855 DSP int8", shipped="snapdragon-855-dsp-nb201"),
    Device(name="lb-sd855-gpu", hardware="sd855-adreno640", dataset="latbench",
           column="mobile-gpu-snapdragon-855-adreno-640-int8", family="tflite",
           title="LatBench Snapdragon 855 GPU int8", shipped="snapdragon-855-gpu-nb201"),
    Device(name="nb201-raspi4", hardware="raspi4", dataset="help-nb201", column="raspi4", family="tflite",
           title="HW-NAS-Bench NB201 Raspberry Pi 4", shipped="raspberry-pi-4-nb201"),
    Device(name="nb201-pixel3", hardware="pixel3", dataset="help-nb201", column="pixel3", family="tflite",
           title="HW-NAS-Bench NB201 Pixel 3"),
    Device(name="nb201-eyeriss", hardware="eyeriss", dataset="help-nb201", column="eyeriss", family="tflite",
           title="HW-NAS-Bench NB201 Eyeriss (simulated)"),
    Device(name="nb201-fpga", hardware="fpga", dataset="help-nb201", column="fpga", family="tflite",
           title="HW-NAS-Bench NB201 FPGA (simulated)"),
    Device(name="nb201-1080ti", hardware="gtx-1080ti", dataset="help-nb201", column="1080ti_1", family="tensorrt",
           title="HELP NB201 GTX 1080 Ti"),
    Device(name="nb201-titan-rtx", hardware="titan-rtx", dataset="help-nb201", column="titan_rtx_1",
           family="tensorrt", title="HELP NB201 Titan RTX"),
    Device(name="nb201-gold-6226", hardware="xeon-gold-6226", dataset="help-nb201", column="gold_6226",
           family="tflite", title="HELP NB201 Xeon Gold 6226"),
    Device(name="nb201-silver-4114", hardware="xeon-silver-4114", dataset="help-nb201", column="silver_4114",
           family="tflite", title="HELP NB201 Xeon Silver 4114"),
    Device(name="fbnet-raspi4", hardware="raspi4", dataset="help-fbnet", column="raspi4", family="tflite",
           title="HW-NAS-Bench FBNet Raspberry Pi 4"),
    Device(name="fbnet-pixel3", hardware="pixel3", dataset="help-fbnet", column="pixel3", family="tflite",
           title="HW-NAS-Bench FBNet Pixel 3"),
    Device(name="fbnet-eyeriss", hardware="eyeriss", dataset="help-fbnet", column="eyeriss", family="tflite",
           title="HW-NAS-Bench FBNet Eyeriss (simulated)"),
    Device(name="fbnet-fpga", hardware="fpga", dataset="help-fbnet", column="fpga", family="tflite",
           title="HW-NAS-Bench FBNet FPGA (simulated)"),
    Device(name="fbnet-tx2", hardware="jetson-tx2", dataset="help-fbnet", column="edgegpu", family="tensorrt",
           title="HW-NAS-Bench FBNet Jetson TX2 (sum of its block table)"),
)


def available() -> bool:
    return all(path.is_file() for path in (LATBENCH, HELP_NB201, HELP_FBNET, FBNET_LUT))


def split(dataset: str, n_rows: int) -> tuple[range, range]:
    """Training pool and test rows of a dataset's seeded order.

    NB201: the test rows are those after the first 5,500 (the ceiling's held-out part,
    benchmarks/nb201_ceiling.py), the pool the first 5,000. FBNet has 5,000 architectures: the
    last 1,000 are the test rows, the first 4,000 the pool.
    """
    if dataset == "help-fbnet":
        return range(0, n_rows - 1000), range(n_rows - 1000, n_rows)
    return range(0, 5000), range(5500, n_rows)


def _fbnet_keys(arch: str) -> list[str]:
    """HW-NAS-Bench block-table keys of an FBNet CIFAR-size network (stem, 22 blocks, head)."""
    keys = ["ConvNorm_H32_W32_Cin3_Cout16_kernel3_stride1_group1"]
    for choice, (hw, c_in, c_out, stride) in zip(parse_fbnet(arch), FBNET_LAYOUT):
        if choice == "skip":
            keys.append(f"Skip_H{hw}_W{hw}_Cin{c_in}_Cout{c_out}_stride{stride}")
        else:
            parts = choice.split("_")
            group = 2 if len(parts) > 2 else 1
            keys.append(f"ConvBlock_H{hw}_W{hw}_Cin{c_in}_Cout{c_out}_exp{parts[1][1:]}_kernel{parts[0][1:]}"
                        f"_stride{stride}_group{group}")
    return keys + ["ConvNorm_H4_W4_Cin352_Cout1504_kernel1_stride1_group1",
                   "AvgP_H4_W4_Cin1504_Cout1504_kernel4_stride1", "FC_Cin1504_Cout100"]


def rows(dataset: str) -> list[dict]:
    """The dataset's usable rows in a seeded random order (as refit_public_profiles.usable_rows orders them).

    NB201: cells whose output is disconnected are left out (LatBench did not measure them). FBNet:
    an ``edgegpu`` column (Jetson TX2) is added as the sum of the block table, after checking that
    the same sums reproduce HELP's raspi4 column.
    """
    path, _, _ = DATASETS[dataset]
    with open(path, newline="") as stream:
        table = list(csv.DictReader(stream))
    if dataset == "help-fbnet":
        with open(FBNET_LUT, newline="") as stream:
            lut = {r["key"]: r for r in csv.DictReader(stream)}
        for row in table:
            keys = _fbnet_keys(row["op_idx_list"])
            check = sum(float(lut[k]["raspi4_latency"]) for k in keys)
            if abs(check / float(row["raspi4"]) - 1) > 1e-9:
                raise RuntimeError(f"FBNet block sums do not reproduce HELP's raspi4 column ({row['arch_str']})")
            row["edgegpu"] = repr(sum(float(lut[k]["edgegpu_latency"]) for k in keys))
            row["arch"] = row["op_idx_list"]
        kept = table
    else:
        kept = [r for r in table if latbench_vertices(parse_nb201(r["arch_str"])) is not None]
        for row in kept:
            row["arch"] = row["arch_str"]
    random.Random(0).shuffle(kept)
    return kept


def latencies(device: Device, table: list[dict]) -> np.ndarray:
    """The device's latency of every row in ms (NaN where not measured)."""
    scale = DATASETS[device.dataset][2]
    return np.array([float(r[device.column]) * scale if r.get(device.column) else np.nan for r in table])


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Features:
    """Fit features of some rows of a dataset under one runtime family, with and without merged siblings."""

    index: np.ndarray            # row positions in the seeded order
    classes: dict                # merge (bool) -> list of classes
    x: dict                      # merge -> array (rows, 5 * classes)
    base_work: dict              # merge -> array (rows, classes): the family base's latency without overhead
    layers: dict                 # merge -> NetworkLayers of the rows (each layer's class and raw features, the DAG)


def features(dataset: str, family: str, wanted, table: list[dict], cache: Path, log=print,
             space: str | None = None) -> Features:
    """Features of rows ``wanted`` (positions in ``table``) built as zoo ``space``, computed where the cache lacks them."""
    cache.mkdir(parents=True, exist_ok=True)
    space = space or DATASETS[dataset][1]
    base = load_profile(FAMILIES[family])
    wanted = np.unique(np.asarray(list(wanted), dtype=int))
    out_index, out_classes, out_x, out_work, out_layers = None, {}, {}, {}, {}
    for merge in (False, True):
        path = cache / f"v{CACHE_VERSION}-{dataset}-{space}-{family}-{'merged' if merge else 'plain'}.npz"
        stored = _load(path)
        have = set(stored["index"].tolist()) if stored else set()
        missing = [int(i) for i in wanted if int(i) not in have]
        if missing:
            log(f"  computing features of {len(missing)} {dataset} networks ({space}, {family}, "
                f"{'merged' if merge else 'plain'} siblings); about 15 ms each")
            variant = with_sibling_merge(base) if merge else base
            new = _compute(table, missing, space, variant)
            stored = _merge(stored, new)
            _save(path, stored)
        position = {int(i): k for k, i in enumerate(stored["index"])}
        take = np.array([position[int(i)] for i in wanted], dtype=int)
        out_index = wanted
        out_classes[merge] = list(stored["classes"])
        out_x[merge] = stored["x"][take]
        out_work[merge] = stored["base_work"][take]
        out_layers[merge] = _layers(stored, take)
    return Features(index=out_index, classes=out_classes, x=out_x, base_work=out_work, layers=out_layers)


#: Per-layer arrays of a cache file: concatenated over networks, ``layer_start`` (networks + 1) delimits them;
#: ``order`` is each network's topological order and ``pred_start``/``pred_index`` its layers' predecessors.
_LAYER_KEYS = ("layer_start", "layer_class", "layer_feats", "order", "pred_start", "pred_index")


def _signature_ids(stored: dict) -> tuple[np.ndarray, tuple]:
    """Each cached layer's signature, as an index into names: its class and its five raw features.

    The cache keeps no signature strings; a layer's class and work at the family's base (compute ms,
    layer count and the three memory ms) stand for ``estimator.layer_signature``. On 30 networks of
    each dataset, graph and family the two partition the layers identically except on the
    ``nb201-eager`` graphs, where a few signatures of equal class and work (a multiplication by zero
    and an addition of the same size) fall into one group here (100 signatures, 90 groups).
    """
    keys = np.column_stack([stored["layer_class"].astype(float), np.round(stored["layer_feats"], 12)])
    unique, inverse = np.unique(keys, axis=0, return_inverse=True)
    names = tuple(f"{stored['classes'][int(row[0])]} " + " ".join(f"{v:.12g}" for v in row[1:]) for row in unique)
    return np.asarray(inverse).reshape(-1), names


def _layers(stored: dict, take) -> NetworkLayers:
    start, pred_start, preds = stored["layer_start"], stored["pred_start"], stored["pred_index"].tolist()
    signature, names = _signature_ids(stored)
    classes, feats, paths, signatures = [], [], [], []
    for row in take:
        a, b = int(start[row]), int(start[row + 1])
        signatures.append(signature[a:b])
        classes.append(stored["layer_class"][a:b])
        feats.append(stored["layer_feats"][a:b])
        paths.append((stored["order"][a:b].tolist(),
                      [preds[int(pred_start[i]): int(pred_start[i + 1])] for i in range(a, b)]))
    return NetworkLayers(classes=tuple(classes), feats=tuple(feats), paths=tuple(paths),
                         n_classes=len(stored["classes"]), signatures=tuple(signatures), signature_names=names)


def _pack_layers(layers: NetworkLayers) -> dict:
    sizes = [len(c) for c in layers.classes]
    preds = [p for _, before in layers.paths for p in before]
    return {"layer_start": np.concatenate([[0], np.cumsum(sizes)]).astype(int),
            "layer_class": np.concatenate(layers.classes).astype(int) if sizes else np.zeros(0, int),
            "layer_feats": np.vstack(layers.feats) if sizes else np.zeros((0, 5)),
            "order": np.array([i for order, _ in layers.paths for i in order], dtype=int),
            "pred_start": np.concatenate([[0], np.cumsum([len(p) for p in preds])]).astype(int),
            "pred_index": np.array([i for p in preds for i in p], dtype=int)}


def _compute(table, missing, space, base) -> dict:
    from edgeperf.estimator import latency_parts, load_model, map_graph, resolve_operating_point

    point = resolve_operating_point(base)
    per_network, works, layers = [], [], []
    chunk = 200
    for start in range(0, len(missing), chunk):
        part = missing[start: start + chunk]
        graphs: dict = {}
        samples = [NetworkSample(model=f"zoo:{space}:{table[i]['arch']}", latency_ms=1.0) for i in part]
        found = network_features(samples, base, None, graphs=graphs)
        per_network.extend(found.per_network)
        names = found.classes
        layers.extend((np.array([names[c] for c in cls]), f, p)
                      for cls, f, p in zip(found.layers.classes, found.layers.feats, found.layers.paths))
        for sample in samples:
            graph = graphs.get((sample.model, None)) or load_model(sample.model)
            mapped = map_graph(graph, base.mapping)
            parts, _ = latency_parts(mapped, base, found.precision, point.freq_mhz)
            work = {}
            for op_class in np.unique(mapped.op_class):
                index = mapped.op_class == op_class
                work[str(op_class)] = float((parts.latency_ms[index] - parts.overhead_ms[index]).sum())
            works.append(work)
    classes = sorted({c for per in per_network for c in per})
    x = np.array([[v for c in classes for v in per.get(c, (0.0,) * 5)] for per in per_network], dtype=float)
    work = np.array([[w.get(c, 0.0) for c in classes] for w in works], dtype=float)
    position = {c: i for i, c in enumerate(classes)}
    packed = _pack_layers(NetworkLayers(
        classes=tuple(np.array([position[str(c)] for c in names], dtype=int) for names, _, _ in layers),
        feats=tuple(f for _, f, _ in layers), paths=tuple(p for _, _, p in layers), n_classes=len(classes)))
    return {"index": np.array(missing, dtype=int), "classes": np.array(classes), "x": x.reshape(len(missing), -1),
            "base_work": work.reshape(len(missing), len(classes)), **packed}


def _merge(old: dict | None, new: dict) -> dict:
    if old is None:
        return new
    classes = sorted(set(old["classes"].tolist()) | set(new["classes"].tolist()))

    def widen(part):
        where = [classes.index(c) for c in part["classes"].tolist()]
        x = np.zeros((len(part["index"]), 5 * len(classes)))
        work = np.zeros((len(part["index"]), len(classes)))
        for k, c in enumerate(where):
            x[:, 5 * c: 5 * c + 5] = part["x"][:, 5 * k: 5 * k + 5]
            work[:, c] = part["base_work"][:, k]
        return x, work

    x_old, w_old = widen(old)
    x_new, w_new = widen(new)
    joined = {key: [] for key in _LAYER_KEYS}
    layer_base = pred_base = 0
    for part in (old, new):     # per-layer arrays: classes renumbered, offsets shifted
        where = np.array([classes.index(c) for c in part["classes"].tolist()], dtype=int)
        joined["layer_start"].append(part["layer_start"][:-1] + layer_base)
        joined["layer_class"].append(where[part["layer_class"]] if len(where) else part["layer_class"])
        joined["layer_feats"].append(part["layer_feats"])
        joined["order"].append(part["order"])
        joined["pred_start"].append(part["pred_start"][:-1] + pred_base)
        joined["pred_index"].append(part["pred_index"])
        layer_base += int(part["layer_start"][-1])
        pred_base += int(part["pred_start"][-1])
    joined["layer_start"].append(np.array([layer_base]))
    joined["pred_start"].append(np.array([pred_base]))
    return {"index": np.concatenate([old["index"], new["index"]]), "classes": np.array(classes),
            "x": np.vstack([x_old, x_new]), "base_work": np.vstack([w_old, w_new]),
            **{key: np.concatenate(parts) for key, parts in joined.items()}}


def _load(path: Path) -> dict | None:
    if not path.is_file():
        return None
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in ("index", "classes", "x", "base_work", *_LAYER_KEYS)}


def _save(path: Path, data: dict) -> None:
    handle, temp = tempfile.mkstemp(dir=path.parent, suffix=".npz")
    os.close(handle)
    np.savez(temp, **data)
    os.replace(temp, path)
