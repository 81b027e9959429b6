"""The seam between the estimator and its platform description, as a Protocol.

The estimator does not import the profiles package (profiles depend on the estimator's vocabulary:
operator classes, fusion rules, cost forms). What it reads of a profile is :class:`PlatformProfile`;
``edgeperf.profiles.Profile`` is the implementation, and a test could pass any other.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Protocol, runtime_checkable

from ._mapping import Mapping

__all__ = ["PlatformProfile"]


@runtime_checkable
class PlatformProfile(Protocol):
    """What estimates, the engine and the operating package read of a platform profile.

    ``clocks`` maps a domain to an object with ``reference_mhz``, ``available_mhz``, ``voltage_v``
    and ``voltage_at(freq_mhz)``; ``power`` has ``idle_mw``, ``active_for(op_class)``,
    ``domain_mw``, ``calibrated`` and ``has_model``; ``layer_model(op_class)`` returns an object with
    ``form`` (a key of ``COST_MODELS``) and ``params``; ``provenance`` has ``fitted_classes`` and
    ``fitted_input_hw_max`` (None when unknown); ``parameter_memory`` (a ``ParameterMemory``) and
    ``uncertainty`` (an ``Uncertainty``) are None where the profile has none.
    """

    name: str
    version: str
    kind: str                               # datasheet (an optimistic bound), fitted, calibrated, ...
    precisions: MappingProxyType            # precision -> peak GFLOP/s at reference clocks
    default_precision: str
    memory_bandwidth_gbps: float
    compute_domain: str
    memory_domain: str
    clocks: MappingProxyType
    power_modes: MappingProxyType           # mode -> {domain: cap MHz}
    default_power_mode: str | None
    power: object
    mapping: Mapping
    inference_overhead_ms: float
    network_term: object                    # a NetworkTerm or None (``_network_term``)
    signature_residuals: object             # a SignatureResiduals or None (``_signatures``)
    thermal: object
    provenance: object
    parameter_memory: object
    uncertainty: object

    def layer_model(self, op_class: str): ...
