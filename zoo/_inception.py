"""Inception v1 (GoogLeNet), v3, v4 and Xception."""

from __future__ import annotations

from ._builder import NetBuilder

__all__ = ["googlenet", "inception_v3", "inception_v4", "xception"]


def _cbr(b: NetBuilder, x: str, c: int, k, stride: int = 1, pad=None) -> str:
    """Conv (no bias) + BatchNorm + ReLU; ``pad=None`` keeps the size (same padding)."""
    if pad is None:
        ks = (k, k) if isinstance(k, int) else k
        pad = (ks[0] // 2, ks[1] // 2, ks[0] // 2, ks[1] // 2)
    return b.relu(b.bn(b.conv(x, c, k, stride=stride, pad=pad, bias=False)))


def googlenet(b: NetBuilder, num_classes: int = 1000) -> list[str]:
    """GoogLeNet (Szegedy et al. 2015) as in torchvision: batch norm, and 3x3 where the paper has 5x5."""
    def inception(x, c1, c3r, c3, c5r, c5, pool):
        branches = [_cbr(b, x, c1, 1), _cbr(b, _cbr(b, x, c3r, 1), c3, 3), _cbr(b, _cbr(b, x, c5r, 1), c5, 3),
                    _cbr(b, b.maxpool(x, 3, 1, pad=1, ceil=True), pool, 1)]
        return b.concat(branches)

    x = b.maxpool(_cbr(b, b.input, 64, 7, stride=2), 3, 2, ceil=True)
    x = b.maxpool(_cbr(b, _cbr(b, x, 64, 1), 192, 3), 3, 2, ceil=True)
    x = inception(inception(x, 64, 96, 128, 16, 32, 32), 128, 128, 192, 32, 96, 64)
    x = b.maxpool(x, 3, 2, ceil=True)
    for cfg in ((192, 96, 208, 16, 48, 64), (160, 112, 224, 24, 64, 64), (128, 128, 256, 24, 64, 64),
                (112, 144, 288, 32, 64, 64), (256, 160, 320, 32, 128, 128)):
        x = inception(x, *cfg)
    x = b.maxpool(x, 2, 2, ceil=True)
    x = inception(inception(x, 256, 160, 320, 32, 128, 128), 384, 192, 384, 48, 128, 128)
    return [b.gemm(b.dropout(b.flatten(b.global_avgpool(x))), num_classes)]


def _avg_branch(b: NetBuilder, x: str, c: int) -> str:
    return _cbr(b, b.avgpool(x, 3, 1, pad=1), c, 1)


def inception_v3(b: NetBuilder, num_classes: int = 1000) -> list[str]:
    """Inception v3 (Szegedy et al. 2016) as in torchvision, without the auxiliary classifier."""
    v = (0, 0, 0, 0)
    x = _cbr(b, _cbr(b, b.input, 32, 3, stride=2, pad=v), 32, 3, pad=v)
    x = b.maxpool(_cbr(b, x, 64, 3), 3, 2)
    x = b.maxpool(_cbr(b, _cbr(b, x, 80, 1), 192, 3, pad=v), 3, 2)
    for pool in (32, 64, 64):  # InceptionA
        x = b.concat([_cbr(b, x, 64, 1), _cbr(b, _cbr(b, x, 48, 1), 64, 5),
                      _cbr(b, _cbr(b, _cbr(b, x, 64, 1), 96, 3), 96, 3), _avg_branch(b, x, pool)])
    x = b.concat([_cbr(b, x, 384, 3, stride=2, pad=v),  # InceptionB
                  _cbr(b, _cbr(b, _cbr(b, x, 64, 1), 96, 3), 96, 3, stride=2, pad=v), b.maxpool(x, 3, 2)])
    for c7 in (128, 160, 160, 192):  # InceptionC
        seven = _cbr(b, _cbr(b, _cbr(b, x, c7, 1), c7, (1, 7)), 192, (7, 1))
        dbl = _cbr(b, x, c7, 1)
        for k, c in (((7, 1), c7), ((1, 7), c7), ((7, 1), c7), ((1, 7), 192)):
            dbl = _cbr(b, dbl, c, k)
        x = b.concat([_cbr(b, x, 192, 1), seven, dbl, _avg_branch(b, x, 192)])
    seven = _cbr(b, _cbr(b, _cbr(b, x, 192, 1), 192, (1, 7)), 192, (7, 1))  # InceptionD
    x = b.concat([_cbr(b, _cbr(b, x, 192, 1), 320, 3, stride=2, pad=v), _cbr(b, seven, 192, 3, stride=2, pad=v),
                  b.maxpool(x, 3, 2)])
    for _ in range(2):  # InceptionE
        three = _cbr(b, x, 384, 1)
        dbl = _cbr(b, _cbr(b, x, 448, 1), 384, 3)
        x = b.concat([_cbr(b, x, 320, 1), _cbr(b, three, 384, (1, 3)), _cbr(b, three, 384, (3, 1)),
                      _cbr(b, dbl, 384, (1, 3)), _cbr(b, dbl, 384, (3, 1)), _avg_branch(b, x, 192)])
    return [b.gemm(b.dropout(b.flatten(b.global_avgpool(x))), num_classes)]


def inception_v4(b: NetBuilder, num_classes: int = 1000) -> list[str]:
    """Inception v4 (Szegedy et al., AAAI 2017), figures 3-9 of the paper."""
    v = (0, 0, 0, 0)
    x = _cbr(b, _cbr(b, _cbr(b, b.input, 32, 3, stride=2, pad=v), 32, 3, pad=v), 64, 3)
    x = b.concat([b.maxpool(x, 3, 2), _cbr(b, x, 96, 3, stride=2, pad=v)])
    x = b.concat([_cbr(b, _cbr(b, x, 64, 1), 96, 3, pad=v),
                  _cbr(b, _cbr(b, _cbr(b, _cbr(b, x, 64, 1), 64, (7, 1)), 64, (1, 7)), 96, 3, pad=v)])
    x = b.concat([_cbr(b, x, 192, 3, stride=2, pad=v), b.maxpool(x, 3, 2)])
    for _ in range(4):  # Inception-A
        x = b.concat([_avg_branch(b, x, 96), _cbr(b, x, 96, 1), _cbr(b, _cbr(b, x, 64, 1), 96, 3),
                      _cbr(b, _cbr(b, _cbr(b, x, 64, 1), 96, 3), 96, 3)])
    x = b.concat([b.maxpool(x, 3, 2), _cbr(b, x, 384, 3, stride=2, pad=v),  # Reduction-A (k, l, m, n = 192, 224, 256, 384)
                  _cbr(b, _cbr(b, _cbr(b, x, 192, 1), 224, 3), 256, 3, stride=2, pad=v)])
    for _ in range(7):  # Inception-B
        seven = _cbr(b, _cbr(b, _cbr(b, x, 192, 1), 224, (1, 7)), 256, (7, 1))
        dbl = _cbr(b, x, 192, 1)
        for k, c in (((1, 7), 192), ((7, 1), 224), ((1, 7), 224), ((7, 1), 256)):
            dbl = _cbr(b, dbl, c, k)
        x = b.concat([_avg_branch(b, x, 128), _cbr(b, x, 384, 1), seven, dbl])
    x = b.concat([b.maxpool(x, 3, 2), _cbr(b, _cbr(b, x, 192, 1), 192, 3, stride=2, pad=v),  # Reduction-B
                  _cbr(b, _cbr(b, _cbr(b, _cbr(b, x, 256, 1), 256, (1, 7)), 320, (7, 1)), 320, 3, stride=2, pad=v)])
    for _ in range(3):  # Inception-C
        mid = _cbr(b, x, 384, 1)
        dbl = _cbr(b, _cbr(b, _cbr(b, x, 384, 1), 448, (3, 1)), 512, (1, 3))
        x = b.concat([_avg_branch(b, x, 256), _cbr(b, x, 256, 1), _cbr(b, mid, 256, (1, 3)), _cbr(b, mid, 256, (3, 1)),
                      _cbr(b, dbl, 256, (1, 3)), _cbr(b, dbl, 256, (3, 1))])
    return [b.gemm(b.dropout(b.flatten(b.global_avgpool(x))), num_classes)]


def _separable(b: NetBuilder, x: str, c: int) -> str:
    channels = b.shape(x)[1]
    return b.bn(b.conv(b.conv(x, channels, 3, groups=channels, bias=False), c, 1, bias=False))


def xception(b: NetBuilder, num_classes: int = 1000) -> list[str]:
    """Xception (Chollet, CVPR 2017), as in the paper's figure 5."""
    v = (0, 0, 0, 0)
    x = b.relu(b.bn(b.conv(b.input, 32, 3, stride=2, pad=v, bias=False)))
    x = b.relu(b.bn(b.conv(x, 64, 3, pad=v, bias=False)))
    for i, c in enumerate((128, 256, 728)):  # entry flow
        residual = b.bn(b.conv(x, c, 1, stride=2, bias=False))
        y = x if i == 0 else b.relu(x)
        y = _separable(b, b.relu(_separable(b, y, c)), c)
        x = b.add(b.maxpool(y, 3, 2, pad=1), residual)
    for _ in range(8):  # middle flow
        y = x
        for _ in range(3):
            y = _separable(b, b.relu(y), 728)
        x = b.add(x, y)
    residual = b.bn(b.conv(x, 1024, 1, stride=2, bias=False))  # exit flow
    y = _separable(b, b.relu(_separable(b, b.relu(x), 728)), 1024)
    x = b.add(b.maxpool(y, 3, 2, pad=1), residual)
    x = b.relu(_separable(b, b.relu(_separable(b, x, 1536)), 2048))
    return [b.gemm(b.flatten(b.global_avgpool(x)), num_classes)]
