"""Refit every shipped board profile from the published table and print its held-out error per board and runtime.

Reads ``../shared/external/published_board_latency_train.csv`` (41 published batch-1 latencies of
real boards at their deployed sizes) and HW-NAS-Bench's FBNet block table (the Pi 4 and TX2 columns,
fitted jointly with those chips, each with a runtime factor of its own), fits the board model with a
prior learned across boards (``edgeperf.fitting.fit_boards``) and prints, per board and runtime:
leave-one-network-out median and worst |error|, share within +-30 % and Spearman's rho; the same with
the strict variant (the network also removed from every other board before the prior is learned); how
often the 90 % interval holds the held-out latency (each network's interval sized without it); the
alternatives the design was chosen against (leave one network out, and leave one board out: each
fitted board predicted from its nearest fitted board, as a derived profile is); the derivation check
behind the derived profiles (Xavier NX, NCS2, Arm NN, Pi 3 B+); and, as a check only, the Pi 4's
ResNet-50 (issue 16 quotes 580 ms with TFLite, 333 with Arm NN, 263 with ncnn; never fitted).

Run: ``python benchmarks/board_profiles.py [--write] [--ablations]`` (about 2 minutes; ``--ablations``
adds about 3 more). ``--write`` rewrites the board profiles in profiles/data/ from their datasheet facts
and the fit (through ``edgeperf.profiles.write_profile_file``). Skips cleanly without ../shared/external.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import replace
import sys
import time
from pathlib import Path

import numpy as np

from edgeperf.estimator import conformal_half_width
from edgeperf.fitting import (
    BLOCK_TABLES,
    COVERAGE,
    DERIVED,
    FITTED,
    fit_boards,
    leave_one_board_out,
    leave_one_network_out,
    load_samples,
    metrics,
    read_block_table,
    read_published_table,
)
from edgeperf.profiles import load_profile, runtime_mapping, write_profile_file

TABLE = Path(__file__).resolve().parents[2] / "shared" / "external" / "published_board_latency_train.csv"
BLOCKS = TABLE.with_name("hwnasbench_fbnet_block_lut.csv")
DATA = Path(__file__).resolve().parents[1] / "profiles" / "data"


def all_rows() -> tuple:
    """The published table's rows and the block tables' rows (when the block table is there)."""
    rows = read_published_table(TABLE)
    if BLOCKS.is_file():
        rows += tuple(r for spec in BLOCK_TABLES for r in read_block_table(BLOCKS, spec))
    return rows


def base_profiles() -> dict:
    """The shipped board profiles: the fit keeps their datasheet facts and replaces the rest."""
    return {name: load_profile(name) for name in [s.profile for s in FITTED] + [s.profile for s in DERIVED]}


def label(row) -> str:
    """A short network label: the zoo network, its input size where not 224, and int8 where the board also runs fp32."""
    name = row.model.removeprefix("zoo:") + (f"@{row.input_hw}px" if row.input_hw != 224 else "")
    return name + ("/int8" if row.precision == "int8" and row.profile == "raspberry-pi-4" else "")


def table(held, title: str) -> None:
    print(f"\n{title}")
    print(f"{'profile':26s} {'n':>2s} {'median':>7s} {'worst':>7s} {'<=30%':>6s} {'rho':>5s}  held-out errors")
    for profile in sorted({h.row.profile for h in held}):
        rows = [h for h in held if h.row.profile == profile]
        m = metrics(rows)
        rho = f"{m['spearman']:.2f}" if m["spearman"] is not None else "  n/a"
        errors = " ".join(f"{label(h.row)} {100 * h.error:+.0f}" for h in rows)
        print(f"{profile:26s} {m['n']:2d} {100 * m['median_abs_error']:6.1f}% {100 * m['max_abs_error']:6.1f}% "
              f"{100 * m['within_30pct']:5.0f}% {rho:>5s}  {errors}")
    m = metrics(held)
    print(f"{'all':26s} {m['n']:2d} {100 * m['median_abs_error']:6.1f}% {100 * m['max_abs_error']:6.1f}% "
          f"{100 * m['within_30pct']:5.0f}%")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="write the fitted profiles into profiles/data/")
    parser.add_argument("--ablations", action="store_true", help="also cross-validate the rejected alternatives")
    args = parser.parse_args(argv)
    if not TABLE.is_file():
        print(f"skipped: {TABLE} not found (the shared data folder is absent)")
        return 0
    start = time.perf_counter()
    rows = all_rows()
    bases = base_profiles()
    fit = fit_boards(rows, bases, progress=lambda m: print(f"[{time.perf_counter() - start:5.0f} s] {m}", file=sys.stderr))
    published = [r for r in rows if not r.block]
    print(f"{len(published)} published rows, {len(rows) - len(published)} blocks of "
          f"{len({r.profile for r in rows if r.block})} block tables, {len({r.profile for r in published})} fitted "
          f"board profiles; prior strength "
          f"{fit.strength:g} chosen by leave-one-network-out median |error| "
          + ", ".join(f"{s:g}: {100 * m['median_abs_error']:.1f} %" for s, m in fit.cv_by_strength.items()))
    table(fit.held_out, "Leave one network out (its board refitted without it; prior learned from the other chips)")
    if fit.strict_held_out:
        table(fit.strict_held_out, "Strict: the network also removed from every other board before the prior is learned")
    print(f"\n{100 * COVERAGE:.0f} % interval from the pooled held-out residuals: x{math.exp(-fit.half_width):.3f} to "
          f"x{math.exp(fit.half_width):.3f} (half-width {fit.half_width:.3f} in log)")
    coverage_check(fit)
    errors = np.array([p / r.latency_ms - 1 for *_, r, p in fit.transfer])
    print(f"Derivation check ({len(fit.transfer)} networks): median |error| {100 * np.median(np.abs(errors)):.0f} %, "
          f"worst {100 * np.max(np.abs(errors)):.0f} %; derived profiles' 90 % interval x{math.exp(-fit.transfer_half_width):.2f}"
          f" to x{math.exp(fit.transfer_half_width):.2f}")
    for target, source in sorted({(t, s) for t, s, *_ in fit.transfer}):
        pair = [p / r.latency_ms - 1 for t, s, r, p in fit.transfer if (t, s) == (target, source)]
        print(f"  {target:26s} <- {source:26s} " + " ".join(f"{100 * e:+.0f}" for e in pair))
    print("\nFitted coefficients (linear scale):")
    for profile, params in fit.params.items():
        print(f"  {profile:26s} " + ", ".join(f"{k}={v:.4g}" for k, v in params.items()
                                                if (k != "stream_efficiency" or profile.startswith("coral"))
                                                and (k != "runtime_factor" or profile.startswith("hwnasbench"))))
    resnet50_check(fit)
    if args.ablations:
        ablations(rows, bases, fit.strength)
    if args.write:
        for name, profile in fit.profiles.items():
            write_profile_file(profile, DATA / f"{name}.json")
        print(f"\nwrote {len(fit.profiles)} profiles to {DATA}")
    print(f"\n{time.perf_counter() - start:.0f} s")
    return 0


def coverage_check(fit) -> None:
    """How often the interval holds the held-out truth: each network's interval sized from the other networks'
    residuals (leave-one-out split conformal), per board, and the strict residuals under the shipped interval."""
    residuals = np.array([h.log_residual for h in fit.held_out])
    covered = np.array([abs(r) <= conformal_half_width(np.delete(residuals, i), COVERAGE)
                        for i, r in enumerate(residuals)])
    print(f"Interval coverage (target {100 * COVERAGE:.0f} %), each network's interval from the other "
          f"{residuals.size - 1} residuals: {100 * covered.mean():.0f} % ({int(covered.sum())}/{covered.size}); "
          + ", ".join(f"{p} {100 * covered[[h.row.profile == p for h in fit.held_out]].mean():.0f} %"
                      for p in sorted({h.row.profile for h in fit.held_out})))
    if fit.strict_held_out:
        strict = np.array([abs(h.log_residual) <= fit.half_width for h in fit.strict_held_out])
        print(f"Strict held-out residuals inside the shipped interval: {100 * strict.mean():.0f} % "
              f"({int(strict.sum())}/{strict.size})")


def resnet50_check(fit) -> None:
    """The Pi 4's ResNet-50 with each runtime against the figures issue 16 quotes (a check, never fitted)."""
    import edgeperf

    quoted = {"raspberry-pi-4": 580.0, "raspberry-pi-4-armnn": 333.0, "raspberry-pi-4-ncnn": 263.0}
    print("\nCheck only (never fitted): Pi 4 ResNet-50 fp32, issue 16 quotes TFLite 580, Arm NN 333, ncnn 263 ms")
    for name, ms in quoted.items():
        if name in fit.profiles:
            est = edgeperf.estimate("zoo:resnet50", fit.profiles[name], precision="fp32").total_latency_ms
            print(f"  {name:26s} {est:7.1f} ms against {ms:g} ({100 * (est / ms - 1):+.0f} %)")


def ablations(rows, bases, strength: float) -> None:
    """Leave-one-network-out and leave-one-board-out error of the alternatives the design was chosen against."""
    units = load_samples(rows, bases)
    published = [r for r in rows if not r.block]
    by_board = {}
    for spec in FITTED:   # every board its own chip: no sharing between the Coral Dev Board and USB Accelerator
        by_board[spec.profile] = [s for ss in units.values() for s in ss if s.spec.profile == spec.profile
                                  or (s.spec.blocks and s.spec.base == spec.profile)]
    tensorrt, ncnn = runtime_mapping("tensorrt").mapping, runtime_mapping("ncnn").mapping
    variants = {
        "chosen (sum, Winograd, blocks, chips shared, learned prior)": dict(units=units),
        "without the HW-NAS-Bench block tables": dict(units=load_samples(published, bases)),
        "TensorRT merging sibling convolutions (horizontal fusion)": dict(units=load_samples(
            rows, bases, mappings={"tensorrt": replace(tensorrt, merge_siblings=("Conv", "Gemm"),
                                                       merge_source="trt-fusion")})),
        "ncnn picking Winograd by cost (not its fixed rule)": dict(units=load_samples(
            rows, bases, mappings={"ncnn": replace(ncnn, winograd=replace(ncnn.winograd, choice="faster"))})),
        "no Winograd (3x3 convolutions at the direct method's work)": dict(units=units, winograd=False),
        "roofline: the larger of compute and memory (not their sum)": dict(units=units, combine="max"),
        "no prior learned across boards (starting prior only)": dict(units=units, shared_prior=False),
        "no chip sharing (Coral Dev Board and USB fitted apart)": dict(units={k: v for k, v in by_board.items() if v}),
    }
    print("\nAlternatives (prior strength as chosen). LONO: leave one network out; LOBO: leave one board out, each "
          "board predicted from its nearest fitted board as a derived profile is:")
    for label, options in variants.items():
        variant_units = options.pop("units")
        held = leave_one_network_out(variant_units, strength, **options)
        board_out = metrics(leave_one_board_out(variant_units, bases, strength, **options))
        m = metrics(held)
        per_board = [metrics([h for h in held if h.row.profile == p]) for p in sorted({h.row.profile for h in held})]
        print(f"  {label:66s} LONO median {100 * m['median_abs_error']:5.1f} %, worst {100 * m['max_abs_error']:5.1f} %, "
              f"{100 * m['within_30pct']:3.0f} % within +-30 %, boards with median <= 15 %: "
              f"{sum(b['median_abs_error'] <= 0.15 for b in per_board)}/{len(per_board)}; LOBO median "
              f"{100 * board_out['median_abs_error']:5.1f} %, worst {100 * board_out['max_abs_error']:5.1f} %")


if __name__ == "__main__":
    sys.exit(main())
