"""The critical path of a mapped graph: the longest chain of executed layers, weighted by their costs.

The executed layers (``_mapping``) form a DAG: a layer depends on the executed layers that produce
its inputs, looking through layers the runtime elided, folded or fused away (their inputs stand
for their outputs). :func:`layer_paths` builds that DAG once, in topological order (Kahn's
algorithm, earliest-executed layer first); :func:`longest_path` weighs it with any per-layer costs,
one vector or several columns at once (one per operating point or coefficient set), in one pass
linear in layers plus edges (:func:`finish_times`);
:func:`critical_share` is the longest path's share of the layer sum that the ``critical_path``
network term (``_network_term``) uses. A cycle among executed layers (a model has none, but a
runtime's fusion and sibling merging can make one) is broken at its earliest-executed layer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._mapping import MappedGraph

__all__ = ["LayerPaths", "layer_paths", "longest_path", "critical_share", "finish_times"]


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class LayerPaths:
    """The executed layers' dependencies: ``order`` (topological) and each layer's predecessors (indices)."""

    order: np.ndarray
    preds: tuple[np.ndarray, ...]

    @property
    def size(self) -> int:
        return len(self.preds)


def layer_paths(mapped: MappedGraph) -> LayerPaths:
    """The DAG of ``mapped``'s executed layers (see the module docstring)."""
    graph = mapped.graph
    executed = {node: index for index, layer in enumerate(mapped.layers) for node in layer.nodes}
    producer = {tensor: layer for layer in graph.layers for tensor in layer.outputs}
    memo: dict[str, frozenset] = {}

    def sources(tensor: str) -> frozenset:
        """Executed layers whose outputs ``tensor`` carries (looking through layers that do not execute)."""
        found = memo.get(tensor)
        if found is not None:
            return found
        layer = producer.get(tensor)
        if layer is None:
            found = frozenset()
        elif layer.name in executed:
            found = frozenset((executed[layer.name],))
        else:
            memo[tensor] = frozenset()    # guards a cycle through non-executed layers
            found = frozenset().union(*(sources(t) for t in layer.inputs))
        memo[tensor] = found
        return found

    by_name = {layer.name: layer for layer in graph.layers}
    preds = []
    for index, layer in enumerate(mapped.layers):
        inside = set(layer.nodes)
        found: set = set()
        for node in layer.nodes:
            for tensor in by_name[node].inputs if node in by_name else ():
                if producer.get(tensor) is None or producer[tensor].name not in inside:
                    found |= sources(tensor)
        found.discard(index)
        preds.append(np.array(sorted(found), dtype=int))
    order = _topological(preds)
    position = np.empty(len(order), dtype=int)
    position[order] = np.arange(len(order))
    # edges a broken cycle left pointing forward are dropped: the DAG is the one the order runs
    preds = [before[position[before] < position[index]] for index, before in enumerate(preds)]
    return LayerPaths(order=order, preds=tuple(preds))


def _topological(preds: list) -> np.ndarray:
    """Kahn's algorithm, lowest execution index first; a cycle is broken at its earliest-executed layer.

    A runtime's fusion can make one (a kernel merged from siblings, one of which feeds a layer whose
    output another member absorbs): the layer that runs first then starts without waiting for the
    later ones, as it does in execution order.
    """
    import heapq

    n = len(preds)
    successors: list[list[int]] = [[] for _ in range(n)]
    waiting = [len(before) for before in preds]
    for index, before in enumerate(preds):
        for p in before:
            successors[int(p)].append(index)
    ready = [i for i in range(n) if waiting[i] == 0]
    heapq.heapify(ready)
    done = [False] * n
    order = []
    while len(order) < n:
        if not ready:                                  # a cycle: release the earliest-executed layer left
            index = next(i for i in range(n) if not done[i])
            waiting[index] = 0
            heapq.heappush(ready, index)
        index = heapq.heappop(ready)
        if done[index]:
            continue
        done[index] = True
        order.append(index)
        for s in successors[index]:
            waiting[s] -= 1
            if waiting[s] == 0 and not done[s]:
                heapq.heappush(ready, s)
    return np.array(order, dtype=int)


def longest_path(paths: LayerPaths, cost) -> np.ndarray | float:
    """Length of the longest path through the layers weighted by ``cost`` (shape ``(layers,)`` or ``(layers, k)``).

    A chain gives the sum of the costs.

    >>> chain = LayerPaths(order=np.array([0, 1, 2]), preds=(np.array([], int), np.array([0]), np.array([1])))
    >>> float(longest_path(chain, np.array([1.0, 2.0, 3.0])))
    6.0
    >>> fork = LayerPaths(order=np.array([0, 1, 2, 3]),
    ...                   preds=(np.array([], int), np.array([0]), np.array([0]), np.array([1, 2])))
    >>> float(longest_path(fork, np.array([1.0, 2.0, 5.0, 1.0])))   # 1 + max(2, 5) + 1
    7.0
    """
    cost = np.asarray(cost, dtype=float)
    if paths.size == 0:
        return np.zeros(cost.shape[1:]) if cost.ndim > 1 else 0.0
    if cost.ndim == 1:
        return max(finish_times(paths.order.tolist(), [p.tolist() for p in paths.preds], cost.tolist()))
    finish = np.zeros_like(cost)
    for index in paths.order:
        before = paths.preds[index]
        finish[index] = cost[index] + (finish[before].max(axis=0) if len(before) else 0.0)
    return finish.max(axis=0)


def finish_times(order: list, preds: list, cost: list) -> list:
    """Earliest finish of every layer when each starts once its predecessors are done (Python lists).

    The one-vector pass of :func:`longest_path` in plain Python (``order`` and ``preds`` as lists
    of ints, ``cost`` a list of floats): faster than arrays on graphs of a few hundred layers,
    which is what a fit over many networks needs.
    """
    finish = [0.0] * len(cost)
    for index in order:
        before = preds[index]
        finish[index] = cost[index] + (max(finish[p] for p in before) if before else 0.0)
    return finish


def critical_share(paths: LayerPaths, cost: np.ndarray) -> float:
    """The longest path's share of the layers' total cost (0 to 1; 1 for a chain or an empty graph)."""
    total = float(np.sum(cost))
    return 1.0 if total <= 0 else min(1.0, float(longest_path(paths, cost)) / total)
