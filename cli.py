"""The ``edgeperf`` command line: thin typer commands over the library API.

Each command parses its options, calls one library function and formats the
result. Library errors (:class:`edgeperf.EdgeperfError`) and usage errors end
the program with exit code 2 and one line on stderr, never a traceback.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import sys
from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer

from . import estimate as run_estimate
from ._atomic import write_text_atomic
from ._cli_energy import register as _register_energy
from ._cli_search import register as _register_search
from ._errors import EdgeperfError, InputError
from .estimator import Estimate, parse_input_shape
from .profiles import format_rho, list_profiles, load_profile

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Latency and energy of neural networks on edge boards.")
profiles_app = typer.Typer(no_args_is_help=True, help="List and inspect platform profiles.")
app.add_typer(profiles_app, name="profiles")
zoo_app = typer.Typer(no_args_is_help=True, help="Reference networks and NAS search spaces, built in code.")
app.add_typer(zoo_app, name="zoo")


def _first_sentence(text: str) -> str:
    """Up to the first full stop that ends a sentence (not the point of a number such as 4.8 %).

    >>> _first_sentence("MAPE 4.8 %, rho 0.97. Peaks from the datasheet.")
    'MAPE 4.8 %, rho 0.97'
    """
    return re.split(r"\.(?:\s|$)", text, maxsplit=1)[0]


class Choice(str, Enum):
    """yes, no, or auto (decided from the data)."""

    auto = "auto"
    yes = "yes"
    no = "no"

    @property
    def flag(self) -> bool | None:
        return None if self is Choice.auto else self is Choice.yes


class OutputFormat(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"


class OnUnknown(str, Enum):
    error = "error"
    roofline = "roofline"


def _parse_freqs(values: list[str]) -> dict[str, float]:
    freqs = {}
    for text in values:
        domain, sep, value = text.partition("=")
        try:
            mhz = float(value)
        except ValueError:
            mhz = -1.0
        if not sep or not domain or mhz <= 0:
            raise InputError(f"--freq {text!r} is not DOMAIN=MHZ; example: --freq gpu=640")
        freqs[domain] = mhz
    return freqs


_PROVIDERS_HELP = ("onnxruntime execution providers, comma-separated, first preferred "
                   "(CUDAExecutionProvider, TensorrtExecutionProvider where installed).")


def _providers(text: str) -> tuple[str, ...]:
    names = tuple(p.strip() for p in text.split(",") if p.strip())
    if not names:
        raise InputError("--providers needs at least one execution provider, e.g. CPUExecutionProvider")
    return names


def _human(count: float) -> str:
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(count) >= size:
            return f"{count / size:.2f}{unit}"
    return f"{count:.0f}"


_SHORT_OPS = {"BatchNormalization": "BN", "QuantizeLinear": "Q", "DequantizeLinear": "DQ",
              "GlobalAveragePool": "GAP", "LayerNormalization": "LN", "HardSwish": "HSwish"}


def _short_op(op_type: str) -> str:
    return "+".join(_SHORT_OPS.get(op, op) for op in op_type.split("+"))


def _shape(shape) -> str:
    return "x".join(str(d) for d in shape) if shape else "-"


def _console():
    from rich.console import Console

    return Console(highlight=False, markup=False, width=None if sys.stdout.isatty() else 160)


def _ordered_layers(est: Estimate, top: int | None):
    if top is None:
        return list(est.layers)
    return sorted(est.layers, key=lambda layer: layer.latency_ms, reverse=True)[:top]


def _csv(header: list[str], rows) -> str:
    """CSV text with a header line (the one writer setup every command's --format csv uses)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def _render_csv(est: Estimate, top: int | None) -> str:
    columns = ["name", "op_type", "op_class", "output_shape", "macs", "flops", "params", "bytes", "precision",
               "cost_model", "bound", "compute_ms", "memory_ms", "latency_ms", "power_mw", "energy_mj", "share", "nodes"]
    rows = []
    for layer in _ordered_layers(est, top):
        row = layer.to_dict()
        row["output_shape"] = _shape(layer.output_shape)
        row["nodes"] = ";".join(layer.nodes)
        rows.append([row[c] for c in columns])
    return _csv(columns, rows)


def _render_json(est: Estimate, top: int | None) -> str:
    document = est.to_dict()
    if top is not None:
        document["layers"] = [layer.to_dict() for layer in _ordered_layers(est, top)]
    return json.dumps(document, indent=2) + "\n"


def _print_table(est: Estimate, top: int | None) -> None:
    from rich.table import Table

    console = _console()
    point = ", ".join(f"{d}={f:g} MHz" for d, f in est.operating_point.freq_mhz.items())
    mode = f"power mode {est.operating_point.power_mode}, " if est.operating_point.power_mode else ""
    table = Table(title=f"{est.model} on {est.platform} ({est.precision}, {mode}{point})", title_justify="left")
    for header, justify in (("#", "right"), ("layer", "left"), ("op", "left"), ("output", "left"),
                            ("MACs", "right"), ("bytes", "right"), ("bound", "left"), ("ms", "right"),
                            ("mJ", "right"), ("share", "right")):
        table.add_column(header, justify=justify, overflow="fold")
    index = {layer.name: i for i, layer in enumerate(est.layers)}
    shown = _ordered_layers(est, top)
    for layer in shown:
        flag = " [unknown-op]" if "unknown-op" in layer.flags else ""
        table.add_row(str(index[layer.name]), layer.name, _short_op(layer.op_type) + flag, _shape(layer.output_shape),
                      _human(layer.macs), _human(layer.bytes_), layer.bound, f"{layer.latency_ms:.4f}",
                      f"{layer.energy_mj:.4f}", f"{100 * layer.share:.1f}%")
    hidden = len(est.layers) - len(shown)
    if hidden:
        rest = sum(layer.latency_ms for layer in est.layers) - sum(layer.latency_ms for layer in shown)
        table.add_row("", f"... {hidden} more layers", "", "", "", "", "", f"{rest:.4f}", "", "")
    if est.inference_overhead_ms:
        overhead = est.inference_overhead_ms
        table.add_row("", "per-inference overhead", "(runtime)", "", "", "", "", f"{overhead:.4f}", "",
                      f"{100 * overhead / est.total_latency_ms:.1f}%")
    table.add_section()
    table.add_row("", "total", f"{len(est.layers)} layers", "", _human(est.total_macs), "", "",
                  f"{est.total_latency_ms:.3f}", f"{est.total_energy_mj:.3f}", "100%")
    console.print(table)
    console.print(f"params {_human(est.total_params)}, {est.elided_nodes} shape-only nodes elided, "
                  f"profile {est.platform} {est.profile_version}")
    for note in est.notes:
        console.print(f"note: {note}")


@app.command()
def estimate(
    model: str = typer.Argument(..., help="An .onnx or .tflite file, or zoo:NAME."),
    platform: str = typer.Option(..., "--platform", "-p", help="Shipped profile name or profile .json path."),
    precision: Optional[str] = typer.Option(None, help="fp32, fp16 or int8 (default: the platform's)."),
    power_mode: Optional[str] = typer.Option(None, "--power-mode", help="Named power mode, e.g. 5W or MAXN."),
    freq: List[str] = typer.Option([], "--freq", help="Clock of a domain, DOMAIN=MHZ (repeatable), e.g. gpu=640."),
    input_shape: List[str] = typer.Option([], "--input-shape", help="NAME=1x3x224x224 for dynamic inputs (repeatable)."),
    on_unknown: OnUnknown = typer.Option(OnUnknown.error, "--on-unknown", help="error, or roofline for unknown ops."),
    top: Optional[int] = typer.Option(None, "--top", min=1, help="Show only the N slowest layers."),
    output_format: OutputFormat = typer.Option(OutputFormat.table, "--format", "-f", help="table, json or csv."),
    output: Optional[str] = typer.Option(None, "--output", "-o", help="Write json/csv to this file (atomically)."),
) -> None:
    """Predict per-layer and total latency and energy of MODEL on a platform."""
    shapes = dict(parse_input_shape(text) for text in input_shape)
    result = run_estimate(model, platform, precision=precision, power_mode=power_mode, freq_mhz=_parse_freqs(freq),
                          input_shapes=shapes, on_unknown=on_unknown.value)
    if output_format is OutputFormat.table:
        if output:
            raise InputError("--output needs --format json or csv")
        _print_table(result, top)
        return
    text = _render_json(result, top) if output_format is OutputFormat.json else _render_csv(result, top)
    if output:
        write_text_atomic(output, text)
    else:
        sys.stdout.write(text)


@profiles_app.command("list")
def profiles_list() -> None:
    """List the shipped platform profiles."""
    from rich.table import Table

    table = Table(title="shipped profiles", title_justify="left")
    table.add_column("name", no_wrap=True)
    for header in ("title", "kind", "precisions (peak GFLOP/s)", "quality"):
        table.add_column(header, overflow="fold")
    for name in list_profiles():
        profile = load_profile(name)
        peaks = ", ".join(f"{p} {v:g}" for p, v in profile.precisions.items())
        table.add_row(name, profile.title, profile.kind, peaks, _first_sentence(profile.quality))
    _console().print(table)


@profiles_app.command("show")
def profiles_show(
    name: str = typer.Argument(..., help="Shipped profile name or profile .json path."),
    as_json: bool = typer.Option(False, "--json", help="Print the profile document as JSON."),
) -> None:
    """Show a profile: facts, clocks, power, mapping rules, layer models and sources."""
    profile = load_profile(name)
    if as_json:
        sys.stdout.write(json.dumps(dict(profile.document), indent=2) + "\n")
        return
    console = _console()
    console.print(f"{profile.name}: {profile.title} (profile {profile.version}, {profile.kind})")
    console.print(f"quality: {profile.quality}")
    console.print("precisions: " + ", ".join(f"{p} {v:g} GFLOP/s" for p, v in profile.precisions.items())
                  + f" (default {profile.default_precision})")
    console.print(f"memory bandwidth: {profile.memory_bandwidth_gbps:g} GB/s")
    for domain in profile.clocks.values():
        steps = ", ".join(f"{f:g}" for f in domain.available_mhz)
        console.print(f"clock {domain.name}: reference {domain.reference_mhz:g} MHz; steps {steps}")
    for mode, caps in profile.power_modes.items():
        console.print(f"power mode {mode}: " + ", ".join(f"{d} <= {f:g} MHz" for d, f in caps.items()))
    active = ", ".join(f"{k} {v:g}" for k, v in profile.power.active_mw.items())
    console.print(f"power: idle {profile.power.idle_mw:g} mW; active above idle (mW): {active}; "
                  f"calibrated: {profile.power.calibrated}")
    console.print(f"mapping ({profile.mapping.runtime}): elide {list(profile.mapping.elide)}")
    for rule in profile.mapping.rules:
        console.print(f"  {rule.name}: {'/'.join(rule.primary)} + up to {rule.max_followers} of "
                      f"{'/'.join(rule.followers) or '-'}; absorbs inputs from {'/'.join(rule.absorb_inputs) or '-'}")
    for op_class, model in profile.layer_models.items():
        console.print(f"layer model {op_class}: {model.form} {dict(model.params)}")
    if profile.network_term is not None:
        term = profile.network_term
        console.print(f"network term: {term.form}, gamma {term.gamma:g} around {term.reference_ms:.3g} ms, between "
                      f"{term.lower_ms:.3g} and {term.upper_ms:.3g} ms of layer sum (proportional outside)")
    console.print("sources:")
    for key, text in profile.sources.items():
        console.print(f"  [{key}] {text}")


@app.command()
def calibrate(
    name: str = typer.Option(..., "--name", help="Name of the new profile."),
    out: str = typer.Option(..., "--out", "-o", help="The profile .json to write (the report goes beside it)."),
    runtime: str = typer.Option("onnxruntime", "--runtime", help="Runtime to measure through (onnxruntime)."),
    threads: int = typer.Option(1, "--threads", min=1, help="Intra-op threads."),
    providers: str = typer.Option("CPUExecutionProvider", "--providers", help=_PROVIDERS_HELP),
    budget_minutes: float = typer.Option(10.0, "--budget-minutes", help="Time budget for the measurements."),
    sweep: Optional[str] = typer.Option(None, "--sweep", help="Sweep file (default OUT without .json + .sweep.csv); "
                                                             "a rerun resumes from it."),
    power: str = typer.Option("auto", "--power", help="Power source: auto (discover), none, ina3221, rapl, nvml, "
                                                      "vcgencmd."),
    max_temp_c: Optional[float] = typer.Option(None, "--max-temp-c",
                                               help="Wait before each measurement until the hottest zone is below this."),
) -> None:
    """Measure this device, fit a profile to it and validate it on held-out networks."""
    from .measure import OnnxRuntimeRunner, calibrate as run_calibration
    from .measure import open_power_source, open_temperature

    if runtime != "onnxruntime":
        raise InputError(f"--runtime {runtime!r} is not supported yet; supported: onnxruntime")
    target = Path(out)
    sweep_path = Path(sweep) if sweep else target.with_suffix("").with_suffix(".sweep.csv")
    console = _console()
    source = open_power_source(power)
    console.print(f"power source: {source.describe()['source']}"
                  + ("" if source.describe().get("power") else " (energy will not be calibrated)"))
    result = run_calibration(name, runner=OnnxRuntimeRunner(threads=threads, providers=_providers(providers)), sweep_path=sweep_path,
                             budget_minutes=budget_minutes, progress=console.print,
                             power=source if source.describe().get("power") else None,
                             max_temp_c=max_temp_c, temperature_c=open_temperature() if max_temp_c else None)
    write_text_atomic(target, json.dumps(result.document, indent=2, allow_nan=False) + "\n")
    report_path = target.with_suffix("").with_suffix(".validation.json")
    write_text_atomic(report_path, json.dumps(result.validation, indent=2) + "\n")
    provenance = result.document["provenance"]
    validation = provenance.get("validation", {})
    console.print(f"wrote {target} and {report_path}: {result.measurements} measurements "
                  f"({result.reused} reused from {sweep_path}); cross-validated MAPE "
                  f"{100 * provenance['cross_validation']['mape']:.1f} %; held-out median |error| "
                  f"{100 * validation.get('median_abs_error', float('nan')):.1f} %, worst "
                  f"{100 * validation.get('max_abs_error', float('nan')):.1f} %")


@app.command()
def sweep(
    out: str = typer.Option(..., "--out", "-o", help="The sweep CSV (a rerun resumes it; SWEEP.meta.json beside it)."),
    threads: int = typer.Option(1, "--threads", min=1, help="Intra-op threads."),
    providers: str = typer.Option("CPUExecutionProvider", "--providers", help=_PROVIDERS_HELP),
    budget_minutes: float = typer.Option(3.0, "--budget-minutes", help="Sizes the coarse plan."),
    refine_rounds: int = typer.Option(2, "--refine-rounds", min=0, max=20, help="Adaptive refinement rounds."),
    power: str = typer.Option("auto", "--power", help="Power source: auto, none, ina3221, rapl, nvml, vcgencmd."),
    seed: int = typer.Option(0, "--seed", help="Seed of the plan and the refinement."),
) -> None:
    """Measure single layers on this device (sparse plan, adaptive refinement) into a resumable sweep file."""
    from .measure import OnnxRuntimeRunner, open_power_source, plan_sweep, run_sweep

    source = open_power_source(power)
    measures_power = bool(source.describe().get("power"))
    plan = plan_sweep(budget_minutes, seed=seed)
    plan = type(plan)(points=plan.points, refine_rounds=refine_rounds, seed=seed)
    console = _console()
    console.print(f"{len(plan.points)} coarse layers x {plan.passes} passes, {refine_rounds} refinement rounds; "
                  f"power source: {source.describe()['source']}")
    rows = run_sweep(OnnxRuntimeRunner(threads=threads, providers=_providers(providers)), out, plan=plan, power=source if measures_power else None,
                     progress=console.print)
    console.print(f"wrote {out}: {len(rows)} measurements of {len({r['reference'] for r in rows})} layers; "
                  f"fit it with: edgeperf fit {out} --out PROFILE.json")


@app.command()
def fit(
    sweep_file: Optional[str] = typer.Argument(None, metavar="[SWEEP]", help="A layer sweep from `edgeperf sweep`."),
    networks: Optional[str] = typer.Option(None, "--networks", help="CSV with columns model, latency_ms[, energy_mj]."),
    out: str = typer.Option(..., "--out", "-o", help="The fitted profile .json to write."),
    base: str = typer.Option("jetson-nano", "--base", help="With --networks: profile supplying fusion rules, peaks "
                                                             "and clocks."),
    name: Optional[str] = typer.Option(None, "--name", help="Name of the fitted profile."),
    precision: Optional[str] = typer.Option(None, help="Precision the networks were measured at."),
    input_shape: List[str] = typer.Option([], "--input-shape", help="NAME=1x3x224x224 for dynamic inputs."),
    layer_profile: Optional[str] = typer.Option(None, "--layer-profile",
                                                help="A vendor per-layer profile (onnxruntime, trtexec, OpenVINO, "
                                                     "TFLite benchmark_model) of --model, measured on the board."),
    model: Optional[str] = typer.Option(None, "--model", help="With --layer-profile: the profiled model."),
    merge_siblings: Choice = typer.Option(Choice.auto, "--merge-siblings",
                                          help="With --networks: run convolutions that share their input as one kernel "
                                               "(TensorRT's horizontal fusion); auto: whichever cross-validates better."),
    split_memory: Choice = typer.Option(Choice.auto, "--split-memory",
                                        help="With --networks: weights and outputs get memory coefficients of their "
                                             "own; auto: whichever cross-validates better."),
    network_term: Choice = typer.Option(Choice.auto, "--network-term",
                                        help="With --networks: a power law on the network's layer sum; auto: kept when "
                                             "cross-validation gains more than its noise."),
    prior: str = typer.Option("shipped", "--prior",
                              help="With --networks: other devices' coefficients to shrink toward as far as "
                                   "cross-validation wants: shipped, none, or a prior .json file."),
) -> None:
    """Fit a profile to a layer sweep (SWEEP), measured whole networks (--networks) or a vendor layer profile."""
    from .profiles import fit_from_networks, read_network_table

    given = [x for x in (sweep_file, networks, layer_profile) if x is not None]
    if len(given) != 1:
        raise InputError("give one of: a SWEEP file (from edgeperf sweep), --networks TABLE.csv, or "
                         "--layer-profile FILE --model MODEL")
    console = _console()
    what = "networks"
    if sweep_file is not None:
        from .measure import fit_sweep

        result = fit_sweep(sweep_file, name=name or Path(sweep_file).stem, progress=console.print)
        what = "layers"
    elif layer_profile is not None:
        from .measure import fit_from_layer_times, read_layer_profile

        if model is None:
            raise InputError("--layer-profile needs --model, the model that was profiled")
        result = fit_from_layer_times(model, read_layer_profile(layer_profile), load_profile(base),
                                      name=name or f"{load_profile(base).name}-layers", source=layer_profile,
                                      precision=precision)
        what = "profiled layers"
    else:
        from .profiles import load_prior

        shapes = dict(parse_input_shape(text) for text in input_shape)
        reference = None if prior == "none" else load_prior(None if prior == "shipped" else prior)
        result = fit_from_networks(read_network_table(networks), load_profile(base), name=name, precision=precision,
                                   source=networks, input_shapes=shapes, merge_siblings=merge_siblings.flag,
                                   memory_split=split_memory.flag, network_term=network_term.flag, prior=reference)
    write_text_atomic(out, json.dumps(result.document, indent=2, allow_nan=False) + "\n")
    cv = result.cross_validation
    console.print(f"wrote {out}: {cv['n']} {what}, cross-validated MAPE {100 * cv['mape']:.1f} %, "
                  f"{100 * cv['within_10pct']:.0f} % within +-10 %, Spearman {format_rho(cv['spearman'])}; "
                  f"fitted classes: {', '.join(result.fitted_classes)}")
    provenance = result.document.get("provenance", {})
    if "sibling_merge" in provenance or "memory_terms" in provenance:
        merge, terms = provenance.get("sibling_merge"), provenance.get("memory_terms")
        console.print("chosen by cross-validation:"
                      + (f" sibling convolutions merged: {'yes' if merge['chosen'] else 'no'};" if merge else "")
                      + (f" memory terms: {terms['chosen']}" if terms else ""))
    term, leaned = provenance.get("network_term"), provenance.get("prior")
    if term:
        console.print(f"network term: {'power law, gamma ' + format(term['gamma'], 'g') if term['chosen'] else 'none'}"
                      + (f" (cross-validated MAPE {100 * term['cv_mape_without']:.1f} % without, "
                         f"{100 * term['cv_mape_with']:.1f} % with the best power law)"
                         if term.get("cv_mape_without") is not None else ""))
    if leaned:
        console.print(f"prior ({leaned['references']} reference devices): "
                      + (f"used, strength {leaned['strength']:g}, lean {leaned['lean']:.2f}" if leaned.get("chosen")
                         else f"not used ({leaned.get('reason') or 'cross-validation preferred the data alone'})"))


@app.command()
def validate(
    models: Optional[List[str]] = typer.Argument(None, metavar="[MODEL]...",
                                                 help="Models to measure on this device (files or zoo:NAME)."),
    table: Optional[str] = typer.Option(None, "--table", help="CSV with columns model, latency_ms (no device needed)."),
    platform: str = typer.Option(..., "--platform", "-p", help="Profile to validate."),
    precision: Optional[str] = typer.Option(None, help="Precision the networks were measured at."),
    layers: bool = typer.Option(False, "--layers", help="With MODELs: also compare layer by layer (ORT profiler)."),
    threads: int = typer.Option(1, "--threads", min=1, help="With MODELs: intra-op threads."),
    providers: str = typer.Option("CPUExecutionProvider", "--providers", help=_PROVIDERS_HELP),
    output_format: OutputFormat = typer.Option(OutputFormat.table, "--format", "-f", help="table, json or csv."),
) -> None:
    """Compare a profile's predictions with measurements: a table of them, or MODELs measured on this device."""
    from .profiles import read_network_table, validate_table

    if bool(models) == bool(table):
        raise InputError("give MODEL... to measure on this device or --table TABLE.csv, not both or neither")
    profile = load_profile(platform)
    console = _console()
    device = None
    if models:
        from .measure import Harness, OnnxRuntimeRunner, validate_on_device

        device = validate_on_device(models, profile, runner=OnnxRuntimeRunner(threads=threads, providers=_providers(providers)),
                                    harness=Harness(rounds=7, round_s=0.1, warmup_s=0.2), precision=precision,
                                    layers=layers, progress=console.print if output_format is OutputFormat.table
                                    else lambda message: None)
        report = device.report
    else:
        report = validate_table(read_network_table(table), profile, precision=precision)
    if output_format is OutputFormat.json:
        sys.stdout.write(json.dumps(device.to_dict() if device else report.to_dict(), indent=2) + "\n")
        return
    if output_format is OutputFormat.csv:
        sys.stdout.write(_csv(["model", "measured_ms", "predicted_ms", "error"],
                              ([r.model, r.measured_ms, r.predicted_ms, r.error] for r in report.rows)))
        return
    from rich.table import Table

    table_view = Table(title=f"validation of {report.platform}", title_justify="left")
    for header, justify in (("model", "left"), ("measured ms", "right"), ("predicted ms", "right"), ("error", "right")):
        table_view.add_column(header, justify=justify, overflow="fold")
    for row in report.rows:
        table_view.add_row(row.model, f"{row.measured_ms:.4g}", f"{row.predicted_ms:.4g}", f"{100 * row.error:+.1f}%")
    console.print(table_view)
    if device is not None and device.layers:
        layer_view = Table(title="layer by layer (onnxruntime profiler)", title_justify="left")
        for header in ("model", "layer", "op", "measured ms", "predicted ms", "error"):
            layer_view.add_column(header, justify="right" if "ms" in header or header == "error" else "left",
                                  overflow="fold")
        for c in device.layers:
            error = f"{100 * (c.predicted_ms - c.measured_ms) / c.measured_ms:+.0f}%" \
                if c.predicted_ms is not None and c.measured_ms > 0 else "runtime-only"
            layer_view.add_row(c.model, c.layer, c.op_type, f"{c.measured_ms:.4f}",
                               f"{c.predicted_ms:.4f}" if c.predicted_ms is not None else "-", error)
        console.print(layer_view)
    summary = report.summary
    console.print(f"n {summary['n']}, MAPE {100 * summary['mape']:.1f} %, within +-10 % "
                  f"{100 * summary['within_10pct']:.0f} %, Spearman {format_rho(summary['spearman'])}")
    if device is not None and device.flagged:
        console.print("flagged measurements: " + ", ".join(f"{k} {v}" for k, v in device.flagged.items()))


@zoo_app.command("list")
def zoo_list(
    catalog: List[str] = typer.Option([], "--catalog", help="Accuracy catalog JSON merged over the shipped one."),
    output_format: OutputFormat = typer.Option(OutputFormat.table, "--format", "-f", help="table, json or csv."),
) -> None:
    """List the zoo's networks: task, input, parameters, MACs and published accuracy."""
    from .zoo import list_entries, list_spaces, load_catalog, summary

    merged = load_catalog(*catalog)
    rows = [summary(name, merged) for name in list_entries()]
    if output_format is OutputFormat.json:
        sys.stdout.write(json.dumps({"networks": rows, "spaces": list(list_spaces())}, indent=2) + "\n")
        return
    if output_format is OutputFormat.csv:
        table = []
        for row in rows:
            acc = row["accuracy"] or {}
            table.append([row["name"], row["task"], row["input"], row["params"], row["macs"], acc.get("metric", ""),
                          acc.get("value", ""), acc.get("source", "")])
        sys.stdout.write(_csv(["name", "task", "input", "params", "macs", "metric", "accuracy", "source"], table))
        return
    from rich.table import Table

    table = Table(title="zoo networks (zoo:NAME)", title_justify="left")
    table.add_column("name", no_wrap=True)
    for header, justify in (("task", "left"), ("input", "left"), ("params", "right"), ("MACs", "right"),
                            ("accuracy", "right")):
        table.add_column(header, justify=justify)
    for row in rows:
        acc = row["accuracy"]
        shown = f"{acc['value']:.2f} {acc['metric']}" if acc else "-"
        table.add_row(row["name"], row["task"], row["input"], _human(row["params"]), _human(row["macs"]), shown)
    console = _console()
    console.print(table)
    console.print("search spaces (zoo:SPACE:ARCH): " + ", ".join(list_spaces()))


@zoo_app.command("export")
def zoo_export(
    reference: str = typer.Argument(..., help="NAME or SPACE:ARCH (with or without the zoo: prefix)."),
    output: str = typer.Option(..., "--output", "-o", help="The .onnx file to write."),
    input_size: Optional[str] = typer.Option(None, "--input-size", help="HxW (or T for sequences), e.g. 160x160."),
    batch: int = typer.Option(1, "--batch", min=1, help="Batch size."),
    seed: int = typer.Option(0, "--seed", help="Seed of the random weights."),
    num_classes: Optional[int] = typer.Option(None, "--num-classes", min=1, help="Classes of the head."),
    width: Optional[float] = typer.Option(None, "--width", min=0.05, max=4.0, help="Width multiplier (MobileNets)."),
) -> None:
    """Write a zoo network as ONNX with seeded random weights (architecture only)."""
    from .zoo import export_model

    size = None
    if input_size is not None:
        try:
            size = tuple(int(d) for d in input_size.lower().split("x"))
        except ValueError:
            size = ()
        if not size or any(d <= 0 for d in size):
            raise InputError(f"--input-size {input_size!r} is not HxW with positive integers; example: 160x160")
    export_model(reference.removeprefix("zoo:"), output, input_size=size, batch=batch, seed=seed,
                 num_classes=num_classes, width=width)
    _console().print(f"wrote {output}")


_register_energy(app, console=_console, csv_text=_csv, formats=OutputFormat,
                 parse_shapes=lambda texts: dict(parse_input_shape(text) for text in texts))
_register_search(app, console=_console, formats=OutputFormat)


def _one_line(message: str) -> str:
    return " ".join(str(message).split())


def _during_interrupt(exc: BaseException) -> bool:
    """True when ``exc`` was raised while a KeyboardInterrupt was being handled (its context chain)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return True
        seen.add(id(exc))
        exc = exc.__context__ or exc.__cause__
    return False


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``edgeperf`` script; returns the exit code.

    typer handles usage errors itself (exit code 2 with a usage line); library
    errors are caught here and printed as one line.
    """
    try:
        app(args=argv, prog_name="edgeperf")
    except SystemExit as exc:
        code = exc.code
        if code == 130:           # typer turns Ctrl-C into exit status 130 without a word
            sys.stderr.write("edgeperf: interrupted; what was measured or evaluated is kept, rerun to continue\n")
        return code if isinstance(code, int) else (0 if code is None else 2)
    except EdgeperfError as exc:
        sys.stderr.write(f"edgeperf: error: {_one_line(exc)}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("edgeperf: interrupted; what was measured or evaluated is kept, rerun to continue\n")
        return 130
    except MemoryError:
        sys.stderr.write("edgeperf: error: out of memory; the model is too large for this machine\n")
        return 2
    except BrokenPipeError:
        return 0
    except Exception as exc:  # a bug: one line, the traceback only on request
        if _during_interrupt(exc):   # cleanup code failing while Ctrl-C unwinds: still an interrupt
            sys.stderr.write("edgeperf: interrupted; what was measured or evaluated is kept, rerun to continue\n")
            return 130
        if os.environ.get("EDGEPERF_DEBUG"):
            raise
        sys.stderr.write(f"edgeperf: internal error: {type(exc).__name__}: {_one_line(exc)} "
                         "(set EDGEPERF_DEBUG=1 for the traceback, and please report it)\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
