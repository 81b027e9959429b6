"""What fitting the ``critical_path`` network term needs: each network's layers, their DAG, and path designs.

The term (``estimator._network_term``) makes a network's time ``(1 - p) (S + F) + p (C + F)``, with
``S`` the layer sum, ``F`` the fixed work, and ``C`` the longest path through the executed layers
weighted by their fitted costs. ``S`` is linear in the coefficients ``w`` (the fit's design row
``x``); ``C`` is the maximum over paths of sums that are linear in ``w``, so for a fixed choice of
path it is linear too: ``C = x_path w``, with ``x_path`` the design row of the path's layers alone.
The fit therefore chooses each network's path at a plain fit's coefficients, solves the linear
problem for ``(1 - p) x + p x_path`` (:func:`path_rows`), and predicts with the true longest path
at the solved coefficients (:func:`longest_paths`), as the estimator does.

Layer features are kept in the raw five columns per class of ``_networks.COLUMNS``; a fit
variant's design is the raw design times a column map ``M`` (one memory term folds three columns
into one; classes whose size or whole time is held at the base model are cleared), so a layer's
cost under the variant's coefficients ``w`` is its raw features times ``M w``. Work a variant
holds fixed (the classifier's base time, classes the data cannot identify) is counted as serial:
on the critical path, like the per-inference overhead (an assumption; in NB201 and FBNet networks
those layers are on every path).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..estimator import LayerPaths, finish_times

__all__ = ["NetworkLayers", "path_rows", "longest_paths"]


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class NetworkLayers:
    """Per network: each executed layer's class (index into the fit's classes), raw features and dependencies."""

    classes: tuple            # per network: int array (layers,)
    feats: tuple              # per network: float array (layers, 5)
    paths: tuple              # per network: (topological order, predecessors), lists of ints
    n_classes: int
    signatures: tuple = ()    # per network: int array (layers,), index into signature_names (empty: not known)
    signature_names: tuple = ()   # the exact layer signatures (``estimator.layer_signature``) the indices name

    @staticmethod
    def dag(paths: LayerPaths) -> tuple:
        """A :class:`~edgeperf.estimator.LayerPaths` as this class keeps it (Python lists: small graphs, fast loops)."""
        return paths.order.tolist(), [p.tolist() for p in paths.preds]

    def take(self, rows) -> NetworkLayers:
        rows = [int(r) for r in rows]
        return NetworkLayers(classes=tuple(self.classes[r] for r in rows), feats=tuple(self.feats[r] for r in rows),
                             paths=tuple(self.paths[r] for r in rows), n_classes=self.n_classes,
                             signatures=tuple(self.signatures[r] for r in rows) if self.signatures else (),
                             signature_names=self.signature_names)

    def __len__(self) -> int:
        return len(self.classes)

    def costs(self, w_raw: np.ndarray, residual_ms: np.ndarray | None = None) -> list:
        """Each network's per-layer costs under raw coefficients ``w_raw`` (5 per class).

        ``residual_ms`` (one per signature name, ``_signature_fit``) is added to each layer of that signature.
        """
        table = np.asarray(w_raw, dtype=float).reshape(self.n_classes, 5)
        costs = [(feats * table[classes]).sum(axis=1) for classes, feats in zip(self.classes, self.feats)]
        if residual_ms is None or not self.signatures:
            return costs
        return [cost + residual_ms[signatures] for cost, signatures in zip(costs, self.signatures)]

    def signature_counts(self) -> np.ndarray:
        """Layers of each signature per network: (networks, signature names)."""
        out = np.zeros((len(self.classes), len(self.signature_names)))
        for row, signatures in enumerate(self.signatures):
            np.add.at(out[row], signatures, 1.0)
        return out


def path_rows(layers: NetworkLayers, w_raw: np.ndarray) -> np.ndarray:
    """Raw design rows (networks x 5 per class) of each network's longest path under ``w_raw``."""
    rows = np.zeros((len(layers), layers.n_classes * 5))
    for row, (paths, cost, classes, feats) in enumerate(zip(layers.paths, layers.costs(w_raw), layers.classes,
                                                            layers.feats)):
        on = _path_mask(paths, cost.tolist())
        block = rows[row].reshape(layers.n_classes, 5)
        np.add.at(block, classes[on], feats[on])
    return rows


def _path_mask(paths: tuple, cost: list) -> np.ndarray:
    mask = np.zeros(len(cost), dtype=bool)
    if not cost:
        return mask
    finish = finish_times(paths[0], paths[1], cost)
    index = int(np.argmax(finish))
    while True:
        mask[index] = True
        before = paths[1][index]
        if not before:
            return mask
        index = max(before, key=finish.__getitem__)


def longest_paths(layers: NetworkLayers, w_raw: np.ndarray, residual_ms: np.ndarray | None = None) -> np.ndarray:
    """Each network's longest-path length (ms) under raw coefficients ``w_raw`` (and per-signature
    residuals ``residual_ms``): the estimator's ``C``."""
    out = np.zeros(len(layers))
    for row, (paths, cost) in enumerate(zip(layers.paths, layers.costs(w_raw, residual_ms))):
        values = cost.tolist()
        if not values:
            continue
        out[row] = max(finish_times(paths[0], paths[1], values))
    return out
