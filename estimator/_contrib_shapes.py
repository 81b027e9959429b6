"""Output shapes of onnxruntime contrib operators (domain ``com.microsoft``) that onnx cannot infer.

onnx's shape inference knows only the standard domains, so a model quantized by
onnxruntime's tools in QOperator format (QLinearAdd, QGemm, ...) would lose every
shape after its first contrib operator. Each rule maps input shapes and
attributes to output shapes, following the operator's definition in
onnxruntime's ContribOperators documentation.
"""

from __future__ import annotations

import numpy as np

__all__ = ["CONTRIB_SHAPES"]


def _same_as_first(shapes, attrs):
    return [shapes[0]]


def _broadcast(i: int, j: int):
    def rule(shapes, attrs):
        return [tuple(int(d) for d in np.broadcast_shapes(shapes[i], shapes[j]))]

    return rule


def _matmul(i: int, j: int):
    def rule(shapes, attrs):
        a, b = shapes[i], shapes[j]
        batch = np.broadcast_shapes(a[:-2], b[:-2]) if len(a) > 2 or len(b) > 2 else ()
        rows = (a[-2],) if len(a) >= 2 else ()
        cols = (b[-1],) if len(b) >= 2 else ()
        return [tuple(int(d) for d in (*batch, *rows, *cols))]

    return rule


def _qgemm(shapes, attrs):
    a, b = shapes[0], shapes[3]
    m = a[1] if attrs.get("transA", 0) else a[0]
    n = b[0] if attrs.get("transB", 0) else b[1]
    return [(m, n)]


def _global_pool(shapes, attrs):
    x = shapes[0]
    if attrs.get("channels_last", 0):
        return [(x[0], *([1] * (len(x) - 2)), x[-1])]
    return [(x[0], x[1], *([1] * (len(x) - 2)))]


def _average_pool(shapes, attrs):
    x = shapes[0]
    kernel = attrs["kernel_shape"]
    spatial = x[2:] if not attrs.get("channels_last", 0) else x[1:-1]
    strides = attrs.get("strides", (1,) * len(kernel))
    pads = attrs.get("pads", (0,) * 2 * len(kernel))
    out = []
    for axis, (size, k, s) in enumerate(zip(spatial, kernel, strides)):
        span = size + pads[axis] + pads[axis + len(kernel)] - k
        out.append((-(-span // s) if attrs.get("ceil_mode", 0) else span // s) + 1)
    if attrs.get("channels_last", 0):
        return [(x[0], *out, x[-1])]
    return [(x[0], x[1], *out)]


def _qlinear_concat(shapes, attrs):
    # inputs: Y_scale, Y_zero_point, then (X, X_scale, X_zero_point) per operand
    tensors = shapes[2::3]
    axis = attrs.get("axis", 0)
    out = list(tensors[0])
    axis = axis % len(out)
    out[axis] = sum(t[axis] for t in tensors)
    return [tuple(out)]


#: (domain, op_type) -> rule(input shapes, attributes) -> output shapes
CONTRIB_SHAPES = {
    ("com.microsoft", "QLinearAdd"): _broadcast(0, 3),
    ("com.microsoft", "QLinearMul"): _broadcast(0, 3),
    ("com.microsoft", "QLinearSigmoid"): _same_as_first,
    ("com.microsoft", "QLinearLeakyRelu"): _same_as_first,
    ("com.microsoft", "QLinearSoftmax"): _same_as_first,
    ("com.microsoft", "QLinearGlobalAveragePool"): _global_pool,
    ("com.microsoft", "QLinearAveragePool"): _average_pool,
    ("com.microsoft", "QLinearConcat"): _qlinear_concat,
    ("com.microsoft", "QGemm"): _qgemm,
    ("com.microsoft", "Gelu"): _same_as_first,
    ("com.microsoft", "FastGelu"): _same_as_first,
    ("com.microsoft", "BiasGelu"): _same_as_first,
    ("com.microsoft", "QuickGelu"): _same_as_first,
    ("com.microsoft", "SkipLayerNormalization"): _same_as_first,
    ("com.microsoft", "FusedMatMul"): _matmul(0, 1),
    ("com.microsoft", "DynamicQuantizeMatMul"): _matmul(0, 1),
    ("com.microsoft", "MatMulIntegerToFloat"): _matmul(0, 1),
}
