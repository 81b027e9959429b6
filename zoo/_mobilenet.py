"""MobileNetV2 (Sandler et al., CVPR 2018) as in torchvision, with width multiplier."""

from __future__ import annotations

from ._builder import NetBuilder

__all__ = ["mobilenet_v2", "make_divisible"]


def make_divisible(value: float, divisor: int = 8) -> int:
    """Round channels as torchvision does: nearest multiple of ``divisor``, never below 90 %."""
    new = max(divisor, int(value + divisor / 2) // divisor * divisor)
    if new < 0.9 * value:
        new += divisor
    return new


_V2 = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))


def _conv_bn_act(b: NetBuilder, x: str, c: int, k: int, stride: int = 1, groups: int = 1, act: bool = True) -> str:
    y = b.bn(b.conv(x, c, k, stride=stride, groups=groups, bias=False))
    return b.relu6(y) if act else y


def mobilenet_v2(b: NetBuilder, width: float = 1.0, num_classes: int = 1000) -> list[str]:
    """Append MobileNetV2 to ``b``; return its output tensors."""
    x = _conv_bn_act(b, b.input, make_divisible(32 * width), 3, stride=2)
    for t, c, n, s in _V2:
        out = make_divisible(c * width)
        for i in range(n):
            stride = s if i == 0 else 1
            c_in = b.shape(x)[1]
            y = x
            if t != 1:
                y = _conv_bn_act(b, y, c_in * t, 1)
            y = _conv_bn_act(b, y, c_in * t, 3, stride=stride, groups=c_in * t)
            y = _conv_bn_act(b, y, out, 1, act=False)
            x = b.add(x, y) if stride == 1 and c_in == out else y
    x = _conv_bn_act(b, x, make_divisible(1280 * max(1.0, width)), 1)
    x = b.flatten(b.global_avgpool(x))
    return [b.gemm(b.dropout(x), num_classes)]


def _dw_separable(b: NetBuilder, x: str, out: int, stride: int) -> str:
    c = b.shape(x)[1]
    x = b.relu(b.bn(b.conv(x, c, 3, stride=stride, groups=c, bias=False)))
    return b.relu(b.bn(b.conv(x, out, 1, bias=False)))


_V1 = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1), (512, 1), (512, 1), (512, 1), (512, 1),
       (1024, 2), (1024, 1))


def mobilenet_v1(b: NetBuilder, width: float = 1.0, num_classes: int = 1000) -> list[str]:
    """MobileNet v1 (Howard et al. 2017) with width multiplier alpha."""
    x = b.relu(b.bn(b.conv(b.input, int(32 * width), 3, stride=2, bias=False)))
    for out, stride in _V1:
        x = _dw_separable(b, x, int(out * width), stride)
    x = b.flatten(b.global_avgpool(x))
    return [b.gemm(b.dropout(x), num_classes)]


def squeeze_excite(b: NetBuilder, x: str, squeeze: int, gate: str = "hardsigmoid", act: str = "relu") -> str:
    """Squeeze-and-excitation: x * gate(conv(act(conv(gap(x)))))."""
    c = b.shape(x)[1]
    s = b.conv(b.global_avgpool(x), squeeze, 1)
    s = b.relu(s) if act == "relu" else b.silu(s)
    s = b.conv(s, c, 1)
    s = b.hardsigmoid(s) if gate == "hardsigmoid" else b.sigmoid(s)
    return b.mul(x, s)


# (kernel, expanded, out, squeeze-excite, activation, stride), torchvision's tables
_V3_LARGE = ((3, 16, 16, False, "RE", 1), (3, 64, 24, False, "RE", 2), (3, 72, 24, False, "RE", 1),
             (5, 72, 40, True, "RE", 2), (5, 120, 40, True, "RE", 1), (5, 120, 40, True, "RE", 1),
             (3, 240, 80, False, "HS", 2), (3, 200, 80, False, "HS", 1), (3, 184, 80, False, "HS", 1),
             (3, 184, 80, False, "HS", 1), (3, 480, 112, True, "HS", 1), (3, 672, 112, True, "HS", 1),
             (5, 672, 160, True, "HS", 2), (5, 960, 160, True, "HS", 1), (5, 960, 160, True, "HS", 1))
_V3_SMALL = ((3, 16, 16, True, "RE", 2), (3, 72, 24, False, "RE", 2), (3, 88, 24, False, "RE", 1),
             (5, 96, 40, True, "HS", 2), (5, 240, 40, True, "HS", 1), (5, 240, 40, True, "HS", 1),
             (5, 120, 48, True, "HS", 1), (5, 144, 48, True, "HS", 1), (5, 288, 96, True, "HS", 2),
             (5, 576, 96, True, "HS", 1), (5, 576, 96, True, "HS", 1))


def mobilenet_v3_features(b: NetBuilder, size: str, width: float = 1.0, return_taps: bool = False,
                          output_stride: int = 32):
    """MobileNet v3 backbone up to its last 1x1 conv.

    With ``return_taps`` also returns the stride-4 and stride-8 maps; ``output_stride=16``
    replaces the last stride by dilation, as DeepLab does.
    """
    act = lambda t, kind: b.relu(t) if kind == "RE" else b.hardswish(t)  # noqa: E731
    x = b.hardswish(b.bn(b.conv(b.input, make_divisible(16 * width), 3, stride=2, bias=False)))
    taps = {}
    dilation = 1
    for kernel, expanded, out, se, kind, stride in (_V3_LARGE if size == "large" else _V3_SMALL):
        c_in, c_exp, c_out = b.shape(x)[1], make_divisible(expanded * width), make_divisible(out * width)
        if stride == 2 and b.input_stride(x) in (4, 8):
            taps[b.input_stride(x)] = x
        if stride == 2 and b.input_stride(x) * 2 > output_stride:
            stride, dilation = 1, dilation * 2
        y = act(b.bn(b.conv(x, c_exp, 1, bias=False)), kind) if c_exp != c_in else x
        y = act(b.bn(b.conv(y, c_exp, kernel, stride=stride, groups=c_exp, dilation=dilation, bias=False)), kind)
        if se:
            y = squeeze_excite(b, y, make_divisible(c_exp // 4))
        y = b.bn(b.conv(y, c_out, 1, bias=False))
        x = b.add(x, y) if stride == 1 and c_in == c_out else y
    x = b.hardswish(b.bn(b.conv(x, 6 * b.shape(x)[1], 1, bias=False)))
    return (x, taps) if return_taps else x


def mobilenet_v3(size: str, b: NetBuilder, width: float = 1.0, num_classes: int = 1000) -> list[str]:
    """MobileNet v3 small/large (Howard et al. 2019) as in torchvision, with width multiplier."""
    x = b.flatten(b.global_avgpool(mobilenet_v3_features(b, size, width)))
    # as in the paper (and Keras): the last layer is widened above width 1.0 but never narrowed
    last = make_divisible((1280 if size == "large" else 1024) * max(1.0, width))
    x = b.dropout(b.hardswish(b.gemm(x, last)))
    return [b.gemm(x, num_classes)]
