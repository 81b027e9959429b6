"""Leave-one-device-out: how well ``edgeperf fit --networks`` does on a device nobody tuned it on.

For each device column of ../shared/external (21: LatBench's 8, HELP's 8 NB201 and 4 FBNet columns,
the Jetson TX2 FBNet column summed from HW-NAS-Bench's block table; see lodo_data.py) held out in
turn: the prior is learned from the other devices only (every column of the same hardware is held
out with it), then ``edgeperf fit``'s method is fitted to 10, 20, 50 and 100 random networks of the
held-out device (several draws) and tested on 1,000 others that no fit of any device saw. The
method is fixed here, before any device is held out:

* the fit variants of ``edgeperf fit`` (sibling merge, memory terms), the ridge strength, the
  network term (a power law or, since issue 18, a critical-path term; the better kept by the
  one-standard-error rule) and the prior's strength, all chosen by 5-fold cross-validation on the
  held-out device's training networks (``edgeperf.fitting._network_fit``), and then the per-signature
  residuals (``edgeperf.fitting._signature_fit``; added after issue 18's first runs, ``--no-signatures``
  leaves them out; the signatures of the cached layers are their class and work, lodo_data.py); the
  prior's reference fits try the power law only, as when the shipped prior was built;
* the graph: for HELP's NB201 columns a user cannot know whether the runtime dropped operations
  that cannot reach the output (``zoo:nb201``) or ran every edge as PyTorch does
  (``zoo:nb201-eager``); the fit tries both and switches from ``nb201`` only when the other beats it
  by one standard error of the paired cross-validated difference;
* the runtime family (fusion rules) per device, by what it is: NVIDIA GPUs TensorRT's, the rest
  TensorFlow Lite's (lodo_data.DEVICES).

The prior's references are each other device fitted the same way on 1,000 networks of its pool.
Printed per held-out device: within +-10 %, MAPE and Spearman rho (medians over draws) at each
size, next to the device's ceiling (nb201_ceiling.py's learner, trained on 5,000 networks, on the
same test networks) and today's method at 100 networks (no term, no prior, the default graph).

Run:
    python benchmarks/lodo_fit.py                 # 21 devices, 5 draws: about 15 minutes (+6 to build the cache)
    python benchmarks/lodo_fit.py --quick         # 3 draws, 300 test networks, sizes 10 20 100
    python benchmarks/lodo_fit.py --only lb-nano-fp16 fbnet-tx2
    python benchmarks/lodo_fit.py --help-protocol # HELP's: 10 networks, Spearman on HELP's NB201 columns
    python benchmarks/lodo_fit.py --write-prior   # fit every device on 1,000 networks: the shipped prior
    python benchmarks/lodo_fit.py --prior-file ../fitting/data/network-fit-prior.json   # references as shipped
Features are cached in benchmarks/.lodo-cache (``--cache DIR``).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import statistics
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
from lodo_data import DATASETS, DEVICES, FAMILIES, GRAPHS, available, features, latencies, rows, split
from nb201_ceiling import ceilings

from edgeperf.fitting import COLUMNS, prediction_metrics
from edgeperf.fitting._network_fit import TERM_FORMS, _beats_by_one_se, choose_network_model
from edgeperf.fitting._networks import _RIDGE_GRID, _fixed_size_classes, _one_memory_term, _solve, column_map
from edgeperf.fitting._prior import PRIOR_SCHEMA, Prior, Reference, parse_prior, probe_features, variant_key
from edgeperf.profiles import load_profile

HERE = Path(__file__).resolve().parent
PRIOR_PATH = HERE.parent / "fitting" / "data" / "network-fit-prior.json"
POOL = 1500          # training draws come from the first POOL rows of a dataset's seeded order
REFERENCE = 1000     # a reference device is fitted on the first REFERENCE rows
_K = len(COLUMNS)


class Data:
    """Rows, latencies and cached features of every dataset (loaded once)."""

    def __init__(self, cache: Path, test: int, log):
        self.cache, self.log = cache, log
        self.tables = {name: rows(name) for name in DATASETS}
        self.pool, self.test = {}, {}
        for name, table in self.tables.items():
            pool, held = split(name, len(table))
            self.pool[name] = np.array(pool[:POOL])
            self.test[name] = np.array(held[:test] if test else held)
        self.y = {d.name: latencies(d, self.tables[d.dataset]) for d in DEVICES}
        self._features = {}

    def features(self, dataset, family, space):
        key = (dataset, family, space)
        if key not in self._features:
            wanted = np.concatenate([self.pool[dataset], self.test[dataset]])
            self._features[key] = features(dataset, family, wanted, self.tables[dataset], self.cache, self.log,
                                           space=space)
        return self._features[key]


def variants_of(feats, rows_, fixed=None) -> list:
    """``edgeperf fit``'s four variant designs (as _fit._fit_variants builds them) for some rows.

    ``fixed``: the fixed-size classes per merge setting found on the training rows (test rows use them).
    """
    position = {int(i): k for k, i in enumerate(feats.index)}
    take = np.array([position[int(i)] for i in rows_])
    out = []
    for merge in (False, True):
        full, classes = feats.x[merge][take].copy(), [str(c) for c in feats.classes[merge]]
        fixed_here = _fixed_size_classes(full, classes) if fixed is None else fixed[merge]
        offsets = np.zeros((len(take), len(classes)))
        for op_class in fixed_here:
            i = classes.index(op_class)
            offsets[:, i] = feats.base_work[merge][take][:, i]
            full[:, _K * i + 1: _K * i + _K] = 0.0
        layers = feats.layers[merge].take(take)
        for split_ in (False, True):
            out.append(SimpleNamespace(merge=merge, split=split_, x=full if split_ else _one_memory_term(full),
                                       offsets=offsets, classes=classes, fixed=fixed_here, layers=layers,
                                       columns=column_map(len(classes), [classes.index(c) for c in fixed_here],
                                                          split_)))
    return out


def fit_device(data: Data, device, family: str, rows_, seed: int, prior: Prior | None, network_term=None,
               graphs=None, forms=TERM_FORMS, signatures=None):
    """``edgeperf fit``'s choice on ``rows_`` of ``device``: (choice, graph, variants), the graph chosen as the docstring says."""
    y = data.y[device.name][rows_]
    best = None
    for space in graphs or GRAPHS[device.dataset]:
        variants = variants_of(data.features(device.dataset, family, space), rows_)
        references = None
        if prior is not None:
            references = {(v.merge, v.split): prior.aligned(family, v.merge, v.split, v.classes) for v in variants}
        choice = choose_network_model(variants, y, folds=min(5, len(y)), seed=seed, solve=_solve,
                                      ridge_grid=_RIDGE_GRID, network_term=network_term, references=references,
                                      forms=forms, signature_residuals=signatures)
        errors = np.abs(choice.predicted_cv - y) / y
        if best is None or _beats_by_one_se(best[3], errors):
            best = (choice, space, variants, errors)
    return best[:3]


def predict(data: Data, device, family, space, choice, variants, rows_) -> np.ndarray:
    chosen = choice.variant
    test = variants_of(data.features(device.dataset, family, space), rows_, fixed={v.merge: v.fixed for v in variants})
    design = next(v for v in test if v.merge == chosen.merge and v.split == chosen.split)
    return choice.predict(design.x, design.offsets.sum(axis=1), design.layers)


def score(data: Data, device, n: int, draw: int, prior: Prior | None, today: bool = False, forms=TERM_FORMS,
          signatures=None):
    """Fit ``n`` networks of ``device`` (draw ``draw``) and test on the test networks: (metrics, choice, graph).

    ``today``: the method before the network term, the prior and the graph choice (the default graph).
    """
    rows_ = np.random.default_rng(1000 * draw + n).choice(data.pool[device.dataset], n, replace=False)
    choice, space, variants = fit_device(data, device, device.family, rows_, draw, None if today else prior,
                                         network_term=False if today else None,
                                         graphs=GRAPHS[device.dataset][:1] if today else None, forms=forms,
                                         signatures=False if today else signatures)
    test = data.test[device.dataset]
    predicted = predict(data, device, device.family, space, choice, variants, test)
    return prediction_metrics(predicted, data.y[device.name][test]).to_dict(), choice, space


def reference_fits(data: Data, log) -> Prior:
    """Every device fitted on its first REFERENCE networks, per family and variant: the prior's references."""
    references = []
    for device in DEVICES:
        start = time.time()
        rows_ = data.pool[device.dataset][:REFERENCE]
        fits = {}
        for family in FAMILIES:
            # the graph a user would keep (all variants compared), then each variant on that graph; the
            # references' coefficients as the shipped prior has them (power-law term only, as when it was built)
            _, space, variants = fit_device(data, device, family, rows_, 0, None, forms=("power_law",))
            fits[family] = {}
            y = data.y[device.name][rows_]
            for variant in variants:
                one = choose_network_model([variant], y, folds=5, seed=0, solve=_solve, ridge_grid=_RIDGE_GRID,
                                           network_term=None, forms=("power_law",))
                fits[family][variant_key(variant.merge, variant.split)] = {
                    c: [float(v) for v in one.w[_K * i: _K * i + _K]] for i, c in enumerate(variant.classes)}
        source = (f"{device.title}: column {device.column} of {DATASETS[device.dataset][0].name} "
                  f"(shared/external), first {REFERENCE} networks of the seeded order, graph zoo:{space}")
        references.append(Reference(device=device.name, hardware=device.hardware, title=device.title, source=source,
                                    networks=REFERENCE, fits=fits))
        log(f"  reference {device.name}: {time.time() - start:.0f} s")
    families = {}
    for family, base_path in FAMILIES.items():
        base = load_profile(base_path)
        families[family] = {"base_profile": base.name, "precision": base.default_precision,
                            "mapping": base.to_document()["mapping"],
                            "probe_features": probe_features(base, base.default_precision).tolist()}
    provenance = {
        "source": "benchmarks/lodo_fit.py --write-prior",
        "fitted_on": "every device column of shared/external (LatBench, HELP's NB201 and FBNet files, HW-NAS-Bench's "
                     "FBNet block table summed for the Jetson TX2), each fitted by edgeperf fit's method on the first "
                     f"{REFERENCE} networks of its seeded order (test networks of benchmarks/lodo_fit.py excluded)",
        "units": "coefficients of edgeperf fit's COLUMNS per operator class, in the units of the family's base profile "
                 "at its precision (converted to another base through a probe layer)",
        "date": _dt.date.today().isoformat(),
    }
    return Prior(families=families, references=tuple(references), provenance=provenance)


def median_metrics(scores) -> dict:
    return {k: statistics.median(s[k] for s in scores) for k in ("within_10pct", "mape", "spearman")}


def cell(m) -> str:
    return f"{100 * m['within_10pct']:5.1f} % {100 * m['mape']:5.1f} % {m['spearman']:.3f}"


def run_lodo(data: Data, prior: Prior, args, log) -> dict:
    ceiling = ceilings(test_rows={k: v for k, v in data.test.items()}, only=args.only)
    results = {}
    header = "device                ceiling (within10 MAPE rho) | " + " | ".join(f"n={n:<3d} within10 MAPE rho"
                                                                           for n in args.sizes)
    log(header + " | today n=100")
    for device in DEVICES:
        if args.only and device.name not in args.only:
            continue
        held_out = prior.without(device.hardware)
        per_size, notes = {}, []
        for n in args.sizes:
            scores = []
            for draw in range(args.draws):
                metrics, choice, space = score(data, device, n, draw, held_out, forms=tuple(args.forms),
                                               signatures=False if args.no_signatures else None)
                scores.append(metrics)
                notes.append((n, space, choice.term.form if choice.term else None,
                              bool(choice.prior_record and choice.prior_record.get("chosen")),
                              bool(choice.residual_ms)))
            per_size[n] = median_metrics(scores)
        today = [score(data, device, 100, draw, None, today=True)[0] for draw in range(args.draws)]
        results[device.name] = {"ceiling": ceiling[device.name], "sizes": per_size, "today": median_metrics(today),
                                "choices": notes}
        log(f"{device.name:21s} {cell(ceiling[device.name])} | " + " | ".join(cell(per_size[n]) for n in args.sizes)
            + f" | {cell(results[device.name]['today'])}")
        graphs = sorted({s for _, s, _, _, _ in notes})
        power = sum(f == "power_law" for _, _, f, _, _ in notes)
        path = sum(f == "critical_path" for _, _, f, _, _ in notes)
        leaned = sum(p for _, _, _, p, _ in notes)
        signed = {n: sum(r for size, _, _, _, r in notes if size == n) for n in args.sizes}
        log(f"{'':21s} graphs kept: {', '.join(graphs)}; network term kept in {power + path}/{len(notes)} fits "
            f"(power law {power}, critical path {path}); prior in {leaned}/{len(notes)}; signature residuals "
            f"kept in " + ", ".join(f"{k}/{args.draws} at n={n}" for n, k in signed.items()))
    return results


def summary(results: dict, sizes, log) -> None:
    log("")
    if 100 in sizes:
        met = []
        for name, r in results.items():
            gap_w = 100 * (r["ceiling"]["within_10pct"] - r["sizes"][100]["within_10pct"])
            gap_rho = r["ceiling"]["spearman"] - r["sizes"][100]["spearman"]
            ok = gap_w <= 10 and gap_rho <= 0.05
            met.append(ok)
            if not ok:
                log(f"target missed at n=100: {name} ({gap_w:+.1f} points within +-10 %, rho {gap_rho:+.3f} "
                    f"below its ceiling)")
        log(f"n=100, within 10 points of the ceiling's within-+-10 % share and 0.05 of its rho: {sum(met)} of "
            f"{len(met)} devices")
    for n in sizes:
        rho = statistics.median(r["sizes"][n]["spearman"] for r in results.values())
        within = statistics.median(r["sizes"][n]["within_10pct"] for r in results.values())
        log(f"n={n}: median over held-out devices: Spearman {rho:.3f}, within +-10 % {100 * within:.1f} %")
    today = statistics.median(r["today"]["within_10pct"] for r in results.values())
    log(f"today's method, n=100: median within +-10 % {100 * today:.1f} %")


#: HELP's meta-test devices and its reported Spearman rho with 10 samples (HayeonLee/HELP README @ 11970ec,
#: Tables 3 and 2); our file has titan_rtx_1 for HELP's titan_rtx_256 and pixel3 for its pixel2.
HELP_REPORTED = {"nb201-titan-rtx": ("titan_rtx_256", 0.987), "nb201-gold-6226": ("gold_6226", 0.989),
                 "nb201-pixel3": ("pixel2", 0.802), "nb201-raspi4": ("raspi4", 0.890),
                 "nb201-eyeriss": ("eyeriss", 0.940), "nb201-fpga": ("fpga", 0.985),
                 "fbnet-raspi4": ("raspi4", 0.887), "fbnet-eyeriss": ("eyeriss", 0.943), "fbnet-fpga": ("fpga", 0.892)}


def help_protocol(data: Data, prior: Prior, args, log) -> None:
    """HELP's protocol: 10 networks of a held-out device, Spearman rho on 1,000 others; mean over its six devices."""
    log(f"HELP's protocol: 10 training networks, Spearman rho on {args.test or 'all'} held-out networks, mean of "
        f"{args.draws} draws (min-max); prior from the other devices' hardware only")
    means = {}
    for device in DEVICES:
        if device.name not in HELP_REPORTED and device.dataset != "help-nb201":
            continue
        held_out = prior.without(device.hardware)
        rhos = [score(data, device, 10, draw, held_out, signatures=False if args.no_signatures else None)[0]["spearman"]
                for draw in range(args.draws)]
        today = [score(data, device, 10, draw, None, today=True)[0]["spearman"] for draw in range(args.draws)]
        means[device.name] = float(np.mean(rhos))
        help_column, help_rho = HELP_REPORTED.get(device.name, (None, None))
        reported = f"; HELP on {help_column}: {help_rho:.3f}" if help_column else " (HELP meta-trained on it)"
        log(f"  {device.name:20s} rho {np.mean(rhos):.3f} ({min(rhos):.3f}-{max(rhos):.3f}), today's method "
            f"{np.mean(today):.3f}{reported}")
    for space, names in (("NB201", [n for n in HELP_REPORTED if n.startswith("nb201")]),
                         ("FBNet", [n for n in HELP_REPORTED if n.startswith("fbnet")])):
        if all(n in means for n in names):
            ours = np.mean([means[n] for n in names])
            theirs = np.mean([HELP_REPORTED[n][1] for n in names])
            log(f"  {space}, HELP's {len(names)} devices: mean rho {ours:.3f} (HELP {theirs:.3f})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 20, 50, 100])
    parser.add_argument("--draws", type=int, default=5)
    parser.add_argument("--test", type=int, default=1000, help="test networks per dataset (0: all held-out rows)")
    parser.add_argument("--only", nargs="+", help="device names (lodo_data.DEVICES)")
    parser.add_argument("--quick", action="store_true", help="3 draws, 300 test networks, sizes 10 20 100")
    parser.add_argument("--cache", type=Path, default=HERE / ".lodo-cache")
    parser.add_argument("--help-protocol", action="store_true")
    parser.add_argument("--write-prior", action="store_true", help=f"write the shipped prior ({PRIOR_PATH.name})")
    parser.add_argument("--forms", nargs="+", default=list(TERM_FORMS), choices=TERM_FORMS,
                        help="network-term forms the fits try (power_law alone: the method before issue 18)")
    parser.add_argument("--no-signatures", action="store_true",
                        help="fits without per-signature residuals (the method before them)")
    parser.add_argument("--prior-file", type=Path, help="take the references from this prior file (what --write-prior "
                                                        "wrote) instead of fitting them again (saves ~15 minutes)")
    args = parser.parse_args()
    if args.quick:
        args.draws, args.test, args.sizes = 3, 300, [10, 20, 100]
    if not available():
        print("skipped: ../shared/external lacks the measurement files", file=sys.stderr)
        return 0

    def log(line):
        print(line, flush=True)

    start = time.time()
    data = Data(args.cache, args.test, log)
    prior = parse_prior(json.loads(args.prior_file.read_text())) if args.prior_file else reference_fits(data, log)
    if args.write_prior:
        document = prior.to_document()
        parse_prior(document)   # what ships must load
        assert document["schema"] == PRIOR_SCHEMA
        PRIOR_PATH.write_text(json.dumps(document, indent=1) + "\n")
        log(f"wrote {PRIOR_PATH} ({len(prior.references)} references)")
        return 0
    if args.help_protocol:
        help_protocol(data, prior, args, log)
    else:
        results = run_lodo(data, prior, args, log)
        summary(results, args.sizes, log)
    log(f"({time.time() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
