"""BERT-style encoders: BERT-tiny (Turc et al. 2019) and DistilBERT (Sanh et al. 2019)."""

from __future__ import annotations

import numpy as np

from ._builder import NetBuilder

__all__ = ["bert_encoder", "BERT_TINY", "DISTILBERT"]

#: (layers, hidden, heads, feed-forward, token types, pooler)
BERT_TINY = (2, 128, 2, 512, 2, True)
DISTILBERT = (6, 768, 12, 3072, 0, False)
_VOCAB, _POSITIONS = 30522, 512


def _embedding(b: NetBuilder, rows: int, dim: int, indices: np.ndarray) -> str:
    """A constant lookup (positions, token types): folded at load time, its table counted as parameters."""
    table = b._param("embedding", (rows, dim), fan_in=1)
    index = b._const("ids", indices)
    return b._node("Gather", [table, index], (*indices.shape, dim), axis=0)


def bert_encoder(b: NetBuilder, config: tuple, num_classes: int | None = None) -> list[str]:
    """Append a BERT encoder; ``b.input`` holds int64 token ids of shape (batch, sequence)."""
    layers, hidden, heads, ff, token_types, pooler = config
    batch, sequence = b.shape(b.input)
    x = b.gather_rows((_VOCAB, hidden), (batch, sequence))
    x = b.add(x, _embedding(b, _POSITIONS, hidden, np.arange(sequence, dtype=np.int64)[None, :]))
    if token_types:
        x = b.add(x, _embedding(b, token_types, hidden, np.zeros((1, sequence), np.int64)))
    x = b.layernorm(x)
    head_dim = hidden // heads
    scale = b._const("scale", np.float32(np.sqrt(head_dim)), np.float32)
    for _ in range(layers):
        split = lambda t: b.reshape(b.linear(x, hidden), (batch, sequence, heads, head_dim))  # noqa: E731
        q = b.transpose(split(x), (0, 2, 1, 3))
        k = b.transpose(split(x), (0, 2, 3, 1))
        v = b.transpose(split(x), (0, 2, 1, 3))
        scores = b._node("MatMul", [q, k], (batch, heads, sequence, sequence))
        probs = b.softmax(b._node("Div", [scores, scale], (batch, heads, sequence, sequence)))
        context = b._node("MatMul", [probs, v], (batch, heads, sequence, head_dim))
        context = b.reshape(b.transpose(context, (0, 2, 1, 3)), (batch, sequence, hidden))
        x = b.layernorm(b.add(b.linear(context, hidden), x))
        x = b.layernorm(b.add(b.linear(b.gelu(b.linear(x, ff)), hidden), x))
    outputs = [x]
    if pooler:
        first = b._node("Gather", [x, b._const("first", np.int64(0))], (batch, hidden), axis=1)
        outputs.append(b._node("Tanh", [b.gemm(first, hidden)], (batch, hidden)))
    return outputs
