"""The platform profile as a value: :class:`Profile` and the parts it is made of.

A profile is immutable. Fitters make new ones with :func:`dataclasses.replace`; the JSON
document is read by :func:`~edgeperf.profiles.parse_profile` and written by
:meth:`Profile.to_document` (both in ``_schema``), nowhere else.

Every number of a profile says where it came from: :attr:`Profile.citations` maps the number's
*address* to a :class:`Citation` (a key of :attr:`Profile.sources`, and an optional note). An
address is the attribute path of the number in the value, as a tuple:
``("power", "idle_mw")``, ``("power", "active_mw", "conv")``, ``("precisions", "fp16")``,
``("clocks", "gpu", "reference_mhz")``, ``("power_modes", "5W", "gpu")``,
``("thermal", "levels", 0, "temp_c")``, ``("inference_overhead_ms",)``,
``("parameter_memory", "stream_gbps")``, ``("uncertainty", "half_width")``,
``("mapping", "winograd", "work_scale")``, ``("network_term",)`` (the term's one source, for all
its parameters), ``("signature_residuals",)`` (the table's one source, for all its entries). Layer models, fusion rules, the sibling merge, folding and
copy elision carry their source themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from types import MappingProxyType

import numpy as np

from .._errors import ProfileError
from .._messages import show
from ..estimator import (Mapping, NetworkTerm, ParameterMemory, SignatureResiduals, Uncertainty,
                         class_entry, validate_cost_params)
from ._operating import OperatingModel
from ._provenance import Provenance, freeze
from ._write import profile_document

__all__ = ["Citation", "ClockDomain", "PowerModel", "ThrottleLevel", "FanLevel", "ThermalModel", "LayerModel",
           "RuntimeSupport", "Profile", "RuntimeMapping"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Citation:
    """Where one number came from: ``source`` is a key of the profile's ``sources``; ``note`` the quote or arithmetic."""

    source: str
    note: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ClockDomain:
    """One clock domain: its reference clock, selectable steps and (if known) voltages."""

    name: str
    reference_mhz: float
    available_mhz: tuple[float, ...]
    voltage_v: tuple[float, ...] | None = None

    def voltage_at(self, freq_mhz: float) -> float | None:
        """Voltage at ``freq_mhz`` interpolated from the table, or None when unknown."""
        if self.voltage_v is None:
            return None
        return float(np.interp(freq_mhz, self.available_mhz, self.voltage_v))


@dataclass(frozen=True, slots=True, kw_only=True)
class PowerModel:
    """Board power: idle power plus per-operator-class dynamic power at reference clocks, plus work energy.

    ``active_mw`` maps an operator class (or ``default``) to the power drawn
    above idle while such a layer runs. ``pj_per_flop`` and ``pj_per_byte`` are
    energy per unit of work (arithmetic, bytes moved), independent of time:
    ``E = (idle + active) T + e_flop F + e_byte bytes``, the flop energy scaling
    with ``V^2`` of the compute domain. ``calibrated`` is False when the figures
    are board averages from publications rather than per-layer measurements.
    """

    idle_mw: float
    active_mw: MappingProxyType
    calibrated: bool
    domain_mw: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))  # domain -> dynamic mW at reference
    pj_per_flop: float = 0.0               # energy per FLOP at reference voltage
    pj_per_byte: float = 0.0               # energy per byte moved

    def __post_init__(self) -> None:
        if "default" not in self.active_mw:
            raise ValueError(f"power.active_mw needs a 'default' entry, got {sorted(self.active_mw)}")

    def active_for(self, op_class: str) -> float:
        """Active power of ``op_class``: its own, else its fallback class's (``FALLBACK_CLASS``), else ``default``."""
        return float(class_entry(self.active_mw, op_class))

    @property
    def has_model(self) -> bool:
        """False when every power figure is 0: the profile knows nothing about energy."""
        return bool(self.idle_mw or any(self.active_mw.values()) or any(self.domain_mw.values()) or self.pj_per_flop
                    or self.pj_per_byte)


@dataclass(frozen=True, slots=True, kw_only=True)
class ThrottleLevel:
    """One trip point: above ``temp_c`` the throttled domain is capped at ``cap_mhz``."""

    temp_c: float
    cap_mhz: float


@dataclass(frozen=True, slots=True, kw_only=True)
class FanLevel:
    """Above ``temp_c`` the fan runs faster and the board's thermal resistance drops to ``resistance_c_per_w``."""

    temp_c: float
    resistance_c_per_w: float


@dataclass(frozen=True, slots=True, kw_only=True)
class ThermalModel:
    """Lumped RC thermal model of the board and its throttling policy.

    ``idle_c`` is the steady temperature at idle power and ``ambient_c`` the
    ambient it was observed at; the dynamic power above idle heats the die
    through ``resistance_c_per_w`` with time constant ``time_constant_s``. The
    policy is reactive: every ``poll_ms`` the governor caps ``domain`` at the
    level of the highest trip exceeded, and lifts a cap once the temperature is
    ``hysteresis_c`` below that trip.
    """

    ambient_c: float
    idle_c: float
    resistance_c_per_w: float
    time_constant_s: float
    poll_ms: float
    hysteresis_c: float
    domain: str
    levels: tuple[ThrottleLevel, ...]
    first_inference_ms: float = 0.0
    fan: tuple[FanLevel, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class LayerModel:
    """The cost model of one operator class.

    ``stated`` are the parameters as the profile states them; ``params`` (derived) the same,
    validated against the form, with the form's defaults filled in: what the cost model computes
    with. ``source`` is a key of the profile's sources, ``note`` an optional remark.

    Raises
    ------
    ValueError
        For an unknown form or a parameter it does not accept, naming the value and the range.
    """

    form: str
    stated: MappingProxyType
    source: str = ""
    note: str | None = None
    params: MappingProxyType = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        clean = validate_cost_params(self.form, dict(self.stated), f"layer model {self.form}")
        object.__setattr__(self, "params", MappingProxyType(clean))


PARTITIONS = ("once", "per-op")
FALLBACKS = ("host", "device")


@dataclass(frozen=True, slots=True, kw_only=True)
class RuntimeSupport:
    """What the target's compiler or runtime maps, and where the rest runs (``estimator._support``).

    The runtime's facts come from a shipped table (``profiles/data/runtimes/support.json``, one
    entry per runtime, named by ``table``): ``ops`` maps an operator type (ONNX spelling, as edgeperf
    names layers) to the precisions the runtime runs it at on the device; an operator it does not
    list falls back to the host CPU (``fallback == "host"``) or to ``fallback_precision`` on the
    device (``"device"``); ``partition`` is ``once`` when the compiler splits a model once (the first
    unmapped operator takes the rest along), ``per-op`` when each unmapped operator falls back
    alone. ``sources`` are the table's citations (``ops_source`` for the op list, ``rules_source``
    for partition and fallback). The board's facts come from the profile: ``host_profile`` (the
    host CPU's profile) and ``link_gbps`` (device-host bandwidth, GB/s), cited there.

    Raises
    ------
    ValueError
        For an unknown partition or fallback, or a device fallback without its precision.
    """

    table: str
    runtime: str
    ops: MappingProxyType                  # op type -> tuple of precisions
    partition: str
    fallback: str
    ops_source: str
    rules_source: str
    sources: MappingProxyType              # the table's source texts that ops_source and rules_source name
    fallback_precision: str | None = None
    host_profile: str | None = None
    link_gbps: float | None = None         # GB/s between device and host

    def __post_init__(self) -> None:
        if self.partition not in PARTITIONS:
            raise ValueError(f"partition must be one of {PARTITIONS}, got {show(self.partition)}")
        if self.fallback not in FALLBACKS:
            raise ValueError(f"fallback must be one of {FALLBACKS}, got {show(self.fallback)}")
        if self.fallback == "device" and not self.fallback_precision:
            raise ValueError(f"runtime {show(self.table)} falls back on the device: it needs fallback_precision")


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Profile:
    """A validated platform profile. Read one with :func:`~edgeperf.profiles.load_profile`.

    Raises
    ------
    ProfileError
        When its parts do not fit together (a default precision it lacks, a citation of an
        unknown source, no default layer model, an unknown clock domain).
    """

    name: str
    title: str
    version: str
    kind: str
    quality: str
    sources: MappingProxyType             # key -> citation text
    precisions: MappingProxyType          # precision -> peak GFLOP/s at reference clocks
    default_precision: str
    memory_bandwidth_gbps: float
    compute_domain: str
    memory_domain: str
    clocks: MappingProxyType              # domain -> ClockDomain
    power_modes: MappingProxyType         # mode -> {domain: cap MHz}
    default_power_mode: str | None
    power: PowerModel
    mapping: Mapping
    layer_models: MappingProxyType        # op class or "default" -> LayerModel
    unit_cost_eur: float | None
    memory_bytes: int | None
    runtime: MappingProxyType             # the runtime's facts (name, version, settings), frozen JSON (a dict is frozen)
    citations: MappingProxyType           # address of a number -> Citation (see the module docstring)
    device: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))   # the board's facts
    thermal: ThermalModel | None = None
    inference_overhead_ms: float = 0.0     # per inference, outside every layer (runtime call, copies, sync)
    parameter_memory: ParameterMemory | None = None   # on-chip parameter memory; the rest streams from the host
    uncertainty: Uncertainty | None = None            # the interval of an estimate, from the fit's held-out residuals
    runtime_support: RuntimeSupport | None = None   # what the runtime maps; None: everything, as asked
    operating: OperatingModel | None = None   # voltages, rails, CPU-side work, occupancy (data/operating/boards.json)
    network_term: NetworkTerm | None = None   # the whole network's time as a function of its layer sum
    signature_residuals: SignatureResiduals | None = None   # fitted ms per exact layer signature (``_signatures``)
    provenance: Provenance = field(default_factory=Provenance)
    path: str = ""                         # the file it was read from, if any

    def __post_init__(self) -> None:
        for key in ("runtime", "device"):       # free-form facts, frozen like the rest (a dict is copied)
            object.__setattr__(self, key, freeze(getattr(self, key)))
        where = self.path or self.name
        if self.default_precision not in self.precisions:
            raise ProfileError(f"{where}: default_precision {show(self.default_precision)} is not among the profile's "
                               f"precisions {sorted(self.precisions)}")
        if "default" not in self.layer_models:
            raise ProfileError(f"{where}: layer_models needs a 'default' entry (the model for operator classes "
                               "without their own)")
        for domain in (self.compute_domain, self.memory_domain):
            if domain not in self.clocks:
                raise ProfileError(f"{where}: clock domain {show(domain)} is not defined {sorted(self.clocks)}")
        cited = ({c.source for c in self.citations.values()} | {m.source for m in self.layer_models.values()}
                 | self.mapping.cited_sources())
        unknown = sorted(cited - set(self.sources))
        if unknown:
            raise ProfileError(f"{where}: numbers cite unknown source(s) {unknown}; define them under 'sources'")
        support = self.runtime_support
        if support is not None and support.fallback == "host" and (not support.host_profile or not support.link_gbps):
            raise ProfileError(f"{where}: runtime_support: runtime {show(support.table)} falls back to the host CPU; give "
                               "host_profile (the host's profile) and link_gbps (the device-host link, GB/s)")
        if support is not None and support.host_profile == self.name:
            raise ProfileError(f"{where}: runtime_support.host_profile names the profile itself; name the host CPU's")

    def layer_model(self, op_class: str) -> LayerModel:
        """The cost model for ``op_class``: its own, else its fallback class's (``FALLBACK_CLASS``: a convolution off
        the runtime's blocked layout uses the convolution's), else the ``default`` entry."""
        return class_entry(self.layer_models, op_class)

    def fallback_host(self) -> "Profile | None":
        """The host CPU's profile that runs what the runtime cannot map (``runtime_support.host_profile``), or None.

        Loaded by name (a shipped profile) or path when first asked for, and cached by the store.
        """
        support = self.runtime_support
        if support is None or support.fallback != "host":
            return None
        from ._store import load_profile      # the store reads profiles: imported here, not at module level

        return load_profile(support.host_profile)

    def recited(self, section: str, citations: dict) -> MappingProxyType:
        """This profile's citations with every one under ``section`` (an address's first part) replaced by ``citations``.

        For a fitter that replaces a whole section: ``replace(p, power=new, citations=p.recited("power", cites))``.
        """
        kept = {address: c for address, c in self.citations.items() if address[0] != section}
        return MappingProxyType({**kept, **citations})

    def to_document(self) -> dict:
        """The profile as a JSON document (schema version 1, docs/profile-format.md): a fresh, mutable dict.

        >>> from edgeperf.profiles import load_profile, parse_profile
        >>> nano = load_profile("jetson-nano")
        >>> parse_profile(nano.to_document()).to_document() == nano.to_document()
        True
        """
        return profile_document(self)


@dataclass(frozen=True, slots=True, kw_only=True)
class RuntimeMapping:
    """A runtime's mapping (what it fuses, folds, elides; Winograd) as shipped, for fitters to put into profiles.

    ``sources`` are the citations it rests on (key -> text), ``citations`` its numbers' citations by
    address (``("mapping", "winograd", "work_scale")``), as in :attr:`Profile.citations`.
    """

    name: str
    mapping: Mapping
    sources: MappingProxyType
    citations: MappingProxyType

    def apply(self, profile: Profile) -> Profile:
        """``profile`` with this mapping, its sources added and its mapping citations replaced.

        >>> from edgeperf.profiles import load_profile, runtime_mapping
        >>> runtime_mapping("ncnn").apply(load_profile("raspberry-pi-4")).mapping.winograd.tile
        6
        """
        return replace(profile, mapping=self.mapping, sources=MappingProxyType({**profile.sources, **self.sources}),
                       citations=MappingProxyType({**profile.recited("mapping", {}), **self.citations}))
