"""NAS search spaces: NAS-Bench-201 (original and LatBench variants) and HW-NAS-Bench's FBNet space.

NB201 architectures are strings such as
``|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|``:
for each of a cell's nodes 1-3, the operation on the edge from each earlier node.

* ``nb201`` is the network NAS-Bench-201 trains (Dong & Yang, ICLR 2020): stem conv+BN, 3 stacks of 5
  cells (16/32/64 channels) joined by ResNet reduction blocks, BN+ReLU, global pooling, 10 classes;
  convolutions are ReLU-Conv-BN. HW-NAS-Bench and HELP measured this network.
* ``nb201-latbench`` is the network BRP-NAS's LatBench measured, re-implemented from the description of
  SamsungLabs/eagle's ``nasbench201/tf_model.py`` and ``utils.py``: the cell is rewritten into a graph of
  operation vertices (``none`` dropped, ``skip_connect`` replaced by direct connections, vertices off
  every input-output path pruned, see :func:`latbench_vertices`); Conv+ReLU without bias or batch
  norm; reductions add two 3x3 convolutions (stride 2, then 1) to 2x2 average pooling and a 1x1
  convolution. (shared/external/README.md mentions only the pooling branch; eagle's code has both.)
* ``fbnet`` is HW-NAS-Bench's FBNet space at CIFAR-100 size: 22 searchable MobileNetV2-style blocks, each
  one of 9 choices, in the macro-architecture the HW-NAS-Bench block table implies (stem 3->16 at 32x32;
  stages of 1, 4, 4, 4, 4, 4, 1 blocks with 16, 24, 32, 64, 112, 184, 352 channels; 1x1 conv to 1504,
  4x4 average pooling, 100 classes).
"""

from __future__ import annotations

import re

import numpy as np

from .._errors import ModelError
from .._messages import show
from ._builder import NetBuilder

__all__ = ["NB201_OPS", "parse_nb201", "random_nb201", "nb201", "latbench_vertices", "FBNET_CHOICES", "FBNET_LAYOUT", "parse_fbnet", "fbnet",
           "fbnet_block", "SPACES"]

NB201_OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")


def parse_nb201(arch: str) -> tuple[tuple[tuple[str, int], ...], ...]:
    """The edges of an NB201 cell: for nodes 1-3, the (operation, source node) pairs.

    >>> parse_nb201("|nor_conv_3x3~0|+|none~0|skip_connect~1|+|avg_pool_3x3~0|none~1|nor_conv_1x1~2|")[1]
    (('none', 0), ('skip_connect', 1))

    Raises
    ------
    ModelError
        If the string is not a valid NB201 architecture.
    """
    nodes = arch.strip().split("+")
    if len(nodes) != 3:
        raise ModelError(f"NB201 architecture {show(arch)} must have 3 nodes separated by '+', got {len(nodes)}")
    parsed = []
    for target, node in enumerate(nodes, start=1):
        edges = [e for e in node.strip("|").split("|") if e]
        if len(edges) != target:
            raise ModelError(f"NB201 architecture {show(arch)}: node {target} needs {target} edge(s), got {len(edges)}")
        cell = []
        for edge in edges:
            op, _, source = edge.partition("~")
            if op not in NB201_OPS or not source.isdigit() or int(source) >= target:
                raise ModelError(f"NB201 architecture {show(arch)}: bad edge {show(edge)}; operations: {', '.join(NB201_OPS)}, "
                                 f"sources 0..{target - 1}")
            cell.append((op, int(source)))
        parsed.append(tuple(cell))
    return tuple(parsed)


def random_nb201(rng) -> str:
    """A uniformly random NB201 architecture string, drawn with ``rng`` (a ``random.Random``).

    >>> import random
    >>> len(parse_nb201(random_nb201(random.Random(0))))
    3
    """
    return "+".join("|" + "|".join(f"{rng.choice(NB201_OPS)}~{source}" for source in range(target)) + "|"
                    for target in (1, 2, 3))


def _nb201_op(b: NetBuilder, x: str, op: str, c: int) -> str | None:
    if op == "none":
        return None
    if op == "skip_connect":
        return x
    if op == "avg_pool_3x3":
        return b.avgpool(x, 3, 1, pad=1)
    return b.bn(b.conv(b.relu(x), c, 1 if op == "nor_conv_1x1" else 3, bias=False))


def _nb201_cell(b: NetBuilder, x: str, cell) -> str:
    c = b.shape(x)[1]
    nodes = [x]
    for edges in cell:
        terms = [t for t in (_nb201_op(b, nodes[src], op, c) for op, src in edges) if t is not None]
        if not terms:  # every incoming edge is "none": the node is zero (PyTorch's Zero op computes x * 0)
            nodes.append(b.mul(x, b._const("zero", 0.0, np.float32)))
            continue
        nodes.append(_sum(b, terms))
    return nodes[-1]


def _pytorch_cell(b: NetBuilder, x: str, cell) -> str:
    """The cell as NB201's PyTorch ``InferCell`` runs it eagerly: every edge's operation executes.

    ``none`` is ``x.mul(0.)`` (so the operations before it stay live), ``skip_connect`` is the input
    itself, and each node is Python's ``sum()`` of its edges, ``0 + t1 + t2 ...``: the first term
    is added to the integer 0 (one more element-wise kernel).
    """
    c = b.shape(x)[1]
    nodes = [x]
    for edges in cell:
        terms = [b.mul(nodes[src], b._const("zero", 0.0, np.float32)) if op == "none" else
                 _nb201_op(b, nodes[src], op, c) for op, src in edges]
        nodes.append(_sum(b, [b.add(terms[0], b._const("zero", 0.0, np.float32))] + terms[1:]))
    return nodes[-1]


def _sum(b: NetBuilder, terms: list[str]) -> str:
    """The terms added left to right (one Add per extra term), as the cell's node sums are."""
    total = terms[0]
    for term in terms[1:]:
        total = b.add(total, term)
    return total


def latbench_vertices(cell) -> dict[int, tuple[str, tuple[int, ...]]] | None:
    """The operations LatBench's network executes for one cell, after its graph rewriting.

    LatBench (SamsungLabs/eagle) turns the cell's 6 edges into operation vertices 1-6 between an
    input vertex 0 and an output vertex 7 (vertex k+1 reads the node edge k starts from); drops
    ``none`` vertices with their connections; replaces each ``skip_connect`` vertex by direct
    connections from its predecessors to its successors (connections are sets: parallel paths
    merge); then removes every vertex not on a path from input to output. Each remaining vertex
    sums its inputs and applies its operation; the output vertex sums its inputs.

    Returns ``{vertex: (operation, predecessor vertices)}`` for the operation vertices and 7 (the
    output), or None when no path joins input and output (LatBench measured no network then).
    """
    edges = [(op, src, target) for target, node in enumerate(cell, start=1) for op, src in node]
    succ: dict[int, set[int]] = {v: set() for v in range(8)}
    for k, (_, src, _) in enumerate(edges, start=1):
        if src == 0:
            succ[0].add(k)
        else:  # the vertices of the edges that end in node ``src`` feed vertex k
            succ.update({j: succ[j] | {k} for j, (_, _, t) in enumerate(edges, start=1) if t == src})
    for k, (_, _, target) in enumerate(edges, start=1):
        if target == 3:
            succ[k].add(7)
    for k, (op, _, _) in enumerate(edges, start=1):
        preds = [v for v in succ if k in succ[v]]
        if op in ("none", "skip_connect"):
            for v in preds:
                succ[v].discard(k)
                if op == "skip_connect":
                    succ[v] |= succ[k]
            succ[k] = set()
    forward, stack = {0}, [0]
    while stack:
        for w in succ[stack.pop()] - forward:
            forward.add(w)
            stack.append(w)
    if 7 not in forward:
        return None
    backward, changed = {7}, True
    while changed:
        grown = backward | {v for v in succ if succ[v] & backward}
        changed, backward = grown != backward, grown
    live = forward & backward
    return {v: (edges[v - 1][0] if v < 7 else "output", tuple(sorted(u for u in live if v in succ[u])))
            for v in sorted(live - {0})}


def _latbench_cell(b: NetBuilder, x: str, vertices) -> str:
    c = b.shape(x)[1]
    values = {0: x}
    sums: dict[tuple[int, ...], str] = {}  # TensorFlow's common-subexpression elimination: one sum per input set
    for v, (op, preds) in vertices.items():
        if preds not in sums:
            sums[preds] = _sum(b, [values[u] for u in preds])
        total = sums[preds]
        if op == "avg_pool_3x3":
            total = b.avgpool(total, 3, 1, pad=1)
        elif op != "output":  # ReLU fused into the convolution, no bias, no batch norm
            total = b.relu(b.conv(total, c, 1 if op == "nor_conv_1x1" else 3, bias=False))
        values[v] = total
    return values[7]


def nb201(b: NetBuilder, arch: str, latbench: bool = False, num_classes: int = 10, eager: bool = False) -> list[str]:
    """Append an NB201 network (original, or LatBench's variant) for ``arch``.

    ``eager``: the original network's cells as PyTorch runs them (:func:`_pytorch_cell`) instead of
    with the operations that cannot reach the output left out.

    Raises
    ------
    ModelError
        For a LatBench architecture whose cell output is disconnected (LatBench has no network for it).
    """
    cell = parse_nb201(arch)
    if latbench:
        return _latbench(b, arch, cell, num_classes)
    x = b.bn(b.conv(b.input, 16, 3, bias=False))
    for stage, c in enumerate((16, 32, 64)):
        if stage:  # ResNet basic block: ReLU-Conv-BN(3x3, /2), ReLU-Conv-BN(3x3) + avgpool/2 -> 1x1 conv
            y = b.bn(b.conv(b.relu(x), c, 3, stride=2, bias=False))
            y = b.bn(b.conv(b.relu(y), c, 3, bias=False))
            x = b.add(b.conv(b.avgpool(x, 2, 2), c, 1, bias=False), y)
        for _ in range(5):
            x = _pytorch_cell(b, x, cell) if eager else _nb201_cell(b, x, cell)
    x = b.relu(b.bn(x))
    return [b.gemm(b.flatten(b.global_avgpool(x)), num_classes)]


def _latbench(b: NetBuilder, arch: str, cell, num_classes: int) -> list[str]:
    vertices = latbench_vertices(cell)
    if vertices is None:
        raise ModelError(f"NB201 architecture {arch}: no path joins the cell's input and output, so LatBench "
                         f"built and measured no network for it; pick an architecture with a connected cell")
    x = b.relu(b.conv(b.input, 16, 3, bias=False))
    for stage, c in enumerate((16, 32, 64)):
        if stage:  # 2x2 average pooling + 1x1 conv, added to two 3x3 convs (stride 2, then 1); no activation
            residual = b.conv(b.avgpool(x, 2, 2), c, 1, bias=False)
            x = b.add(b.conv(b.conv(x, c, 3, stride=2, bias=False), c, 3, bias=False), residual)
        for _ in range(5):
            x = _latbench_cell(b, x, vertices)
    return [b.gemm(b.flatten(b.global_avgpool(x)), num_classes)]


#: The 9 block choices, in HW-NAS-Bench's index order (op_idx 0-8 in HELP's FBNet file).
FBNET_CHOICES = ("k3_e1", "k3_e1_g2", "k3_e3", "k3_e6", "k5_e1", "k5_e1_g2", "k5_e3", "k5_e6", "skip")
#: (input size, in channels, out channels, stride) of the 22 searchable positions at CIFAR size.
FBNET_LAYOUT = (
    (32, 16, 16, 1),
    (32, 16, 24, 1), (32, 24, 24, 1), (32, 24, 24, 1), (32, 24, 24, 1),
    (32, 24, 32, 2), (16, 32, 32, 1), (16, 32, 32, 1), (16, 32, 32, 1),
    (16, 32, 64, 2), (8, 64, 64, 1), (8, 64, 64, 1), (8, 64, 64, 1),
    (8, 64, 112, 1), (8, 112, 112, 1), (8, 112, 112, 1), (8, 112, 112, 1),
    (8, 112, 184, 2), (4, 184, 184, 1), (4, 184, 184, 1), (4, 184, 184, 1),
    (4, 184, 352, 1),
)


def parse_fbnet(arch: str) -> tuple[str, ...]:
    """22 block choices from ``k5_e6 skip ...`` (space- or dash-separated names) or ``7-8-1-...`` (indices).

    Raises
    ------
    ModelError
        If there are not 22 valid choices.
    """
    tokens = [t for t in re.split(r"[\s,\-]+", arch.strip()) if t]
    choices = []
    for token in tokens:
        if token.isdigit() and int(token) < len(FBNET_CHOICES):
            choices.append(FBNET_CHOICES[int(token)])
        elif token in FBNET_CHOICES:
            choices.append(token)
        else:
            raise ModelError(f"FBNet architecture {show(arch)}: unknown block {show(token)}; choices: {', '.join(FBNET_CHOICES)} "
                             "or their indices 0-8")
    if len(choices) != len(FBNET_LAYOUT):
        raise ModelError(f"FBNet architecture {show(arch)} has {len(choices)} blocks; the space has {len(FBNET_LAYOUT)}")
    return tuple(choices)


def _fbnet_block(b: NetBuilder, x: str, choice: str, c_out: int, stride: int) -> str:
    c_in = b.shape(x)[1]
    if choice == "skip":
        if stride == 1 and c_in == c_out:
            return x
        return b.bn(b.conv(x, c_out, 1, stride=stride, bias=False))
    parts = choice.split("_")
    kernel, expand, groups = int(parts[0][1:]), int(parts[1][1:]), int(parts[2][1:]) if len(parts) > 2 else 1
    mid = c_in * expand
    y = b.relu(b.bn(b.conv(x, mid, 1, groups=groups, bias=False)))
    if groups > 1:
        y = b.channel_shuffle(y, groups)
    y = b.relu(b.bn(b.conv(y, mid, kernel, stride=stride, groups=mid, bias=False)))
    y = b.bn(b.conv(y, c_out, 1, groups=groups, bias=False))
    return b.add(x, y) if stride == 1 and c_in == c_out else y


def fbnet(b: NetBuilder, arch: str, num_classes: int = 100) -> list[str]:
    """Append an FBNet-space network (HW-NAS-Bench, CIFAR-100 size) for ``arch``."""
    choices = parse_fbnet(arch)
    x = b.relu(b.bn(b.conv(b.input, 16, 3, bias=False)))
    for choice, (_, _, c_out, stride) in zip(choices, FBNET_LAYOUT):
        x = _fbnet_block(b, x, choice, c_out, stride)
    x = b.relu(b.bn(b.conv(x, 1504, 1, bias=False)))
    return [b.gemm(b.flatten(b.global_avgpool(x)), num_classes)]


_BLOCK_KEY = re.compile(r"^(ConvBlock|Skip|ConvNorm|AvgP|FC)((?:_[A-Za-z]+\d+)+)$")


def fbnet_block(b_factory, key: str):
    """One block of HW-NAS-Bench's FBNet lookup table as its own network, from the table's key.

    Keys: ``ConvBlock_H{}_W{}_Cin{}_Cout{}_exp{}_kernel{}_stride{}_group{}`` (inverted residual),
    ``Skip_H{}_W{}_Cin{}_Cout{}_stride{}``, ``ConvNorm_H{}_W{}_Cin{}_Cout{}_kernel{}_stride{}_group{}``
    (convolution, batch norm, ReLU), ``AvgP_H{}_W{}_Cin{}_Cout{}_kernel{}_stride{}`` and
    ``FC_Cin{}_Cout{}``. ``b_factory(input_shape)`` returns a fresh NetBuilder.

    Raises
    ------
    ModelError
        For a key of another shape.
    """
    match = _BLOCK_KEY.match(key)
    if match is None:
        raise ModelError(f"not an FBNet block key: {show(key)}")
    kind = match.group(1)
    fields = {name: int(value) for name, value in re.findall(r"_([A-Za-z]+)(\d+)", match.group(2))}
    try:
        if kind == "FC":
            b = b_factory((fields["Cin"],))
            return b, [b.gemm(b.input, fields["Cout"])]
        b = b_factory((fields["Cin"], fields["H"], fields["W"]))
        if kind == "ConvBlock":
            choice = f"k{fields['kernel']}_e{fields['exp']}" + ("_g2" if fields["group"] == 2 else "")
            return b, [_fbnet_block(b, b.input, choice, fields["Cout"], fields["stride"])]
        if kind == "Skip":
            return b, [_fbnet_block(b, b.input, "skip", fields["Cout"], fields["stride"])]
        if kind == "ConvNorm":
            return b, [b.relu(b.bn(b.conv(b.input, fields["Cout"], fields["kernel"], stride=fields["stride"],
                                          groups=fields["group"], bias=False)))]
        return b, [b.avgpool(b.input, fields["kernel"], fields["stride"])]
    except KeyError as exc:
        raise ModelError(f"FBNet block key {show(key)} lacks {exc}") from None


#: space name -> (builder(b, arch), input shape without batch)
SPACES = {
    "nb201": (lambda b, arch: nb201(b, arch), (3, 32, 32)),
    "nb201-latbench": (lambda b, arch: nb201(b, arch, latbench=True), (3, 32, 32)),
    "nb201-eager": (lambda b, arch: nb201(b, arch, eager=True), (3, 32, 32)),
    "fbnet": (fbnet, (3, 32, 32)),
}
