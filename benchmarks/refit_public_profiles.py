"""Fit profiles to the public measurements of real boards in ../shared/external and write them as shipped profiles.

For each device column: 100 random NB201 architectures (seed 0) train ``edgeperf fit``'s per-class
step-linear model on the device's datasheet profile (its peaks, clocks, power and fusion rules stay
visible; the layer models are replaced), and every other measured architecture tests it. The fit
decides by cross-validation whether sibling convolutions run merged (horizontal fusion). Each
profile states only the precision it was fitted at (the Nano has one profile per precision: fp16
and fp32 TensorRT engines behave differently) and records the dataset, its source commit, the
training size, the cross-validated and held-out error. The Snapdragon 855 units have no datasheet
profile here: their peaks are a 1 GFLOP/s unit (said so in the profile) and the fitted scales carry
the throughput. Architectures whose cell output is disconnected are left out (see usable_rows).

Run: ``python benchmarks/refit_public_profiles.py [--write] [--only NAME...] [--test N]`` (prints
the figures; ``--write`` puts the profiles into profiles/data/). Takes about 10 minutes here: every
one of the ~15,000 architectures is built once (about 12 ms each) and estimated per device.
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType

import numpy as np

import edgeperf
from edgeperf.estimator import estimate_mapped, load_model, map_graph, resolve_operating_point
from edgeperf.fitting import NetworkSample, fit_from_networks, load_prior, prediction_metrics
from edgeperf.profiles import Citation, ClockDomain, LayerModel, PowerModel, load_profile, write_profile_file
from edgeperf.zoo._nas import latbench_vertices, parse_nb201

EXTERNAL = Path(__file__).resolve().parents[2] / "shared" / "external"
LATBENCH = EXTERNAL / "latbench_brpnas_nb201_latency_seconds.csv"
HELP = EXTERNAL / "help_nb201_latency_ms.csv"
LATBENCH_SOURCE = ("LatBench (BRP-NAS, Dudziak et al., NeurIPS 2020), SamsungLabs/eagle, byte copy at "
                   "ZengYuXiang7/NAS-LLM-GNN @ 46d3713c (Apache-2.0)")
BLOCKS = EXTERNAL / "hwnasbench_fbnet_block_lut.csv"
BLOCKS_SOURCE = ("HW-NAS-Bench FBNet per-block lookup table (Li et al., ICLR 2021, RICE-EIC/HW-NAS-Bench, MIT; "
                 "JSON dump from fracapuano/sim-is-more @ c8a9073b), "
                 "columns edgegpu_latency (ms) and edgegpu_energy (mJ)")
HELP_SOURCE = "HW-NAS-Bench NB201 latencies via HayeonLee/HELP @ 45f70eb9 (MIT)"
#: The datasheet profiles the fits start from, as shipped before the fitted board profiles of the same names replaced
#: them (kept with lodo_fit.py's: a fit keeps its base's peaks, clocks, power and fusion rules).
BASES = Path(__file__).resolve().parent / "lodo_bases"


def datasheet_base(name: str):
    """The datasheet profile ``name`` (jetson-nano, coral-edgetpu, raspberry-pi-4, jetson-tx2) from lodo_bases/."""
    return load_profile(str(BASES / f"{name}.json"))

# name -> (dataset, column, seconds?, zoo space, base profile, precision, title)
DEVICES = {
    "jetson-nano-nb201": (LATBENCH, "embedded-gpu-jetson-nano-fp16", True, "nb201-latbench", "jetson-nano", "fp16",
                          "NVIDIA Jetson Nano (TensorRT fp16), layer models fitted to LatBench NB201"),
    "jetson-nano-fp32-nb201": (LATBENCH, "embedded-gpu-jetson-nano-fp32", True, "nb201-latbench", "jetson-nano", "fp32",
                               "NVIDIA Jetson Nano (TensorRT fp32), layer models fitted to LatBench NB201"),
    "coral-edgetpu-nb201": (LATBENCH, "embedded-tpu-edge-tpu-int8", True, "nb201-latbench", "coral-edgetpu", "int8",
                            "Google Coral Edge TPU (int8), layer models fitted to LatBench NB201"),
    "snapdragon-855-cpu-nb201": (LATBENCH, "mobile-cpu-snapdragon-855-kryo-485-int8", True, "nb201-latbench", None,
                                 "int8", "Snapdragon 855 Kryo 485 CPU (TFLite int8), fitted to LatBench NB201"),
    "snapdragon-855-gpu-nb201": (LATBENCH, "mobile-gpu-snapdragon-855-adreno-640-int8", True, "nb201-latbench", None,
                                 "int8", "Snapdragon 855 Adreno 640 GPU (TFLite int8), fitted to LatBench NB201"),
    "snapdragon-855-dsp-nb201": (LATBENCH, "mobile-dsp-snapdragon-855-hexagon-690-int8", True, "nb201-latbench", None,
                                 "int8", "Snapdragon 855 Hexagon 690 DSP (TFLite int8), fitted to LatBench NB201"),
    "raspberry-pi-4-nb201": (HELP, "raspi4", False, "nb201", "raspberry-pi-4", "fp32",
                             "Raspberry Pi 4 (TFLite fp32), layer models fitted to HW-NAS-Bench NB201"),
}
#: The hardware each refit column belongs to (lodo_data.DEVICES): its own columns are left out of the prior.
HARDWARE = {"jetson-nano-nb201": "jetson-nano", "jetson-nano-fp32-nb201": "jetson-nano",
            "coral-edgetpu-nb201": "edge-tpu", "snapdragon-855-cpu-nb201": "sd855-kryo485",
            "snapdragon-855-dsp-nb201": "sd855-hexagon690", "snapdragon-855-gpu-nb201": "sd855-adreno640",
            "raspberry-pi-4-nb201": "raspi4"}
UNCHECKED = ("No measurement of this device at 224x224 ImageNet size is available to check it there: see "
             "docs/accuracy.md before trusting such estimates.")
#: Seed 000's Coral dev board latencies at ImageNet size (ms).
CORAL_SEED000 = (("googlenet", 17.97), ("inception_v3", 17.33), ("inception_v4", 20.7))


def choice_text(profile) -> str:
    """Sentences on the network term and the prior a fit chose, for a profile's quality field ('' when neither was tried)."""
    term, leaned = profile.provenance.network_term, profile.provenance.details.get("prior")
    text = ""
    if term is not None:
        text += (f" Network term: {profile.network_term.describe()} (cross-validated MAPE "
                 f"{100 * term.cv_mape[term.chosen]:.1f} % with, {100 * term.cv_mape['none']:.1f} % without)."
                 if profile.network_term is not None else
                 " Network term: none (cross-validation did not gain more than its noise).")
    if leaned is not None:
        text += (f" Prior: other devices' coefficients used with strength {leaned['strength']:g}, lean "
                 f"{leaned['lean']:.2f} (cross-validated MAPE {100 * leaned['cv_mape_with']:.1f} % with, "
                 f"{100 * leaned['cv_mape_without']:.1f} % without)." if leaned.get("chosen")
                 else " Prior: not used (cross-validation preferred the data alone).")
    return text


def snapdragon_base(name: str, title: str):
    """A TFLite-mapped base with unit peaks: the fitted scales carry the throughput."""
    pi4 = datasheet_base("raspberry-pi-4")
    unit = Citation(source="unit", note="a unit, not a datasheet figure: the fitted scales carry the speed")
    no_power = Citation(source="no-power")
    return replace(
        pi4, name=name, title=title, kind="datasheet", path="",
        sources=MappingProxyType({
            "unit": "No sourced datasheet peak for this unit here: peaks and bandwidth are 1 (a unit) and the fitted "
                    "compute and memory scales carry the measured speed.",
            "tflite-fusion": pi4.sources["tflite-fusion"],
            "no-power": "No published power figures for this unit: energy is not modelled."}),
        runtime={"name": "TensorFlow Lite (int8), LatBench"}, device={"soc": "Qualcomm Snapdragon 855"},
        precisions=MappingProxyType({"int8": 1.0, "fp32": 1.0}), default_precision="int8", memory_bandwidth_gbps=1.0,
        compute_domain="soc", memory_domain="soc",
        clocks=MappingProxyType({"soc": ClockDomain(name="soc", reference_mhz=1.0, available_mhz=(1.0,))}),
        power_modes=MappingProxyType({}), default_power_mode=None, unit_cost_eur=None, memory_bytes=None, thermal=None,
        power=PowerModel(idle_mw=0.0, active_mw=MappingProxyType({"default": 0.0}), calibrated=False),
        layer_models=MappingProxyType({"default": LayerModel(form="roofline", source="unit", stated=MappingProxyType(
            {"compute_efficiency": 1.0, "memory_efficiency": 1.0}))}),
        citations=MappingProxyType({("precisions", "int8"): unit, ("precisions", "fp32"): unit,
                                    ("memory_bandwidth_gbps",): unit,
                                    ("clocks", "soc", "reference_mhz"): Citation(source="unit"),
                                    ("power", "idle_mw"): no_power, ("power", "active_mw", "default"): no_power}),
    )


def usable_rows(dataset: Path, column: str) -> tuple[list[dict], int]:
    """Measured rows in a seeded random order, and how many rows were left out as degenerate.

    Left out: cells whose output no path reaches from the input (LatBench did not measure them; in
    HW-NAS-Bench's column they take about 0.1 ms, the runtime having folded the whole network to a
    constant, which no per-layer model of the network as written can represent).
    """
    rows = list(csv.DictReader(open(dataset)))
    connected = {r["arch_str"] for r in rows if latbench_vertices(parse_nb201(r["arch_str"])) is not None}
    kept = [r for r in rows if r.get(column) and float(r[column]) > 0 and r["arch_str"] in connected]
    random.Random(0).shuffle(kept)
    return kept, len(rows) - len(connected)


def predict(profile, samples, precision, graphs) -> np.ndarray:
    """Total latency per sample with ``profile``, reusing loaded graphs."""
    point = resolve_operating_point(profile)
    out = []
    for sample in samples:
        graph = graphs.get((sample.model, None)) or graphs.setdefault((sample.model, None), load_model(sample.model))
        out.append(estimate_mapped(map_graph(graph, profile.mapping), profile, precision=precision,
                                   point=point).total_latency_ms)
    return np.array(out)


def fit_tx2_blocks(args) -> None:
    """jetson-tx2-fbnet: latency and energy of HW-NAS-Bench's FBNet blocks (32x32 and 224x224 layouts) on a TX2."""
    name = "jetson-tx2-fbnet"
    base = datasheet_base("jetson-tx2")
    rows = [r for r in csv.DictReader(open(BLOCKS)) if float(r["edgegpu_latency"] or 0) > 0]
    random.Random(0).shuffle(rows)
    test_rows, train_rows = rows[: len(rows) // 3], rows[len(rows) // 3:]
    train = [NetworkSample(model=f"zoo:fbnet-block:{r['key']}", latency_ms=float(r["edgegpu_latency"]),
                           energy_mj=float(r["edgegpu_energy"])) for r in train_rows]
    fit = fit_from_networks(train, base, name=name, source=f"{BLOCKS_SOURCE}, {len(train)} random blocks (seed 0)")
    profile = fit.profile
    measured = np.array([float(r["edgegpu_latency"]) for r in test_rows])
    energy = np.array([float(r["edgegpu_energy"]) for r in test_rows])
    estimates = [edgeperf.estimate(f"zoo:fbnet-block:{r['key']}", profile) for r in test_rows]
    held_out = prediction_metrics(np.array([e.total_latency_ms for e in estimates]), measured)
    held_out_energy = prediction_metrics(np.array([e.total_energy_mj for e in estimates]), energy)
    quality = (
        f"Layer and power models fitted to {len(train)} measured FBNet blocks of HW-NAS-Bench (TX2 latency and energy, "
        f"feature maps 4x4 to 224x224); held out on {len(test_rows)} other blocks: latency MAPE "
        f"{100 * held_out.mape:.1f} %, {100 * held_out.within_10pct:.0f} % within +-10 %, Spearman "
        f"{held_out.spearman:.3f}; energy MAPE {100 * held_out_energy.mape:.1f} %. Blocks were timed one at a "
        f"time (about 0.5 ms each even when tiny: per-block overhead of the measurement), so whole networks are "
        f"over-predicted by that overhead per block. Precision: the profile's default (fp16), which the table does not "
        f"state. Peaks, clocks and power modes are the datasheet profile's.")
    checks = []
    for net, seed_ms in (("googlenet", 53.11), ("inception_v3", 270.02), ("inception_v4", 552.89)):
        fitted_ms = edgeperf.estimate(f"zoo:{net}", profile, power_mode="MAXN").total_latency_ms
        datasheet_ms = edgeperf.estimate(f"zoo:{net}", base, power_mode="MAXN").total_latency_ms
        checks.append(f"{net} {fitted_ms:.0f} ms against {seed_ms} ms measured (datasheet profile {datasheet_ms:.1f} ms)")
    quality += (" Checked against seed 000's TX2 MAXN latencies at ImageNet size (TensorFlow with "
                "TensorRT): " + "; ".join(checks) + ".")
    provenance = profile.provenance.with_details(
        dataset=BLOCKS_SOURCE, training_blocks=len(train), held_out={**held_out.to_dict(), "blocks": len(test_rows)},
        held_out_energy={**held_out_energy.to_dict(), "blocks": len(test_rows)},
        input="FBNet blocks of the 224x224 and 32x32 layouts (7x7 to 224x224 maps)", imagenet_check=checks)
    profile = replace(profile, title="NVIDIA Jetson TX2, layer and power models fitted to HW-NAS-Bench's FBNet block "
                                     "table", quality=quality, provenance=provenance)
    print("  " + "\n  ".join(checks))
    print(f"{name}: cv MAPE {100 * fit.cross_validation.mape:.1f} %; held-out n={len(test_rows)} latency MAPE "
          f"{100 * held_out.mape:.1f} %, within 10 % {100 * held_out.within_10pct:.0f} %, rho "
          f"{held_out.spearman:.3f}; energy MAPE {100 * held_out_energy.mape:.1f} %, rho "
          f"{held_out_energy.spearman:.3f}")
    if args.write:
        path = Path(__file__).resolve().parents[1] / "profiles" / "data" / f"{name}.json"
        write_profile_file(profile, path)
        print(f"  wrote {path.name}")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--train", type=int, default=100)
    parser.add_argument("--test", type=int, default=0, help="held-out networks (default 0: all the others)")
    parser.add_argument("--only", nargs="*")
    parser.add_argument("--method", choices=("current", "before"), default="current",
                        help="current: edgeperf fit's network term and prior (without the device's own hardware); "
                             "before: neither (how the shipped -nb201 profiles of 2026-11-22 were fitted)")
    args = parser.parse_args()
    if not LATBENCH.is_file() or not HELP.is_file():
        print(f"skipped: {EXTERNAL} lacks the measurement files", file=sys.stderr)
        return 0
    if not args.only or "jetson-tx2-fbnet" in args.only:
        fit_tx2_blocks(args)
    graphs: dict = {}  # loaded once, shared by every device's fit and test of one search space
    space = None
    for name, device in DEVICES.items():
        if args.only and name not in args.only:
            continue
        if device[3] != space:  # about 0.5 MB per graph: keep one space's 15,000 at a time
            graphs.clear()
            space = device[3]
        profile = refit(name, device, args, graphs)
        if args.write:
            path = Path(__file__).resolve().parents[1] / "profiles" / "data" / f"{name}.json"
            write_profile_file(profile, path)
            print(f"  wrote {path.name}")
    return 0


def refit(name, device, args, graphs):
    dataset, column, seconds, space, base_name, precision, title = device
    base = datasheet_base(base_name) if base_name else snapdragon_base(name, title)
    rows, degenerate = usable_rows(dataset, column)
    scale = 1000.0 if seconds else 1.0
    samples = [NetworkSample(model=f"zoo:{space}:{r['arch_str']}", latency_ms=float(r[column]) * scale) for r in rows]
    train = samples[: args.train]
    test = samples[args.train: args.train + args.test] if args.test else samples[args.train:]
    source = LATBENCH_SOURCE if dataset == LATBENCH else HELP_SOURCE
    current = args.method == "current"
    fit = fit_from_networks(train, base, name=name, precision=precision, merge_siblings=None, memory_split=None,
                            graphs=graphs, network_term=None if current else False,
                            prior=load_prior().without(HARDWARE[name]) if current else None,
                            source=f"{source}, column {column}, {args.train} random architectures (seed 0)")
    # The profile states only the precision it was fitted at: another precision is another engine.
    profile = replace(fit.profile, precisions=MappingProxyType({precision: fit.profile.precisions[precision]}),
                      default_precision=precision, title=title)
    held_out = prediction_metrics(predict(profile, test, precision, graphs), np.array([t.latency_ms for t in test]))
    merge, terms = profile.provenance.sibling_merge, profile.provenance.memory_terms
    merge_text = (f" Chosen by cross-validation: sibling convolutions merged into one kernel (horizontal fusion) "
                  f"{'yes' if merge.chosen else 'no'} (MAPE {100 * merge.cv_mape['with']:.1f} % with, "
                  f"{100 * merge.cv_mape['without']:.1f} % without); weights and outputs with memory coefficients of "
                  f"their own {'yes' if terms.chosen == 'split' else 'no'} ({100 * terms.cv_mape['split']:.1f} % "
                  f"with, {100 * terms.cv_mape['one']:.1f} % without).")
    quality = (
        f"Layer models fitted to {args.train} measured 32x32 NB201 networks ({column}, precision {precision}); "
        f"held out on all {len(test)} other measured architectures: MAPE {100 * held_out.mape:.1f} %, "
        f"{100 * held_out.within_10pct:.0f} % within +-10 %, Spearman {held_out.spearman:.3f}.{merge_text}"
        f"{choice_text(profile)} {UNCHECKED} Peaks, clocks and power are the datasheet profile's.")
    details = {"dataset": source, "column": column, "training_networks": args.train,
               "held_out": {**held_out.to_dict(), "networks": len(test)}, "input": "32x32 CIFAR-size NB201 networks",
               "left_out": f"{degenerate} architectures whose cell output is disconnected from its input "
                           f"({'not measured' if dataset == LATBENCH else 'folded to a constant network by the runtime'})"}
    cv = fit.cross_validation
    print(f"{name}: cv MAPE {100 * cv.mape:.1f} %; held-out n={len(test)} MAPE {100 * held_out.mape:.1f} %, "
          f"within 10 % {100 * held_out.within_10pct:.1f} %, rho {held_out.spearman:.3f};{merge_text}"
          f"{choice_text(profile)}", flush=True)
    if name == "coral-edgetpu-nb201":
        checks, ratios = [], []
        for net, seed_ms in CORAL_SEED000:
            fitted_ms = edgeperf.estimate(f"zoo:{net}", profile).total_latency_ms
            datasheet_ms = edgeperf.estimate(f"zoo:{net}", base).total_latency_ms
            checks.append(f"{net} {fitted_ms:.1f} ms against {seed_ms} ms measured (datasheet profile {datasheet_ms:.1f} ms)")
            ratios.append(fitted_ms / seed_ms)
            print(f"  seed 000 {net}: measured {seed_ms} ms; fitted {fitted_ms:.2f} ms; datasheet {datasheet_ms:.2f} ms")
        worst = max(max(ratios), 1 / min(ratios))
        quality = quality.replace(UNCHECKED, (
            "Checked against seed 000's Coral dev board latencies at ImageNet size: " + "; ".join(checks)
            + f": off by up to a factor of {worst:.1f} there, so treat 224x224 estimates as rough."))
        details["imagenet_check"] = checks
    provenance = replace(profile.provenance, fitted_input_hw_max=32).with_details(**details)
    return replace(profile, quality=quality, provenance=provenance)


if __name__ == "__main__":
    sys.exit(main())
