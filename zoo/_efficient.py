"""EfficientNet-B0, ShuffleNet v2 and DenseNet-121, as in torchvision."""

from __future__ import annotations

from ._builder import NetBuilder
from ._mobilenet import squeeze_excite

__all__ = ["efficientnet_b0", "shufflenet_v2", "densenet"]

# (expand ratio, kernel, stride, out channels, layers): EfficientNet-B0's stages (Tan & Le 2019, table 1)
_B0 = ((1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3), (6, 5, 1, 112, 3), (6, 5, 2, 192, 4),
       (6, 3, 1, 320, 1))


def efficientnet_b0(b: NetBuilder, num_classes: int = 1000) -> list[str]:
    """EfficientNet-B0 (Tan & Le, ICML 2019) as in torchvision: MBConv blocks with SiLU and squeeze-excite."""
    x = b.silu(b.bn(b.conv(b.input, 32, 3, stride=2, bias=False)))
    for expand, kernel, stride, out, layers in _B0:
        for i in range(layers):
            c_in = b.shape(x)[1]
            s = stride if i == 0 else 1
            y = b.silu(b.bn(b.conv(x, c_in * expand, 1, bias=False))) if expand != 1 else x
            c_exp = b.shape(y)[1]
            y = b.silu(b.bn(b.conv(y, c_exp, kernel, stride=s, groups=c_exp, bias=False)))
            y = squeeze_excite(b, y, max(1, c_in // 4), gate="sigmoid", act="silu")
            y = b.bn(b.conv(y, out, 1, bias=False))
            x = b.add(x, y) if s == 1 and c_in == out else y
    x = b.silu(b.bn(b.conv(x, 1280, 1, bias=False)))
    return [b.gemm(b.dropout(b.flatten(b.global_avgpool(x))), num_classes)]


_SHUFFLE = {"x0_5": (24, 48, 96, 192, 1024), "x1_0": (24, 116, 232, 464, 1024), "x1_5": (24, 176, 352, 704, 1024),
            "x2_0": (24, 244, 488, 976, 2048)}


def _cbr(b: NetBuilder, x: str, c: int, k: int, stride: int = 1, groups: int = 1, relu: bool = True) -> str:
    y = b.bn(b.conv(x, c, k, stride=stride, groups=groups, bias=False))
    return b.relu(y) if relu else y


def shufflenet_v2(width: str, b: NetBuilder, num_classes: int = 1000) -> list[str]:
    """ShuffleNet v2 (Ma et al., ECCV 2018) as in torchvision."""
    stem, *stages, last = _SHUFFLE[width]
    x = b.maxpool(_cbr(b, b.input, stem, 3, stride=2), 3, 2, pad=1)
    for repeats, out in zip((4, 8, 4), stages):
        half = out // 2
        for i in range(repeats):
            if i == 0:
                c = b.shape(x)[1]
                left = _cbr(b, _cbr(b, x, c, 3, stride=2, groups=c, relu=False), half, 1)
                right = x
                stride = 2
            else:
                c = b.shape(x)[1]
                left, right = b.slice_channels(x, 0, c // 2), b.slice_channels(x, c // 2, c)
                stride = 1
            right = _cbr(b, right, half, 1)
            right = _cbr(b, right, half, 3, stride=stride, groups=half, relu=False)
            right = _cbr(b, right, half, 1)
            x = b.channel_shuffle(b.concat([left, right]), 2)
    x = _cbr(b, x, last, 1)
    return [b.gemm(b.flatten(b.global_avgpool(x)), num_classes)]


def densenet(layers: tuple[int, ...], b: NetBuilder, growth: int = 32, num_classes: int = 1000) -> list[str]:
    """DenseNet (Huang et al., CVPR 2017) as in torchvision; (6, 12, 24, 16) is DenseNet-121."""
    x = b.maxpool(b.relu(b.bn(b.conv(b.input, 2 * growth, 7, stride=2, bias=False))), 3, 2, pad=1)
    for index, count in enumerate(layers):
        features = [x]
        for _ in range(count):
            joined = b.concat(features) if len(features) > 1 else features[0]
            y = b.conv(b.relu(b.bn(joined)), 4 * growth, 1, bias=False)
            features.append(b.conv(b.relu(b.bn(y)), growth, 3, bias=False))
        x = b.concat(features)
        if index < len(layers) - 1:
            x = b.avgpool(b.conv(b.relu(b.bn(x)), b.shape(x)[1] // 2, 1, bias=False), 2, 2)
    x = b.relu(b.bn(x))
    return [b.gemm(b.flatten(b.global_avgpool(x)), num_classes)]
