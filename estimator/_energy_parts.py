"""Where the energy of a run goes under a board's operating model: one part per power term of the engine.

:func:`energy_parts` splits the energy that :func:`~edgeperf.estimator.evaluate_points` gives at one
operating point into the terms the engine adds up (``_engine._operated``): the board's floor, the
EMC background, the GPU and CPU rails' leakage and the busy CPU core, each over the whole run; the
GPU's dynamic power while it computes and while it waits for the CPU; the DRAM energy of the bytes
moved; layers run on a host; the per-inference overhead. It also splits the run's time into the
GPU's busy time and the wait for the CPU (launches and pre/post-processing). It only reads the
engine's terms: the parts sum to the engine's total, which the tests check.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from .._units import mw_ms_to_mj
from ._engine import ReferenceCosts, _operated, _static_powers, network_factor
from ._protocols import PlatformProfile

__all__ = ["EnergyParts", "energy_parts"]


@dataclass(frozen=True, slots=True, kw_only=True)
class EnergyParts:
    """One run at one operating point: its time (ms) and its energy (mJ) by the engine's terms.

    ``gpu_busy_ms + cpu_wait_ms + overhead_ms`` is the run's latency (``overhead_ms``: the profile's
    per-inference overhead outside every layer, paid at idle power as ``overhead_mj``); the ``*_mj`` fields sum to its energy
    (:attr:`total_mj`). ``cpu_wait_ms`` is the time the GPU waits for the CPU: kernel launches it
    could not hide and the run's serial pre/post-processing (less, under a model anchored to the
    board model, the waits the board model holds). ``floor_mj`` ... ``cpu_core_mj`` are static powers
    over the whole run; ``gpu_compute_mj`` is the GPU's dynamic power times its activity while busy,
    ``gpu_waiting_mj`` while waiting; ``dram_mj`` the DRAM energy per byte moved.
    """

    gpu_busy_ms: float
    cpu_wait_ms: float
    overhead_ms: float
    floor_mj: float
    emc_mj: float
    gpu_leak_mj: float
    cpu_leak_mj: float
    cpu_core_mj: float
    gpu_compute_mj: float
    gpu_waiting_mj: float
    dram_mj: float
    host_mj: float
    overhead_mj: float

    @property
    def latency_ms(self) -> float:
        return self.gpu_busy_ms + self.cpu_wait_ms + self.overhead_ms

    @property
    def total_mj(self) -> float:
        return float(sum(getattr(self, f.name) for f in fields(self) if f.name.endswith("_mj")))

    def per_item(self, items: float) -> "EnergyParts":
        """The same parts divided by ``items`` inferences (per inference for a run of a batch)."""
        return EnergyParts(**{f.name: getattr(self, f.name) / items for f in fields(self)})


def energy_parts(costs: ReferenceCosts, profile: PlatformProfile, freq_mhz: dict) -> EnergyParts:
    """The run's time and energy at one operating point (``freq_mhz``: domain -> MHz), part by part.

    Parameters
    ----------
    costs : ReferenceCosts
        From :func:`~edgeperf.estimator.reference_costs` on ``profile``.
    profile : Profile
        A profile with an operating model (``profile.operating``).
    freq_mhz : dict of str to float
        Clocks of the domains; domains left out run at their reference clock.

    Returns
    -------
    EnergyParts
        Times in ms and energies in mJ of one run (all its batch), after the network term's factor.

    Raises
    ------
    ValueError
        When the profile has no operating model (its energy is one power term times latency).

    Examples
    --------
    >>> from edgeperf import load_model, load_profile, map_graph
    >>> from edgeperf.estimator import evaluate_points, reference_costs
    >>> profile = load_profile("jetson-nano-pytorch")
    >>> costs = reference_costs(map_graph(load_model("zoo:resnet18"), profile.mapping), profile, "fp32")
    >>> parts = energy_parts(costs, profile, {"gpu": 768.0, "cpu": 1479.0})
    >>> _, energy = evaluate_points(costs, profile, {"gpu": np.array([768.0]), "cpu": np.array([1479.0])})
    >>> bool(abs(parts.total_mj - energy[0]) < 1e-9 * energy[0])
    True
    """
    model = getattr(profile, "operating", None)
    if model is None or costs.exposed is None:
        raise ValueError(f"profile {getattr(profile, 'name', '?')!r} has no operating model: its energy is its power "
                         "times latency, with no parts to split")

    def clock(name):
        return np.array([float(freq_mhz.get(name, profile.clocks[name].reference_mhz))])

    latency, _, compute, _, wait = (a[0] for a in _operated(costs, profile, clock))
    _, _, static, gpu_mw = _static_powers(profile, clock)
    busy = latency - wait
    run_ms = float(latency.sum())
    activity = model.activity_memory_bound + (1.0 - model.activity_memory_bound) * np.divide(
        compute, busy, out=np.zeros_like(busy), where=busy > 0)
    host = float(mw_ms_to_mj(costs.host_mw @ costs.overhead_ms, 1.0)) if costs.host_mw is not None else 0.0
    factor = float(network_factor(costs, run_ms))
    mj = {f"{name}_mj": float(mw_ms_to_mj(power[0], run_ms)) for name, power in static.items()}
    mj.update(gpu_compute_mj=float(mw_ms_to_mj(gpu_mw[0] * activity @ busy, 1.0)),
              gpu_waiting_mj=float(mw_ms_to_mj(gpu_mw[0] * model.activity_idle * wait.sum(), 1.0)),
              dram_mj=float(model.dram_pj_per_byte * costs.bytes_.sum() * 1e-9), host_mj=host,
              overhead_mj=float(costs.fixed_mj))
    return EnergyParts(gpu_busy_ms=float(busy.sum()) * factor, cpu_wait_ms=float(wait.sum()) * factor,
                       overhead_ms=costs.fixed_ms * factor,
                       **{key: value * factor for key, value in mj.items()})
