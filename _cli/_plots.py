"""PNG plots through matplotlib (the optional ``plot`` extra), imported only when a plot is asked for."""

from __future__ import annotations

from .._atomic import write_atomic
from .._errors import InputError

__all__ = ["plot_dvfs", "plot_simulation", "plot_pareto"]


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise InputError("--plot needs matplotlib: pip install 'edgeperf[plot]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path) -> None:
    write_atomic(path, lambda tmp: fig.savefig(tmp, format="png", dpi=120, bbox_inches="tight"))


def plot_dvfs(report, path) -> None:
    """Energy and latency per inference against the compute clock (one line per other-domain setting)."""
    plt = _pyplot()
    names = list(report.points[0].freq_mhz)
    main = names[0]
    groups: dict = {}
    for point in report.points:
        key = tuple((n, point.freq_mhz[n]) for n in names[1:])
        groups.setdefault(key, []).append(point)
    fig, (ax_e, ax_l) = plt.subplots(1, 2, figsize=(11, 4.2))
    for key, points in groups.items():
        label = ", ".join(f"{n}={f:g}" for n, f in key) or None
        x = [p.freq_mhz[main] for p in points]
        ax_e.plot(x, [p.energy_mj for p in points], marker="o", ms=3, label=label)
        ax_l.plot(x, [p.latency_ms for p in points], marker="o", ms=3, label=label)
    best = report.energy_optimal
    ax_e.scatter([best.freq_mhz[main]], [best.energy_mj], s=90, facecolors="none", edgecolors="red", zorder=3,
                 label=f"energy optimum ({report.energy_saving_vs_max_pct:.1f}% below max clocks)")
    ax_e.set(xlabel=f"{main} clock (MHz)", ylabel="energy per inference (mJ)")
    ax_l.set(xlabel=f"{main} clock (MHz)", ylabel="latency (ms)")
    if report.max_latency_ms is not None:
        ax_l.axhline(report.max_latency_ms, color="grey", ls="--", lw=1, label="latency limit")
    for ax in (ax_e, ax_l):
        ax.grid(alpha=0.3)
        if len(groups) > 1 or ax is ax_e:
            ax.legend(fontsize=7)
    fig.suptitle(f"{report.model} on {report.platform} ({report.precision}, power mode {report.power_mode})")
    _save(fig, path)
    plt.close(fig)


def plot_simulation(result, path) -> None:
    """Temperature and latency over a sustained run, throttle events marked."""
    import numpy as np

    plt = _pyplot()
    lat = result.latency_ms_trace
    start = np.concatenate([[0.0], np.cumsum(lat + result.gap_ms)[:-1]]) / 1000.0
    fig, (ax_t, ax_l) = plt.subplots(2, 1, figsize=(10, 6), sharex=True)
    ax_t.plot(start, result.temp_c_trace, lw=1)
    for event in result.throttle_events:
        ax_t.axvline(event.time_s, color="red", alpha=0.25, lw=0.8)
    ax_t.set(ylabel="temperature (C)",
             title=f"{result.model} on {result.platform}: {result.inferences} inferences, "
                   f"{len(result.throttle_events)} throttle events")
    ax_l.plot(start, lat, lw=0.8)
    ax_l.set(xlabel="time (s)", ylabel="latency (ms)")
    for ax in (ax_t, ax_l):
        ax.grid(alpha=0.3)
    _save(fig, path)
    plt.close(fig)


def plot_pareto(designs, pareto, x: str, y: str, path, title: str) -> None:
    """Scatter of all designs (feasible ones filled) with the Pareto front highlighted."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 5))
    feasible = [d for d in designs if d["feasible"]]
    infeasible = [d for d in designs if not d["feasible"]]
    ax.scatter([d[x] for d in infeasible], [d[y] for d in infeasible], s=10, c="lightgrey", label="infeasible")
    ax.scatter([d[x] for d in feasible], [d[y] for d in feasible], s=14, c="tab:blue", label="feasible")
    ax.scatter([d[x] for d in pareto], [d[y] for d in pareto], s=40, c="tab:red", label="Pareto front")
    for d in pareto[:12]:
        ax.annotate(f"{d['model']}@{d['platform']}", (d[x], d[y]), fontsize=6, xytext=(3, 3),
                    textcoords="offset points")
    ax.set(xlabel=x, ylabel=y, title=title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    _save(fig, path)
    plt.close(fig)
