"""ResNet-18/34/50/101/152 (He et al., CVPR 2016) as in torchvision (v1.5: stride in the 3x3 conv)."""

from __future__ import annotations

from ._builder import NetBuilder

__all__ = ["resnet"]

_BLOCKS = {18: ("basic", (2, 2, 2, 2)), 34: ("basic", (3, 4, 6, 3)), 50: ("bottleneck", (3, 4, 6, 3)),
           101: ("bottleneck", (3, 4, 23, 3)), 152: ("bottleneck", (3, 8, 36, 3))}


def _conv_bn(b: NetBuilder, x: str, c: int, k: int, stride: int = 1, relu: bool = True) -> str:
    y = b.bn(b.conv(x, c, k, stride=stride, bias=False))
    return b.relu(y) if relu else y


def _residual(b: NetBuilder, x: str, y: str, stride: int) -> str:
    """relu(y + shortcut), the shortcut projected by a strided 1x1 conv when the shape changes."""
    out = b.shape(y)[1]
    shortcut = x
    if stride != 1 or b.shape(x)[1] != out:
        shortcut = _conv_bn(b, x, out, 1, stride, relu=False)
    return b.relu(b.add(y, shortcut))


def _basic(b: NetBuilder, x: str, width: int, stride: int) -> str:
    y = _conv_bn(b, x, width, 3, stride)
    return _residual(b, x, _conv_bn(b, y, width, 3, relu=False), stride)


def _bottleneck(b: NetBuilder, x: str, width: int, stride: int) -> str:
    y = _conv_bn(b, x, width, 1)
    y = _conv_bn(b, y, width, 3, stride)
    return _residual(b, x, _conv_bn(b, y, width * 4, 1, relu=False), stride)


def resnet(depth: int, b: NetBuilder, num_classes: int = 1000) -> list[str]:
    """Append a ResNet of the given depth to ``b``; return its output tensors."""
    kind, counts = _BLOCKS[depth]
    block = _basic if kind == "basic" else _bottleneck
    x = _conv_bn(b, b.input, 64, 7, stride=2)
    x = b.maxpool(x, 3, 2, pad=1)
    for stage, (count, width) in enumerate(zip(counts, (64, 128, 256, 512))):
        for i in range(count):
            x = block(b, x, width, 2 if (i == 0 and stage > 0) else 1)
    x = b.flatten(b.global_avgpool(x))
    return [b.gemm(x, num_classes)]
