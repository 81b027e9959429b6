"""``edgeperf profiles list|show``: the shipped profiles, and one profile in words or as its JSON document."""

from __future__ import annotations

import sys

import typer

from .._json import dumps_finite
from .._messages import show
from ..profiles import list_profiles, load_profile
from ._common import Command, Group, console, first_sentence

__all__ = ["register"]

profiles_app = typer.Typer(cls=Group, no_args_is_help=True, help="List and inspect platform profiles.")


@profiles_app.command("list", cls=Command)
def profiles_list() -> None:
    """List the shipped platform profiles."""
    from rich.table import Table

    table = Table(title="shipped profiles", title_justify="left")
    table.add_column("name", no_wrap=True)
    for header in ("title", "kind", "precisions (peak GFLOP/s)", "quality"):
        table.add_column(header, overflow="fold")
    for name in list_profiles():
        profile = load_profile(name)
        peaks = ", ".join(_peak(profile, p) for p in profile.precisions)
        table.add_row(name, profile.title, profile.kind, peaks, first_sentence(profile.quality))
    console().print(table)


@profiles_app.command("show", cls=Command)
def profiles_show(
    name: str = typer.Argument(..., help="Shipped profile name or profile .json path."),
    as_json: bool = typer.Option(False, "--json", help="Print the profile document as JSON."),
) -> None:
    """Show a profile: facts, clocks, power, mapping rules, layer models and sources."""
    profile = load_profile(name)
    if as_json:
        sys.stdout.write(dumps_finite(profile.to_document(), indent=2) + "\n")
        return
    out = console()
    out.print(f"{profile.name}: {profile.title} (profile {profile.version}, {profile.kind})")
    out.print(f"quality: {profile.quality}")
    out.print("precisions: " + ", ".join(_peak(profile, p, " GFLOP/s") for p in profile.precisions)
              + f" (default {profile.default_precision})")
    out.print(f"memory bandwidth: {profile.memory_bandwidth_gbps:g} GB/s")
    for domain in profile.clocks.values():
        steps = ", ".join(f"{f:g}" for f in domain.available_mhz)
        out.print(f"clock {domain.name}: reference {domain.reference_mhz:g} MHz; steps {steps}")
    for mode, caps in profile.power_modes.items():
        out.print(f"power mode {mode}: " + ", ".join(f"{d} <= {f:g} MHz" for d, f in caps.items()))
    active = ", ".join(f"{k} {v:g}" for k, v in profile.power.active_mw.items())
    out.print(f"power: idle {profile.power.idle_mw:g} mW; active above idle (mW): {active}; "
              f"calibrated: {profile.power.calibrated}")
    if profile.operating is not None:
        _print_operating(profile.operating, out)
    out.print(f"mapping ({profile.mapping.runtime}): elide {list(profile.mapping.elide)}")
    for rule in profile.mapping.rules:
        out.print(f"  {rule.name}: {'/'.join(rule.primary)} + up to {rule.max_followers} of "
                  f"{'/'.join(rule.followers) or '-'}; absorbs inputs from {'/'.join(rule.absorb_inputs) or '-'}")
    for op_class, model in profile.layer_models.items():
        out.print(f"layer model {op_class}: {model.form} {dict(model.params)}")
    if profile.network_term is not None:
        out.print(f"network term: {profile.network_term.describe()}")
    if profile.signature_residuals is not None:
        out.print(f"signature residuals: {profile.signature_residuals.describe()}")
    out.print("sources:")
    for key, text in profile.sources.items():
        out.print(f"  [{key}] {text}")


def _print_operating(model, out) -> None:
    """The operating model a profile names: its voltage tables and numbers, each with its source; assumptions marked."""
    out.print(f"operating model {model.name} ({model.soc}; decides energy and CPU-side time in place of 'power'): "
              f"GPU rail {model.gpu_dyn_mw:.0f} mW dynamic + {model.gpu_leak_mw:.0f} mW leakage at the top clock")
    for domain, (mhz, mv) in model.voltage_mv.items():
        source, _ = model.citations[f"voltage_mv.{domain}"]
        pairs = ", ".join(f"{f:g}:{v:.0f}" for f, v in zip(mhz, mv))
        out.print(f"  voltage {domain} (MHz:mV) [{source}]: {pairs}")
    for key, (source, note) in model.citations.items():
        if not key.startswith("voltage_mv."):
            flag = " ASSUMED" if source.startswith("assumed") else " FITTED" if source.startswith("fitted") else ""
            value = getattr(model, key)
            shown = value if isinstance(value, str) else f"{value:g}"
            out.print(f"  {key} = {shown} [{source}]{flag}" + (f": {note}" if note else ""))
    for key in sorted({source for source, _ in model.citations.values()}):
        out.print(f"  [{key}] {model.sources[key]}")


def _peak(profile, precision: str, unit: str = "") -> str:
    """``fp16 472``, or ``int8 (no peak: fitted scales)`` where the profile's peak is a unit placeholder.

    A profile fitted without a datasheet states its peaks as 1 (source ``unit``): the fitted
    coefficients carry the speed, and a peak of 1 GFLOP/s would read like a bug.
    """
    citation = profile.citations.get(("precisions", precision))
    if citation is not None and citation.source == "unit":
        return f"{precision} (no peak: fitted scales)"
    return f"{precision} {profile.precisions[precision]:g}{unit}"


def register(app: typer.Typer) -> None:
    app.add_typer(profiles_app, name="profiles")
