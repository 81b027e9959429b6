"""PNG plots through matplotlib (the optional ``plot`` extra), imported only when a plot is asked for."""

from __future__ import annotations

from .._atomic import write_atomic
from .._errors import InputError

__all__ = ["plot_dvfs", "plot_simulation", "plot_pareto", "plot_estimate", "plot_comparison", "plot_validation"]


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


def _bins(values, count: int):
    """Split ``values`` into ``count`` nearly equal consecutive parts (``numpy.array_split``)."""
    import numpy as np

    return np.array_split(np.asarray(values), count)


def _spans(start_s, mask, merge_s: float = 0.0) -> list[tuple[float, float]]:
    """The time spans (s) over which ``mask`` holds, from per-item start times; gaps under ``merge_s`` closed."""
    import numpy as np

    spans: list[tuple[float, float]] = []
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(int), [0]])))
    for first, stop in zip(edges[::2], edges[1::2]):
        begin, end = float(start_s[first]), float(start_s[min(stop, len(start_s) - 1)])
        if spans and begin - spans[-1][1] < merge_s:
            spans[-1] = (spans[-1][0], end)
        else:
            spans.append((begin, end))
    return spans


def plot_simulation(result, path, *, bins: int = 300) -> None:
    """Temperature, throttling and latency over a sustained run, aggregated per time bin.

    At most ``bins`` bins: temperature as the mean per bin within its min-max band; throttling as
    the share of each bin's inferences run at a capped clock; latency as the mean per bin within the
    5-95 % band. Periods with the clock capped are shaded, spans closer than a bin merged, so
    70,000 inferences and hundreds of throttle events read as curves and a few spans.
    """
    import numpy as np

    plt = _pyplot()
    lat = np.asarray(result.latency_ms_trace)
    start = np.concatenate([[0.0], np.cumsum(lat + result.gap_ms)[:-1]]) / 1000.0
    count = max(1, min(bins, lat.size))
    t = np.array([b.mean() for b in _bins(start, count)])
    clock = np.asarray(result.clock_mhz_trace)
    throttled = clock < (clock.max() if clock.size else 0.0) - 1e-6
    fig, (ax_t, ax_c, ax_l) = plt.subplots(3, 1, figsize=(10, 7.5), sharex=True,
                                           gridspec_kw={"height_ratios": [3, 1.3, 2]})
    temp = _bins(result.temp_c_trace, count)
    ax_t.fill_between(t, [p.min() for p in temp], [p.max() for p in temp], color="tab:blue", alpha=0.2, lw=0,
                      label="min-max per bin")
    ax_t.plot(t, [p.mean() for p in temp], lw=1.2, color="tab:blue", label="mean per bin")
    ax_t.set_ylabel("temperature (C)")
    ax_c.fill_between(t, [100.0 * p.mean() for p in _bins(throttled, count)], color="tab:red", alpha=0.5, lw=0)
    ax_c.set(ylabel="capped (%)", ylim=(0, 100))
    parts = _bins(lat, count)
    ax_l.fill_between(t, [np.percentile(p, 5) for p in parts], [np.percentile(p, 95) for p in parts],
                      color="tab:blue", alpha=0.2, lw=0, label="5-95 % per bin")
    ax_l.plot(t, [p.mean() for p in parts], lw=1.2, color="tab:blue", label="mean per bin")
    ax_l.set(ylabel="latency (ms)", xlabel="time (s)")
    width = float(start[-1] - start[0]) / count if lat.size > 1 else 0.0
    spans = _spans(start, throttled, merge_s=width)
    for i, (a, b) in enumerate(spans):
        ax_t.axvspan(a, max(b, a + width), color="tab:red", alpha=0.08, lw=0,
                     label="throttling (clock capped at times)" if i == 0 else None)
    for ax in (ax_t, ax_c, ax_l):
        ax.grid(alpha=0.3)
    ax_t.legend(fontsize=7, loc="lower right")
    ax_l.legend(fontsize=7, loc="upper right")
    share = 100.0 * throttled.mean() if lat.size else 0.0
    ax_t.set_title(f"{result.model} on {result.platform}: {result.inferences:,} inferences in "
                   f"{result.total_time_s:,.0f} s; {len(result.throttle_events)} throttle events, clock capped for "
                   f"{share:.0f} % of inferences", fontsize=10)
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)


def _log_if_wide(ax, axis: str, values) -> None:
    """Log scale on ``axis`` when the positive ``values`` span more than two decades."""
    positive = [v for v in values if v is not None and v > 0]
    if len(positive) >= 2 and max(positive) / min(positive) > 100:
        (ax.set_xscale if axis == "x" else ax.set_yscale)("log")


def plot_pareto(designs, pareto, x: str, y: str, path, title: str) -> None:
    """Scatter of all designs (feasible ones filled) with the Pareto front highlighted; log axes for wide ranges."""
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
    _log_if_wide(ax, "x", [d[x] for d in designs])
    _log_if_wide(ax, "y", [d[y] for d in designs])
    ax.set(xlabel=x + (" (log)" if ax.get_xscale() == "log" else ""),
           ylabel=y + (" (log)" if ax.get_yscale() == "log" else ""), title=title)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    _save(fig, path)
    plt.close(fig)


_BOUND_COLOURS = {"compute": "tab:orange", "memory": "tab:blue", "overhead": "tab:grey", "host": "tab:green"}


def _bound_label(bound: str) -> str:
    return "on the host CPU" if bound == "host" else f"{bound}-bound"


def plot_estimate(est, path, *, top: int | None = None) -> None:
    """Per-layer latency bars coloured by what bounds them, beside a roofline chart of the layers.

    Left: the ``top`` slowest layers (30 by default) as horizontal bars, slowest on top. Right: every
    layer at its arithmetic intensity (FLOP per byte moved) and attained throughput (GFLOP/s) under
    the platform's roofs, where the profile's peak and bandwidth meet.
    """
    plt = _pyplot()
    shown = sorted(est.layers, key=lambda layer: layer.latency_ms, reverse=True)[:top or 30]
    fig, (ax_b, ax_r) = plt.subplots(1, 2, figsize=(13, max(4.5, 0.22 * len(shown) + 1.5)),
                                     gridspec_kw={"width_ratios": [1.25, 1]})
    names = [f"{layer.name} ({layer.op_type})"[:48] for layer in reversed(shown)]
    ax_b.barh(names, [layer.latency_ms for layer in reversed(shown)],
              color=[_BOUND_COLOURS.get(layer.bound, "tab:green") for layer in reversed(shown)])
    ax_b.tick_params(axis="y", labelsize=7)
    ax_b.set_xlabel("latency (ms)")
    ax_b.set_title(f"{len(shown)} slowest of {len(est.layers)} layers", fontsize=10)
    ax_b.grid(axis="x", alpha=0.3)
    from matplotlib.patches import Patch

    present = {layer.bound for layer in shown}
    ax_b.legend(handles=[Patch(color=colour, label=_bound_label(bound)) for bound, colour in _BOUND_COLOURS.items()
                         if bound in present], fontsize=8, loc="lower right")
    ax_b.set_xlim(left=0)
    _roofline(ax_r, est)
    total = f"{'>= ' if est.latency_is_bound else ''}{est.total_latency_ms:.3g} ms"
    fig.suptitle(f"{est.model} on {est.platform} ({est.precision}): {total} per inference"
                 + (" (datasheet bound)" if est.latency_is_bound else ""), fontsize=11)
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)


def _roofline(ax, est) -> None:
    """The device's layers' attained GFLOP/s against FLOP/byte (log-log); the roofs implied by the fastest layers.

    Layers on the host CPU are not on the device's roofline: they are left out, and the title says how many.
    """
    import numpy as np

    on_host = sum(1 for layer in est.layers if layer.bound == "host")
    layers = [layer for layer in est.layers
              if layer.flops > 0 and layer.bytes_ > 0 and layer.latency_ms > 0 and layer.bound != "host"]
    if not layers:
        ax.text(0.5, 0.5, "no device layer does arithmetic", ha="center", transform=ax.transAxes)
        return
    intensity = np.array([layer.flops / layer.bytes_ for layer in layers])
    attained = np.array([layer.flops / layer.latency_ms / 1e6 for layer in layers])      # GFLOP/s
    for bound, colour in _BOUND_COLOURS.items():
        chosen = [i for i, layer in enumerate(layers) if layer.bound == bound]
        if chosen:
            ax.scatter(intensity[chosen], attained[chosen], s=[12 + 400 * layers[i].share for i in chosen],
                       color=colour, alpha=0.7, label=f"{_bound_label(bound)} ({len(chosen)})")
    compute = [layer for layer in layers if layer.compute_ms > 0]
    memory = [layer for layer in layers if layer.memory_ms > 0]
    xs = np.logspace(np.log10(intensity.min() / 2), np.log10(intensity.max() * 2), 100)
    if compute and memory:
        peak = max(layer.flops / layer.compute_ms / 1e6 for layer in compute)                # GFLOP/s
        bandwidth = max(layer.bytes_ / layer.memory_ms / 1e6 for layer in memory)           # GB/s
        ax.plot(xs, np.minimum(peak, bandwidth * xs), color="black", lw=1, ls="--",
                label=f"roofs: {peak:.3g} GFLOP/s, {bandwidth:.3g} GB/s")
    ax.set(xscale="log", yscale="log", xlabel="arithmetic intensity (FLOP per byte)", ylabel="attained GFLOP/s",
           title="roofline (marker size: share of latency)" + (f"; {on_host} host layers left out" if on_host else ""))
    ax.title.set_fontsize(10)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, loc="lower right")


def plot_comparison(comparison, path) -> None:
    """Latency and energy per inference, one group of bars per model, one bar per board x precision.

    Bounds are hatched, intervals drawn as error bars; log scale when values span decades.
    """
    import numpy as np

    plt = _pyplot()
    columns = [(p, q) for p, q in comparison.columns
               if any(c.estimate is not None for c in comparison.cells if (c.platform, c.precision) == (p, q))]
    fig, axes = plt.subplots(1, 2, figsize=(max(9, 1.6 * len(comparison.models) * 2 + 4), 4.8))
    width = 0.8 / max(len(columns), 1)
    x = np.arange(len(comparison.models))
    colours = plt.get_cmap("tab10")
    for ax, what, unit in ((axes[0], "latency", "ms"), (axes[1], "energy", "mJ")):
        values = []
        for j, (platform, precision) in enumerate(columns):
            cells = [comparison.cell(m, platform, precision) for m in comparison.models]
            ys = [_cell_value(c, what) for c in cells]
            values += ys
            bars = ax.bar(x + (j - (len(columns) - 1) / 2) * width, [y or 0 for y in ys], width * 0.95,
                          color=colours(j % 10), label=platform + (f" {precision}" if precision else ""))
            for bar, cell in zip(bars, cells):
                if cell.estimate is not None and cell.estimate.latency_is_bound and what == "latency":
                    bar.set_hatch("//")
                    bar.set_edgecolor("white")
            if what == "latency":
                _interval_bars(ax, bars, cells)
        _log_if_wide(ax, "y", values)
        ax.set_xticks(x, comparison.models, rotation=20, ha="right", fontsize=8)
        ax.set_ylabel(f"{what} per inference ({unit})" + (" (log)" if ax.get_yscale() == "log" else ""))
        ax.grid(axis="y", alpha=0.3, which="both")
    axes[0].legend(fontsize=7)
    bound = any(c.estimate is not None and c.estimate.latency_is_bound for c in comparison.cells)
    fig.suptitle("latency and energy per inference" + (" (hatched: datasheet bound)" if bound else ""), fontsize=11)
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)


def _cell_value(cell, what: str):
    if cell.estimate is None:
        return None
    return cell.estimate.total_latency_ms if what == "latency" else cell.estimate.total_energy_mj


def _interval_bars(ax, bars, cells) -> None:
    for bar, cell in zip(bars, cells):
        interval = cell.interval_ms
        if interval is not None:
            centre = bar.get_x() + bar.get_width() / 2
            height = bar.get_height()
            ax.errorbar([centre], [height], yerr=[[height - interval[0]], [interval[1] - height]], fmt="none",
                        ecolor="black", capsize=2, lw=0.8)


def plot_validation(report, path) -> None:
    """Measured against predicted latency per network (log-log), the identity and its +-10 % band."""
    import numpy as np

    plt = _pyplot()
    measured = np.array([row.measured_ms for row in report.rows])
    predicted = np.array([row.predicted_ms for row in report.rows])
    fig, ax = plt.subplots(figsize=(6.5, 6))
    low = min(measured.min(), predicted.min()) / 1.5
    high = max(measured.max(), predicted.max()) * 1.5
    xs = np.array([low, high])
    ax.fill_between(xs, xs * 0.9, xs * 1.1, color="tab:green", alpha=0.2, lw=0, label="within +-10 %")
    ax.plot(xs, xs, color="tab:green", lw=1, label="predicted = measured")
    inside = np.abs(predicted - measured) <= 0.1 * measured
    ax.scatter(measured[inside], predicted[inside], s=16, color="tab:blue", label=f"{inside.sum()} within +-10 %")
    ax.scatter(measured[~inside], predicted[~inside], s=16, color="tab:red", label=f"{(~inside).sum()} outside")
    if len(report.rows) <= 25:
        for row in report.rows:
            ax.annotate(row.model.split("/")[-1][:24], (row.measured_ms, row.predicted_ms), fontsize=6,
                        xytext=(3, -8), textcoords="offset points")
    summary = report.summary
    ax.set(xscale="log", yscale="log", xlim=(low, high), ylim=(low, high), xlabel="measured latency (ms)",
           ylabel="predicted latency (ms)",
           title=f"{report.platform}: {summary.n} networks, MAPE {100 * summary.mape:.1f} %, "
                 f"{100 * summary.within_10pct:.0f} % within +-10 %")
    ax.title.set_fontsize(10)
    ax.set_aspect("equal")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, loc="upper left")
    _save(fig, path)
    plt.close(fig)
