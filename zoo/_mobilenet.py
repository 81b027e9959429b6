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
