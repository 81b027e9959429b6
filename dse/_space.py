"""The design space of a spec, and vectorised evaluation of its designs.

A *configuration* is a (model, platform, precision); each has the platform's
operating points; each (configuration, operating point) is a *block* of
designs: the unsplit design, then every cut x link x bit width when the spec
partitions. A block is evaluated at once with numpy from per-layer arrays
computed once per configuration, so exhaustive search costs arithmetic, not
Python loops, per design.

Metrics of a design (units in the names):

- ``latency_ms``: device part + transfer + server part (unsplit: device only);
- ``latency_ms_high``: the same with the device part at the high end of its profile's interval
  (the pessimistic latency a constraint can bound; equal to ``latency_ms`` where the profile has
  no interval);
- ``energy_mj``: the node's energy, seed 003's ``E_node = sum E_P + E_C``:
  device layers plus the radio's transmit energy (server energy is not the
  node's; it is reported as ``server_ms`` only);
- ``accuracy``: the model's accuracy at the precision (fraction), less the
  spec's accuracy drop for the cut's bit width;
- ``cost_eur``: the platform's unit cost (plus the spec's server cost when split);
- ``power_mw``: average node power over the run, ``batch energy / latency``;
  energy and power are NaN (``None`` in a design) on a board without a power model;
- ``throughput_per_s``: inferences per second, ``batch / latency`` (the spec's ``batches``;
  ``latency_ms`` is per run of a batch, ``energy_mj`` per inference);
- ``memory_bytes``: weights held on the device at the precision.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .._errors import InputError
from .._messages import show
from .._units import BITS_PER_ELEMENT
from ..estimator import (check_batch, evaluate_layers, interval_points, load_model, map_graph, network_totals,
                         reference_costs, resolve_operating_point)
from ..operating import frequency_grid
from ..profiles import load_profile
from ..zoo import is_reference, load_catalog, reference_name
from ._partition import CutPoints, cut_points, layer_spans, measured_compression
from ._spec import SearchSpec

__all__ = ["DesignSpace", "Block", "COLUMNS"]

logger = logging.getLogger(__name__)

#: Numeric columns of a design table (indices are -1 where they do not apply).
COLUMNS = ("config", "point", "cut", "link", "bits", "latency_ms", "latency_ms_high", "energy_mj", "accuracy", "cost_eur", "power_mw",
           "throughput_per_s",
           "memory_bytes", "transfer_bytes", "transfer_ms", "transfer_mj", "device_ms", "server_ms")


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Config:
    """One (model, platform, precision) with what its blocks need, computed once."""

    model: int
    platform: int
    precision: str
    accuracy: float
    layer_costs: object                # ReferenceCosts of the device mapping (at ``batch``)
    hi: np.ndarray                     # last model-layer position of each device layer
    params_bytes: np.ndarray           # weight bytes of each device layer
    cuts: CutPoints | None
    server_suffix_ms: np.ndarray | None
    ratios: np.ndarray | None          # (cuts, bits) compression ratios
    batch: int = 1                     # inferences per run: energy columns are per inference, latency per run


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Block:
    """The designs of one (configuration, operating point): numeric columns, aligned arrays."""

    columns: dict


class DesignSpace:
    """Everything a search over ``spec`` evaluates, with designs computed on demand.

    Raises
    ------
    InputError, ModelError, ProfileError
        For a spec whose models or platforms cannot be loaded, or that needs an
        accuracy no source gives.
    """

    def __init__(self, spec: SearchSpec):
        self.spec = spec
        self.notes: list[str] = []
        self.profiles = [load_profile(p.ref) for p in spec.platforms]
        self.graphs = [load_model(m.ref, input_shapes=dict(m.input_shapes)) for m in spec.models]
        self.points = [self._points(profile) for profile in self.profiles]
        self.unit_cost = []
        for choice, profile in zip(spec.platforms, self.profiles):
            cost = choice.unit_cost_eur if choice.unit_cost_eur is not None else profile.unit_cost_eur
            if cost is None and self._uses("cost_eur"):
                raise InputError(f"{spec.source}: platform {show(profile.name)} has no unit cost; give unit_cost_eur")
            self.unit_cost.append(float(cost) if cost is not None else float("nan"))
        for profile in self.profiles:
            if not profile.power.has_model and (self._uses("energy_mj") or self._uses("power_mw")):
                raise InputError(f"{spec.source}: platform {show(profile.name)} has no power model, so energy cannot be "
                                 "compared; drop it or the energy/power objectives and constraints")
        self.memory_limit = [float(c.memory_bytes or p.memory_bytes or np.inf) for c, p in
                             zip(spec.platforms, self.profiles)]
        self.power_budget = [float(c.power_budget_mw) if c.power_budget_mw is not None else np.inf
                             for c in spec.platforms]
        partition = spec.partition
        self.links = partition.links if partition else ()
        self.bits = np.array(partition.bits if partition else (), dtype=float)
        self.server = load_profile(partition.server) if partition else None
        if partition:
            unknown = [b for b in partition.bits if b < 8 and b not in dict(partition.accuracy_drop)]
            if unknown:
                self.notes.append(f"accuracy effect of {', '.join(map(str, unknown))}-bit cut tensors not given "
                                  "(partition.accuracy_drop): assumed none")
        self._catalog = load_catalog()       # read once: every (model, platform, precision) looks it up
        self._check_accuracy_metrics()
        self.configs = self._configs()
        if not self.configs:
            raise InputError(f"{spec.source}: no (model, platform, precision) combination remains; "
                             "check precisions against what the platforms run")
        self._block = lru_cache(maxsize=4096)(self._compute_block)

    # ---- construction ---------------------------------------------------------------------------------------

    def _uses(self, metric: str) -> bool:
        return any(m == metric for m, _ in self.spec.objectives) or any(
            c.metric == metric for c in self.spec.constraints)

    def _points(self, profile) -> tuple:
        mode = self.spec.operating_points
        if mode == "default" or not profile.power_modes and mode == "power_modes":
            point = resolve_operating_point(profile)
            return ((point.power_mode, dict(point.freq_mhz)),)
        if mode == "power_modes":
            return tuple((name, dict(resolve_operating_point(profile, name).freq_mhz)) for name in profile.power_modes)
        default = resolve_operating_point(profile)
        grid = frequency_grid(profile, default.power_mode)
        size = len(next(iter(grid.values())))
        return tuple((default.power_mode, {**dict(default.freq_mhz), **{n: float(v[i]) for n, v in grid.items()}})
                     for i in range(size))

    def _check_accuracy_metrics(self) -> None:
        """Accuracies of different metrics (top-1, mAP50, mAP50-95) are not one scale: refuse to rank them together.

        A model whose spec entry gives ``accuracy`` is on the scale the user chose; only catalog
        accuracies are checked. ``mixed_accuracy_metrics: true`` in the spec ranks them anyway, and
        the result's notes say which metrics were mixed.
        """
        if not self._uses("accuracy"):
            return
        metrics: dict[str, list[str]] = {}
        for choice in self.spec.models:
            if choice.accuracy is None and is_reference(choice.ref):
                entry = self._catalog.accuracy(reference_name(choice.ref))
                if entry is not None:
                    metrics.setdefault(entry.metric, []).append(choice.name)
        if len(metrics) < 2:
            return
        listing = "; ".join(f"{metric} for {', '.join(names)}" for metric, names in sorted(metrics.items()))
        if not self.spec.mixed_accuracy_metrics:
            raise InputError(f"{self.spec.source}: the models' catalog accuracies are different metrics ({listing}) "
                             "and do not rank on one scale; give 'accuracy: FRACTION' per model on a common "
                             "scale, or set 'mixed_accuracy_metrics: true' to rank them anyway")
        self.notes.append(f"accuracy mixes metrics ({listing}): ranked as one scale because the spec sets "
                          "mixed_accuracy_metrics")

    def _accuracy(self, model_index: int, precision: str) -> float:
        choice = self.spec.models[model_index]
        catalog = self._catalog
        name = reference_name(choice.ref) if is_reference(choice.ref) else None
        entry = catalog.accuracy(name, precision) if name else None
        if choice.accuracy is not None:
            delta = entry.delta / 100.0 if entry is not None else _default_delta(catalog, precision)
            return max(0.0, choice.accuracy + delta)
        if entry is not None:
            return entry.value / 100.0
        if self._uses("accuracy"):
            raise InputError(f"{self.spec.source}: model {show(choice.name)} has no accuracy in the catalog; "
                             "give 'accuracy: FRACTION' for it in the spec")
        return float("nan")

    def _configs(self) -> list[Config]:
        configs = []
        for m, graph in enumerate(self.graphs):
            server_side = self._server_side(m) if self.server is not None else None
            for p, profile in enumerate(self.profiles):
                mapped = map_graph(graph, profile.mapping)
                precisions = [q for q in (self.spec.precisions or tuple(profile.precisions)) if q in profile.precisions]
                if self.spec.precisions and not precisions:
                    self.notes.append(f"{profile.name} runs none of the requested precisions; skipped")
                _, hi = layer_spans(graph, mapped) if mapped.layers else (np.zeros(0, int), np.zeros(0, int))
                cuts = suffix = ratios = None
                if server_side is not None:
                    cuts = cut_points(graph, [mapped, server_side[0]], max_tensors=self.spec.partition.max_cut_tensors)
                    suffix = server_side[1](cuts.position)
                    ratios = self._ratios(m, cuts)
                for q in precisions:
                    bits = np.where(mapped.int8_layer, 8, BITS_PER_ELEMENT[q])
                    params = np.array([layer.params for layer in mapped.layers], dtype=float) * bits / 8.0
                    for batch in self.spec.batches:
                        check_batch(graph, batch)
                        configs.append(Config(model=m, platform=p, precision=q, accuracy=self._accuracy(m, q),
                                              layer_costs=reference_costs(mapped, profile, q, batch=batch), hi=hi,
                                              params_bytes=params, cuts=cuts, server_suffix_ms=suffix, ratios=ratios,
                                              batch=batch))
        return configs

    def _server_side(self, m: int):
        """The server's mapped graph of model ``m`` and a function: cut positions -> server latency (ms)."""
        server = self.server
        graph = self.graphs[m]
        mapped = map_graph(graph, server.mapping)
        precision = server.default_precision
        point = resolve_operating_point(server)
        costs = reference_costs(mapped, server, precision)
        latency, _ = evaluate_layers(costs, server, dict(point.freq_mhz))
        lo, _ = layer_spans(graph, mapped) if mapped.layers else (np.zeros(0, int), None)
        order = np.argsort(lo, kind="stable")
        starts, cumulative = lo[order], np.concatenate([[0.0], np.cumsum(latency[order])])
        total = float(latency.sum())

        def suffix(positions):
            before = np.searchsorted(starts, positions, side="left")   # layers starting before k
            rest = total - cumulative[before]                          # the server runs the layers from k on
            return network_totals(costs, rest, np.zeros_like(rest), runs=before < len(starts), whole_ms=total)[0]

        return mapped, suffix

    def _ratios(self, m: int, cuts: CutPoints) -> np.ndarray:
        partition = self.spec.partition
        if partition.sample is None:
            ratio = partition.compression_ratio if partition.compression_ratio is not None else 1.0
            note = (f"cut tensors compressed to {ratio:g} of their quantized size (assumed, not measured)"
                    if partition.compression_ratio is not None else
                    "cut tensors sent quantized without compression (no compression_ratio or sample given)")
            if note not in self.notes:
                self.notes.append(note)
            return np.full((cuts.size, len(partition.bits)), ratio)
        from ._sample import sample_activations

        names = {t for group in cuts.tensors for t in group}
        values, weights_note = sample_activations(self.spec.models[m].ref, names, partition.sample)
        self.notes.append(f"compression of {self.spec.models[m].name}'s cut tensors measured with zlib on "
                          f"{partition.sample} ({weights_note})")
        return measured_compression(values, cuts, tuple(partition.bits))

    # ---- evaluation -----------------------------------------------------------------------------------------

    @property
    def block_keys(self) -> list[tuple[int, int]]:
        return [(c, p) for c, config in enumerate(self.configs) for p in range(len(self.points[config.platform]))]

    def block_size(self, config_index: int) -> int:
        config = self.configs[config_index]
        cuts = config.cuts.size if config.cuts is not None else 0
        return 1 + cuts * len(self.links) * len(self.bits)

    @property
    def size(self) -> int:
        return sum(self.block_size(c) for c, _ in self.block_keys)

    def block(self, config_index: int, point_index: int) -> Block:
        """The designs of one configuration at one operating point (cached)."""
        return self._block(config_index, point_index)

    def _compute_block(self, config_index: int, point_index: int) -> Block:
        config = self.configs[config_index]
        profile = self.profiles[config.platform]
        _, freqs = self.points[config.platform][point_index]
        layer_ms, layer_mj = evaluate_layers(config.layer_costs, profile, freqs)
        total_ms, total_mj = network_totals(config.layer_costs, float(layer_ms.sum()), float(layer_mj.sum()))
        total_mj /= config.batch                                   # energy per inference; latency per run
        high = _high_ratio(config.layer_costs, profile, freqs, total_ms)
        weights = float(config.params_bytes.sum())
        cost = self.unit_cost[config.platform]
        columns = {
            "config": [config_index], "point": [point_index], "cut": [-1], "link": [-1], "bits": [0],
            "latency_ms": [total_ms], "latency_ms_high": [total_ms * high], "energy_mj": [total_mj], "accuracy": [config.accuracy], "cost_eur": [cost],
            "memory_bytes": [weights], "transfer_bytes": [0.0], "transfer_ms": [0.0], "transfer_mj": [0.0],
            "device_ms": [total_ms], "server_ms": [0.0],
        }
        columns = {k: np.asarray(v, dtype=float) for k, v in columns.items()}
        if config.cuts is not None and config.cuts.size and len(self.links):
            columns = _concat(columns, self._split_designs(config_index, point_index, config, layer_ms, layer_mj,
                                                           cost, high))
        latency = columns["latency_ms"]
        columns["power_mw"] = np.divide(columns["energy_mj"] * config.batch * 1000.0, latency,
                                        out=np.zeros_like(latency), where=latency > 0)
        columns["throughput_per_s"] = np.divide(config.batch * 1000.0, latency, out=np.zeros_like(latency),
                                                where=latency > 0)
        if not (profile.power.has_model or getattr(profile, "operating", None) is not None):
            columns["energy_mj"] = np.full(latency.size, np.nan)     # energy unknown: never a made-up 0
            columns["power_mw"] = np.full(latency.size, np.nan)
        return Block(columns=columns)

    def _split_designs(self, config_index, point_index, config, layer_ms, layer_mj, cost, high: float) -> dict:
        cuts = config.cuts
        order = np.argsort(config.hi, kind="stable")
        ends = config.hi[order]
        done = np.searchsorted(ends, cuts.position, side="left")      # device layers ending before k
        prefix_ms, prefix_mj = network_totals(config.layer_costs, np.concatenate([[0.0], np.cumsum(layer_ms[order])])[done],
                                              np.concatenate([[0.0], np.cumsum(layer_mj[order])])[done], runs=done > 0,
                                              whole_ms=float(layer_ms.sum()))   # the whole network's term factor
        prefix_bytes = np.concatenate([[0.0], np.cumsum(config.params_bytes[order])])[done]
        n_cut, n_link, n_bits = cuts.size, len(self.links), self.bits.size
        shape = (n_cut, n_link, n_bits)
        payload = np.ceil(cuts.elements[:, None] * self.bits[None, :] / 8.0) * config.ratios    # (cut, bits)
        transfer_ms = np.empty(shape)
        transfer_mj = np.empty(shape)
        for j, link in enumerate(self.links):
            transfer_ms[:, j, :], transfer_mj[:, j, :] = link.transfer(payload)
        drop = np.array([dict(self.spec.partition.accuracy_drop).get(int(b), 0.0) for b in self.bits])
        cut_i, link_i, bits_i = np.meshgrid(np.arange(n_cut), np.arange(n_link), np.arange(n_bits), indexing="ij")
        server_ms = config.server_suffix_ms[cut_i]
        device_ms = prefix_ms[cut_i]
        count = n_cut * n_link * n_bits
        return {
            "config": np.full(count, config_index, dtype=float), "point": np.full(count, point_index, dtype=float),
            "cut": cut_i.ravel().astype(float), "link": link_i.ravel().astype(float),
            "bits": self.bits[bits_i].ravel(),
            "latency_ms": (device_ms + transfer_ms + server_ms).ravel(),
            "latency_ms_high": (device_ms * high + transfer_ms + server_ms).ravel(),
            "energy_mj": (prefix_mj[cut_i] + transfer_mj).ravel(),
            "accuracy": (config.accuracy - drop[bits_i]).ravel(),
            "cost_eur": np.full(count, cost + self.spec.partition.server_cost_eur),
            "memory_bytes": prefix_bytes[cut_i].ravel(),
            "transfer_bytes": payload[cut_i, bits_i].ravel(), "transfer_ms": transfer_ms.ravel(),
            "transfer_mj": transfer_mj.ravel(), "device_ms": device_ms.ravel(), "server_ms": server_ms.ravel(),
        }

    def table(self, keys=None) -> dict:
        """Concatenated design columns of the given (or all) blocks."""
        blocks = [self.block(c, p).columns for c, p in (keys if keys is not None else self.block_keys)]
        return {k: np.concatenate([b[k] for b in blocks]) for k in blocks[0]} if blocks else {}


def _high_ratio(costs, profile, freqs: dict, total_ms: float) -> float:
    """The high end of the network's interval over its latency at ``freqs`` (1 where the profile has none).

    A split design's device part takes the whole network's ratio: the interval is multiplicative.
    """
    bounds = interval_points(costs, profile, {k: np.array([float(v)]) for k, v in freqs.items()},
                             latency_ms=np.array([total_ms]))
    return float(bounds[1][0]) / total_ms if bounds is not None and total_ms > 0 else 1.0


def _concat(a: dict, b: dict) -> dict:
    return {k: np.concatenate([a[k], np.asarray(b[k], dtype=float)]) for k in a}


def _default_delta(catalog, precision: str) -> float:
    """The catalog's default accuracy change (fraction) at ``precision`` for a network without an entry."""
    if precision in ("fp16", "bf16"):
        return float(catalog.defaults["fp16"]["delta"]) / 100.0
    if precision == "int8":
        return float(catalog.defaults["int8"]["standard"]) / 100.0
    return 0.0
