"""The public API's functions: each loads a model and a profile and runs one package's work on them.

``edgeperf/__init__.py`` re-exports them; the command line (``_cli/``) calls them. The packages
never do: they stand below, and this module composes them (profiles + estimator for
:func:`estimate`, + operating for :func:`dvfs` and :func:`simulate`, dse for :func:`search`).
"""

from __future__ import annotations

from ._args import typed
from ._errors import InputError, ProfileError
from ._messages import show
from .estimator import (Comparison, ComparisonCell, Estimate, choose_precision, estimate_graph, load_model,
                        map_graph)
from .operating import DvfsReport, SimulationResult, explore_dvfs, simulate_sustained
from .profiles import list_profiles, load_profile

__all__ = ["estimate", "compare", "dvfs", "simulate", "search"]


@typed
def estimate(model, platform, *, precision: str | None = None, power_mode: str | None = None,
             freq_mhz: dict[str, float] | None = None, input_shapes: dict[str, tuple[int, ...]] | None = None,
             on_unknown: str = "error") -> Estimate:
    """Predict per-layer and total latency and energy of a model on a platform.

    Parameters
    ----------
    model : str, Path or Graph
        ``model.onnx``, ``model.tflite``, ``zoo:NAME`` or an already loaded :class:`Graph`.
    platform : str, Path or Profile
        A shipped profile name (see :func:`list_profiles`), a profile ``.json`` path or a :class:`Profile`.
    precision : {"fp32", "fp16", "int8"}, optional
        Deployment precision; default: the model's own int8 if quantized, else the platform's default.
    power_mode : str, optional
        A named power mode of the platform (``5W``, ``MAXN``); default: the profile's default mode.
    freq_mhz : dict of str to float, optional
        Explicit clock per domain, e.g. ``{"gpu": 640.0}``; must be a step the domain offers.
    input_shapes : dict of str to tuple of int, optional
        Static shapes for inputs with dynamic dimensions.
    on_unknown : {"error", "roofline"}
        ``roofline`` estimates unknown operators from bytes and MACs and flags them.

    Returns
    -------
    Estimate
        Per-layer :class:`LayerEstimate` values and totals in ms and mJ.

    Raises
    ------
    ModelError, UnknownOpError
        The model cannot be read or uses unknown operators.
    ProfileError
        The platform is unknown or its profile is invalid.
    InputError
        A precision, power mode, frequency or input shape is invalid.

    Examples
    --------
    >>> est = estimate("zoo:resnet18", "jetson-nano")          # doctest: +SKIP
    >>> round(est.total_latency_ms, 1)                          # doctest: +SKIP
    """
    profile = load_profile(platform)
    graph = load_model(model, input_shapes=input_shapes, on_unknown=on_unknown)
    return estimate_graph(graph, profile, precision=precision, power_mode=power_mode, freq_mhz=freq_mhz)


@typed
def compare(models, platforms, *, precisions=None, power_mode: str | None = None,
            input_shapes: dict[str, tuple[int, ...]] | None = None, on_unknown: str = "error") -> Comparison:
    """Estimate every model on every platform at every precision: a matrix to decide between them.

    Parameters
    ----------
    models : sequence of (str, Path or Graph)
        Rows: what :func:`estimate` accepts as ``model``; each is loaded once.
    platforms : sequence of (str, Path or Profile)
        Shipped profile names, profile paths or profiles; each is loaded once.
    precisions : sequence of str, optional
        Columns per platform; default: one column per platform at its default precision (the
        model's own int8 where it is quantized and the platform runs int8).
    power_mode, input_shapes, on_unknown
        As for :func:`estimate` (a power mode applies to the platforms that have it).

    Returns
    -------
    Comparison
        One cell per (model, platform, precision): its :class:`Estimate` (latency, throughput,
        energy, the interval where the profile has one, ``latency_is_bound``), or the reason it was
        skipped (a precision the platform does not run).

    Raises
    ------
    ModelError, ProfileError
        A model or profile cannot be read.
    InputError
        No models or platforms, or no cell could be estimated.

    Examples
    --------
    >>> c = compare(["zoo:resnet18", "zoo:mobilenet_v2"], ["jetson-nano", "raspberry-pi-4"])   # doctest: +SKIP
    >>> c.cell("zoo:resnet18", "jetson-nano").estimate.throughput_per_s                          # doctest: +SKIP
    """
    models, platforms = list(models), list(platforms)
    if not models or not platforms:
        raise InputError("compare needs at least one model and one platform")
    asked = list(dict.fromkeys(precisions)) if precisions else [None]
    profiles = [load_profile(platform) for platform in platforms]
    graphs = [load_model(model, input_shapes=input_shapes, on_unknown=on_unknown) for model in models]
    labels = [model if isinstance(model, str) else str(getattr(model, "name", model)) for model in models]
    columns = [(profile.name, precision) for profile in profiles for precision in asked]
    cells = []
    for label, graph in zip(labels, graphs):
        for profile in profiles:
            for precision in asked:
                cells.append(_cell(label, graph, profile, precision, power_mode))
    if all(cell.estimate is None for cell in cells):
        raise InputError("no platform runs the precisions asked for: " + "; ".join(
            sorted({cell.skipped for cell in cells})))
    return Comparison(models=tuple(labels), columns=tuple(columns), cells=tuple(cells))


def _cell(label: str, graph, profile, precision: str | None, power_mode: str | None) -> ComparisonCell:
    """One comparison cell: the estimate, or why the platform cannot run it (precision, power mode)."""
    if precision is not None and precision not in profile.precisions:
        return ComparisonCell(model=label, platform=profile.name, precision=precision,
                              skipped=f"{profile.name} does not run {precision} (runs {', '.join(profile.precisions)})")
    mode = power_mode if power_mode in profile.power_modes else None
    est = estimate_graph(graph, profile, precision=precision, power_mode=mode)
    return ComparisonCell(model=label, platform=profile.name, precision=precision, estimate=est)


def _prepare(model, platform, precision, input_shapes, on_unknown):
    profile = load_profile(platform)
    graph = load_model(model, input_shapes=input_shapes, on_unknown=on_unknown)
    chosen, _ = choose_precision(profile, precision, graph.native_precision)
    return profile, map_graph(graph, profile.mapping), chosen


@typed
def dvfs(model, platform, *, precision: str | None = None, power_mode: str | None = None,
         max_latency_ms: float | None = None, input_shapes: dict[str, tuple[int, ...]] | None = None,
         on_unknown: str = "error") -> DvfsReport:
    """Latency, power and energy per inference over the platform's whole frequency grid.

    Parameters are those of :func:`estimate`, plus ``max_latency_ms``: also
    report the lowest-energy point meeting that latency.

    Returns
    -------
    DvfsReport
        ``points`` (latency in ms, power in mW, energy in mJ per point), the
        energy- and latency-optimal points and the saving against max clocks.

    Raises
    ------
    ModelError, ProfileError, InputError

    Examples
    --------
    >>> r = dvfs("zoo:mobilenet_v2", "jetson-tx2", precision="fp16")   # doctest: +SKIP
    >>> r.energy_saving_vs_max_pct > 0                                 # doctest: +SKIP
    True
    """
    profile, mapped, chosen = _prepare(model, platform, precision, input_shapes, on_unknown)
    return explore_dvfs(mapped, profile, precision=chosen, power_mode=power_mode, max_latency_ms=max_latency_ms)


@typed
def simulate(model, platform, *, inferences: int, precision: str | None = None, power_mode: str | None = None,
             ambient_c: float | None = None, gap_ms: float = 0.0,
             input_shapes: dict[str, tuple[int, ...]] | None = None, on_unknown: str = "error") -> SimulationResult:
    """Simulate a sustained run: per-inference latency and temperature, throttling, time and energy.

    Parameters are those of :func:`estimate`, plus the number of
    ``inferences``, the ``ambient_c`` temperature and ``gap_ms`` of idle host
    time after each inference.

    Returns
    -------
    SimulationResult
        Traces (ms, degrees C, MHz per inference), throttle events, total time (s) and energy (J).

    Raises
    ------
    ModelError, ProfileError
        Also when the platform has no thermal model.
    InputError, LimitError

    Examples
    --------
    >>> r = simulate("zoo:googlenet", "coral-edgetpu", inferences=1000)   # doctest: +SKIP
    >>> r.latency_ms_trace[0] > r.latency_ms_trace[1]                    # doctest: +SKIP
    True
    """
    profile = load_profile(platform)
    if profile.thermal is None:
        with_model = [name for name in list_profiles() if load_profile(name).thermal is not None]
        raise ProfileError(f"platform {show(profile.name)} has no thermal model (a 'thermal' section); shipped profiles "
                           f"with one: {', '.join(with_model)}; add one fitted with 'edgeperf fit-thermal'")
    profile, mapped, chosen = _prepare(model, profile, precision, input_shapes, on_unknown)
    return simulate_sustained(mapped, profile, precision=chosen, inferences=inferences, ambient_c=ambient_c,
                              gap_ms=gap_ms, power_mode=power_mode)


def search(spec, **options):
    """Constrained design-space search; see :func:`edgeperf.dse.search` (needs the ``search`` extra for optuna)."""
    from .dse import search as run_search

    return run_search(spec, **options)
