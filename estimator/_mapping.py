"""Mapping model: how a runtime turns the model's layers into executed kernels.

Fusion rules are data (in each profile): a rule names the *primary* operators it
starts from, the *followers* it may swallow downstream (batch norm, activations,
residual adds, requantization) and the *input producers* it may swallow upstream
(activation dequantization in QDQ graphs). Operator classes listed in ``elide``
(shape-only ops) vanish entirely, as runtimes compile them away.

A follower is fused only when the chain's tensor feeds it and nothing else, is
not a graph output, and every other activation input of the follower is ready
before the chain starts (so the fused kernel can run where the primary ran).
The executed layer keeps, in ``nodes``, the names of every model layer inside it.

Memory traffic of a fused kernel is what crosses its boundary: activations read
from outside the chain, all constants, and outputs consumed outside it.

``nchwc`` (onnxruntime's blocked layout on x86 CPUs, ``_nchwc``): convolutions off the blocked path become
layers of the generic classes, blocked layers whose channels the runtime pads to whole blocks compute
and move the padding, and the reorders the runtime inserts around the blocked region become ``reorder``
layers (``ReorderInput`` before the layer that reads the converted tensor, ``ReorderOutput`` after the
layer that wrote it), each reading and writing the tensor once.

``merge_siblings`` (horizontal fusion, as TensorRT does): executed layers whose primary is one of
these operator types and read the same activation tensor with identical attributes run as one
kernel, with whatever each member's chain absorbed. The merged kernel reads the shared input once
and writes all the outputs; its work and weights are the sum of its members'.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from .._args import typed
from .._messages import show
from ._ir import OP_CLASSES, Graph, Layer
from ._nchwc import Nchwc, NchwcLayout, nchwc_layout
from ._runtime_rewrites import CopyElision, Winograd, grow_subgraph, rewrite_layers, winograd_padding, winograd_scale

__all__ = ["FusionRule", "Mapping", "ExecLayer", "MappedGraph", "map_graph", "NO_FUSION", "CopyElision", "Winograd",
           "layer_bytes", "Nchwc"]


@dataclass(frozen=True, slots=True, kw_only=True)
class FusionRule:
    """One fusion pattern.

    Attributes
    ----------
    name : str
        Label shown in reports (``conv-bn-act``).
    primary : tuple of str
        Operator types a fused kernel starts from.
    followers : tuple of str
        Operator types it may absorb downstream, in any order.
    max_followers : int
        Longest downstream chain absorbed.
    absorb_inputs : tuple of str
        Operator types producing the primary's activation inputs that it absorbs.
    subgraph : bool
        Followers may form a pointwise subgraph (SiLU and HardSwish diamonds), not only a chain
        (see ``_runtime_rewrites``).
    source : str
        Where the rule comes from (runtime documentation, measurement).
    """

    name: str
    primary: tuple[str, ...]
    followers: tuple[str, ...] = ()
    max_followers: int = 4
    absorb_inputs: tuple[str, ...] = ()
    source: str = ""
    subgraph: bool = False

    def __post_init__(self) -> None:
        if not self.primary:
            raise ValueError(f"fusion rule {show(self.name)}: primary must list at least one operator type")
        if not isinstance(self.max_followers, int) or not 0 <= self.max_followers <= 64:
            raise ValueError(f"fusion rule {show(self.name)}: max_followers must be an int in [0, 64], got {show(self.max_followers)}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Mapping:
    """A runtime's mapping model: elided operator classes and fusion rules, tried in order.

    ``fold``, ``copy_elision`` and ``winograd`` are described in ``_runtime_rewrites``. ``weight_storage``
    lists the operator types whose weights the runtime stores at ``weight_storage_bits`` when the layer
    runs at a wider precision (ncnn keeps fully connected weights in fp16 and converts them as it loads
    them): those weights move fewer bytes (:func:`layer_bytes`); the arithmetic is unchanged. ``nchwc``
    is the runtime's blocked layout (``_nchwc``; None: no such layout, every convolution keeps its class).
    """

    runtime: str = "unfused"
    elide: tuple[str, ...] = ("shape",)
    rules: tuple[FusionRule, ...] = ()
    merge_siblings: tuple[str, ...] = ()
    merge_source: str = ""
    fold: tuple[str, ...] = ()
    fold_source: str = ""
    copy_elision: tuple[CopyElision, ...] = ()
    winograd: Winograd | None = None
    weight_storage: tuple[str, ...] = ()
    weight_storage_bits: int = 16
    weight_storage_source: str = ""
    nchwc: Nchwc | None = None

    def __post_init__(self) -> None:
        if self.weight_storage and self.weight_storage_bits not in (8, 16):
            raise ValueError(f"mapping.weight_storage: bits must be 8 or 16, got {show(self.weight_storage_bits)}")
        for op_class in self.elide:
            if op_class not in OP_CLASSES:
                raise ValueError(f"mapping.elide: unknown operator class {show(op_class)}; known: {OP_CLASSES}")

    def cited_sources(self) -> set[str]:
        """The source keys this mapping's rules and rewrites cite (a profile must define each)."""
        return ({rule.source for rule in self.rules} | {c.source for c in self.copy_elision}
                | ({self.merge_source, self.fold_source, self.weight_storage_source,
                    self.nchwc.source if self.nchwc else ""} - {""}))


#: Every model layer runs as its own kernel; only shape-only ops vanish.
NO_FUSION = Mapping()


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecLayer:
    """One executed kernel: a model layer or a fused chain of them."""

    name: str
    op_type: str
    op_class: str
    nodes: tuple[str, ...]
    rule: str
    output_shape: tuple[int, ...]
    macs: int
    flops: int
    act_in_elems: int
    weight_elems: int
    act_out_elems: int
    params: int
    geometry: tuple[tuple[str, int], ...]
    precision: str | None
    flags: tuple[str, ...]
    work_scale: float = 1.0   # share of the multiply-adds the runtime executes (Winograd), for compute time only
    winograd_padding: float = 0.0   # work added by whole Winograd output tiles (>= 1) where Winograd applies, else 0

    def dim(self, name: str, default: int = 1) -> int:
        for key, value in self.geometry:
            if key == name:
                return value
        return default


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class MappedGraph:
    """The executed graph of one model under one mapping model, with feature arrays.

    Arrays are aligned with ``layers`` and computed once, so that estimates at
    many precisions and operating points cost only arithmetic.
    """

    graph: Graph
    mapping: Mapping
    layers: tuple[ExecLayer, ...]
    elided: tuple[str, ...]
    op_class: np.ndarray
    flops: np.ndarray
    elements: np.ndarray        # activations in + weights + activations out
    weight_elems: np.ndarray    # the weights among them
    out_elems: np.ndarray       # the outputs written among them
    int8_layer: np.ndarray      # layers fixed to int8 by the model
    c_in: np.ndarray
    c_out: np.ndarray
    h_out: np.ndarray
    w_out: np.ndarray
    work_scale: np.ndarray | None = None  # per layer, share of multiply-adds executed (None: all ones)
    winograd_padding: np.ndarray | None = None  # per layer, Winograd tile padding (0: not a Winograd candidate)
    weight_bits: np.ndarray | None = None   # per layer, the bits its weights are stored at at most (0: as the layer runs)


def layer_bytes(mapped: MappedGraph, bits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bytes each executed layer moves, and its weights' share, when layer ``i`` runs at ``bits[i]``.

    Weights the runtime stores narrower (``Mapping.weight_storage``) move at their storage width.
    """
    bits = np.broadcast_to(np.asarray(bits, dtype=float), mapped.weight_elems.shape)
    weight_bits = bits if mapped.weight_bits is None else np.where(
        mapped.weight_bits > 0, np.minimum(bits, mapped.weight_bits), bits)
    weight_bytes = mapped.weight_elems * weight_bits / 8.0
    return (mapped.elements - mapped.weight_elems) * bits / 8.0 + weight_bytes, weight_bytes


def _chain_layer(chain: list[Layer], rule: str, consumers: dict, graph_outputs: set,
                 winograd: Winograd | None = None) -> ExecLayer:
    inside = {out for layer in chain for out in layer.outputs}
    members = {layer.name for layer in chain}
    act_in = 0
    read: set[str] = set()
    for layer in chain:
        for tensor, shape in zip(layer.inputs, layer.input_shapes):
            if tensor not in inside and tensor not in read:   # a kernel reads each outside tensor once
                act_in += _elems(shape)
                read.add(tensor)
    act_out = 0
    for layer in chain:
        for tensor, shape in zip(layer.outputs, layer.output_shapes):
            outside = [c for c in consumers.get(tensor, ()) if c.name not in members]
            if outside or tensor in graph_outputs or layer is chain[-1]:
                act_out += _elems(shape)
    # the layer the kernel is costed as: not an absorbed dequantization, reshape or padding
    anchor = next((layer for layer in chain if layer.op_class not in ("quant", "shape", "data_movement")), chain[0])
    precision = "int8" if any(layer.precision == "int8" for layer in chain) else None
    flags = {flag for layer in chain for flag in layer.flags}
    scale = winograd_scale(anchor, winograd)
    if scale != 1.0:
        flags.add("winograd")
    return ExecLayer(
        name=anchor.name,
        op_type="+".join(layer.op_type for layer in chain),
        op_class=anchor.op_class,
        nodes=tuple(layer.name for layer in chain),
        rule=rule,
        output_shape=chain[-1].output_shapes[0] if chain[-1].output_shapes else (),
        macs=sum(layer.macs for layer in chain),
        flops=sum(layer.flops for layer in chain),
        act_in_elems=act_in,
        weight_elems=sum(layer.weight_elems for layer in chain),
        act_out_elems=act_out,
        params=sum(layer.params for layer in chain),
        geometry=anchor.geometry,
        precision=precision,
        flags=tuple(sorted(flags)),
        work_scale=scale,
        winograd_padding=winograd_padding(anchor, winograd),
    )


def _depends_on(layer: Layer, chain: list[Layer], consumers: dict, position: dict) -> bool:
    """True when ``layer`` is downstream of a chain member (so it cannot run before the chain)."""
    limit = position[layer.name]
    stack = [member for member in chain]
    seen = {member.name for member in chain}
    while stack:
        current = stack.pop()
        for tensor in current.outputs:
            for user in consumers.get(tensor, ()):
                if user.name == layer.name:
                    return True
                if user.name not in seen and position[user.name] < limit:
                    seen.add(user.name)
                    stack.append(user)
    return False


def _elems(shape) -> int:
    count = 1
    for dim in shape:
        count *= dim
    return count


@typed
def map_graph(graph: Graph, mapping: Mapping = NO_FUSION) -> MappedGraph:
    """Apply a mapping model to a graph.

    Parameters
    ----------
    graph : Graph
    mapping : Mapping
        Fusion rules and elided classes, usually ``profile.mapping``.

    Returns
    -------
    MappedGraph
        Executed layers in execution order, the names of elided layers, and
        feature arrays for the cost models.

    Examples
    --------
    >>> from edgeperf.estimator import Graph
    >>> map_graph(Graph(name="empty", layers=())).layers
    ()
    """
    layers = graph.layers
    graph_outputs = {name for name, _ in graph.outputs}
    rewritten: tuple[str, ...] = ()
    if mapping.fold or mapping.copy_elision:   # layers the runtime folds or whose copies it never makes
        kept, rewritten, graph_outputs = rewrite_layers(layers, mapping.fold, mapping.copy_elision, graph_outputs)
        layers = tuple(kept)
    consumers: dict[str, list[Layer]] = {}
    for layer in layers:
        for tensor in layer.inputs:
            consumers.setdefault(tensor, []).append(layer)
    owner, chains = _fusion_chains(layers, mapping, consumers, graph_outputs)
    executed, elided = _executed_layers(graph.layers, layers, set(rewritten), mapping, owner, chains, consumers,
                                        graph_outputs)
    if mapping.nchwc is not None:
        executed = _with_nchwc(executed, nchwc_layout(layers, mapping.nchwc, graph_outputs))
    return _with_arrays(graph, mapping, tuple(executed), tuple(elided))


def _fusion_chains(layers, mapping: Mapping, consumers: dict, graph_outputs: set):
    """The fused chains, first pass in execution order: each primary's absorbed inputs and followers.

    Returns the owner (primary layer name) of every layer in a chain, and each primary's chain
    (its layers, in order) with the name of the rule that made it.
    """
    position = {layer.name: i for i, layer in enumerate(layers)}
    producer = {out: layer for layer in layers for out in layer.outputs}
    elide = set(mapping.elide)
    owner: dict[str, str] = {}            # layer name -> primary layer name
    chains: dict[str, tuple[list[Layer], str]] = {}
    for layer in layers:
        if layer.name in owner or layer.op_class in elide:
            continue
        rule = next((r for r in mapping.rules if layer.op_type in r.primary), None)
        if rule is None:
            continue
        chain = [layer]
        for tensor in layer.inputs:
            source = producer.get(tensor)
            if (source is not None and source.op_type in rule.absorb_inputs and source.name not in owner
                    and all(c.name == layer.name for c in consumers.get(tensor, ()))
                    and len(source.outputs) == 1 and tensor not in graph_outputs):
                chain.insert(0, source)
        start = min(position[member.name] for member in chain)
        tail = layer
        followers = 0
        if rule.subgraph:
            chain = grow_subgraph(chain, rule.followers, rule.max_followers, consumers, producer, position, owner,
                                  graph_outputs, lambda layer, group: _depends_on(layer, group, consumers, position))
            followers = rule.max_followers   # the subgraph search replaces the chain walk below
        while followers < rule.max_followers:
            if len(tail.outputs) != 1 or tail.outputs[0] in graph_outputs:
                break
            users = consumers.get(tail.outputs[0], [])
            if len(users) != 1:
                break
            nxt = users[0]
            if nxt.op_type not in rule.followers or nxt.name in owner:
                break
            ready = all(
                t == tail.outputs[0] or t not in producer or position[producer[t].name] < start
                or not _depends_on(producer[t], chain, consumers, position)
                for t in nxt.inputs
            )
            if not ready:
                break
            chain.append(nxt)
            tail = nxt
            followers += 1
        if len(chain) > 1:
            for member in chain:
                owner[member.name] = layer.name
            chains[layer.name] = (chain, rule.name)
    return owner, chains


def _executed_layers(original, layers, rewritten: set, mapping: Mapping, owner: dict, chains: dict, consumers: dict,
                     graph_outputs: set):
    """Second pass: one executed layer per chain or unfused layer, elided ones named, siblings merged.

    ``original`` are the graph's layers in order; ``layers`` the same after the runtime's rewrites
    (inputs rewired around the ``rewritten`` ones, which are named as elided).
    """
    executed: list[ExecLayer] = []
    elided: list[str] = []
    siblings: dict[tuple, int] = {}  # (input tensor, operator type, attributes) -> index in executed
    merge = set(mapping.merge_siblings)
    elide = set(mapping.elide)
    position = {layer.name: i for i, layer in enumerate(layers)}
    for layer in original:
        if layer.name in rewritten:
            elided.append(layer.name)
            continue
        layer = layers[position[layer.name]]
        if layer.name in chains:
            chain, rule_name = chains[layer.name]
        elif layer.name in owner:
            continue
        elif layer.op_class in elide:
            elided.append(layer.name)
            continue
        else:
            chain, rule_name = [layer], ""
        kernel = _chain_layer(chain, rule_name, consumers, graph_outputs, mapping.winograd)
        if layer.op_type in merge and chain[0] is layer and len(layer.inputs) == 1:
            key = (layer.inputs[0], layer.op_type, layer.attrs)
            if key in siblings:
                executed[siblings[key]] = _merged(executed[siblings[key]], kernel)
                continue
            siblings[key] = len(executed)
        executed.append(kernel)
    return executed, elided


def _with_nchwc(executed: list[ExecLayer], layout: NchwcLayout) -> list[ExecLayer]:
    """Executed layers with generic convolutions and blocked normalisations relabelled, and the runtime's reorders."""
    out: list[ExecLayer] = []
    for kernel in executed:
        for node in kernel.nodes:
            out += [_reorder(node, "ReorderInput", tensor, shape) for tensor, shape in layout.reorder_in.get(node, ())]
        generic = layout.generic.get(kernel.name)
        if kernel.name in layout.norm_as_dwconv and kernel.op_class == "norm":
            kernel = dataclasses.replace(kernel, op_class="dwconv", macs=max(kernel.macs, kernel.act_out_elems),
                                         flags=tuple(sorted({*kernel.flags, "nchwc-norm-dwconv"})))
        if generic is not None and kernel.op_class in ("conv", "dwconv"):
            kernel = dataclasses.replace(kernel, op_class=generic, flags=tuple(sorted({*kernel.flags, "nchwc-generic"})))
        if kernel.name in layout.padded:
            kernel = _padded(kernel, *layout.padded[kernel.name])
        out.append(kernel)
        for node in kernel.nodes:
            out += [_reorder(node, "ReorderOutput", tensor, shape) for tensor, shape in layout.reorder_out.get(node, ())]
    return out


def _padded(kernel: ExecLayer, grow_in: float, grow_out: float) -> ExecLayer:
    """A blocked kernel whose channels the runtime pads to whole blocks: it computes and moves the padding too.

    A dense convolution's work grows with both its input and its output channels; a depthwise one's,
    a pooling's and an element-wise one's with its channels (``grow_out``). Reads grow with
    ``grow_in``, writes with ``grow_out``.
    """
    grow_work = grow_in * grow_out if kernel.op_class == "conv" and kernel.dim("groups") == 1 else grow_out
    return dataclasses.replace(
        kernel, macs=round(kernel.macs * grow_work), flops=round(kernel.flops * grow_work),
        act_in_elems=round(kernel.act_in_elems * grow_in), act_out_elems=round(kernel.act_out_elems * grow_out),
        weight_elems=round(kernel.weight_elems * grow_work), flags=tuple(sorted({*kernel.flags, "nchwc-padded"})))


def _reorder(node: str, op_type: str, tensor: str, shape: tuple) -> ExecLayer:
    """A layout reorder the runtime inserts: it reads and writes the tensor once, and belongs to ``node``."""
    elems = _elems(shape)
    return ExecLayer(name=f"{tensor}:{op_type}", op_type=op_type, op_class="reorder", nodes=(node,), rule="nchwc",
                     output_shape=shape, macs=0, flops=0, act_in_elems=elems, weight_elems=0, act_out_elems=elems,
                     params=0, geometry=(), precision=None, flags=("nchwc-reorder",))


def _merged(first: ExecLayer, other: ExecLayer) -> ExecLayer:
    """Two sibling kernels (same input, same attributes) as one: the input is read once."""
    c_out = first.dim("c_out") + other.dim("c_out")
    shape = first.output_shape
    return ExecLayer(
        name=first.name, op_type=first.op_type, op_class=first.op_class, nodes=first.nodes + other.nodes,
        rule="+".join(dict.fromkeys(r for r in (first.rule, "merge-siblings") if r)),
        output_shape=(shape[0], shape[1] + other.output_shape[1], *shape[2:]) if len(shape) > 1 else shape,
        macs=first.macs + other.macs, flops=first.flops + other.flops, act_in_elems=first.act_in_elems,
        weight_elems=first.weight_elems + other.weight_elems, act_out_elems=first.act_out_elems + other.act_out_elems,
        params=first.params + other.params,
        geometry=tuple((k, c_out if k == "c_out" else v) for k, v in first.geometry),
        precision=first.precision, flags=tuple(sorted(set(first.flags) | set(other.flags))),
        work_scale=(first.work_scale * first.macs + other.work_scale * other.macs) / max(first.macs + other.macs, 1),
        winograd_padding=max(first.winograd_padding, other.winograd_padding),
    )


def _with_arrays(graph: Graph, mapping: Mapping, executed: tuple[ExecLayer, ...], elided: tuple[str, ...]) -> MappedGraph:
    n = len(executed)
    elements = np.fromiter((e.act_in_elems + e.weight_elems + e.act_out_elems for e in executed), float, n)
    int8 = np.fromiter((e.precision == "int8" for e in executed), bool, n)

    def dim(name):
        return np.fromiter((max(e.dim(name), 1) for e in executed), float, n)

    return MappedGraph(
        graph=graph,
        mapping=mapping,
        layers=executed,
        elided=elided,
        op_class=np.array([e.op_class for e in executed], dtype=object),
        flops=np.fromiter((e.flops for e in executed), float, n),
        elements=elements,
        weight_elems=np.fromiter((e.weight_elems for e in executed), float, n),
        out_elems=np.fromiter((e.act_out_elems for e in executed), float, n),
        int8_layer=int8,
        c_in=dim("c_in"),
        c_out=dim("c_out"),
        h_out=dim("h_out"),
        w_out=dim("w_out"),
        work_scale=np.fromiter((e.work_scale for e in executed), float, n),
        winograd_padding=np.fromiter((e.winograd_padding for e in executed), float, n),
        weight_bits=np.fromiter((mapping.weight_storage_bits if e.op_type.split("+")[0] in mapping.weight_storage else 0
                                 for e in executed), float, n),
    )
