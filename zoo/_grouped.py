"""Residual networks of grouped-convolution bottlenecks: ResNeXt (Xie et al., CVPR 2017) and RegNet X/Y
(Radosavovic et al., CVPR 2020), the block torchvision uses for both.

A block is ``1x1 conv -> grouped 3x3 conv (stride on it) -> [squeeze-excite] -> 1x1 conv``, each with batch
norm, ReLU after the first two and after the residual sum; the shortcut is a strided 1x1 projection where
the shape changes. A stage is (output channels, inner channels, channels per group, blocks).
"""

from __future__ import annotations

from ._builder import NetBuilder
from ._mobilenet import squeeze_excite
from ._resnet import _conv_bn, _residual

__all__ = ["grouped_resnet", "RESNEXT", "REGNET"]

#: ResNeXt-26 (2 blocks per stage) at cardinality 32: torchvision's resnext50_32x4d stage widths
#: (outputs 256..2048, inner 128..1024, so 4, 8, 16 and 32 channels per group), half its depth.
RESNEXT = {"resnext26_32x4d": ((256, 128, 4, 2), (512, 256, 8, 2), (1024, 512, 16, 2), (2048, 1024, 32, 2))}
#: RegNet stage widths, depths and group widths (bottleneck ratio 1) of the paper's models (pycls model zoo):
#: RegNetX-200MF (widths 24/56/152/368, depths 1/1/4/7, groups of 8), RegNetX-1.6GF (72/168/408/912,
#: 2/4/10/2, groups of 24) and RegNetY-600MF (48/112/256/608, 1/3/7/4, groups of 16, squeeze-excite 0.25).
REGNET = {"regnet_x_200mf": (((24, 1), (56, 1), (152, 4), (368, 7)), 8, False),
          "regnet_x_1_6gf": (((72, 2), (168, 4), (408, 10), (912, 2)), 24, False),
          "regnet_y_600mf": (((48, 1), (112, 3), (256, 7), (608, 4)), 16, True)}


def _block(b: NetBuilder, x: str, out: int, inner: int, per_group: int, stride: int, se: bool) -> str:
    y = _conv_bn(b, x, inner, 1)
    y = _conv_bn(b, y, inner, 3, stride) if per_group == inner else b.relu(
        b.bn(b.conv(y, inner, 3, stride=stride, groups=inner // per_group, bias=False)))
    if se:
        y = squeeze_excite(b, y, max(1, round(0.25 * b.shape(x)[1])), gate="sigmoid")
    return _residual(b, x, _conv_bn(b, y, out, 1, relu=False), stride)


def grouped_resnet(name: str, b: NetBuilder, num_classes: int = 1000) -> list[str]:
    """Append the ResNeXt or RegNet ``name`` (a key of :data:`RESNEXT` or :data:`REGNET`) to ``b``; return its output."""
    if name in RESNEXT:
        stages, se = RESNEXT[name], False
        x = b.maxpool(_conv_bn(b, b.input, 64, 7, stride=2), 3, 2, pad=1)     # ResNet's stem
        first_stride = 1
    else:
        widths, per_group, se = REGNET[name]
        stages = tuple((width, width, min(per_group, width), depth) for width, depth in widths)
        x = _conv_bn(b, b.input, 32, 3, stride=2)                              # RegNet's stem
        first_stride = 2
    for index, (out, inner, per_group, depth) in enumerate(stages):
        for i in range(depth):
            stride = (first_stride if index == 0 else 2) if i == 0 else 1
            x = _block(b, x, out, inner, per_group, stride, se)
    return [b.gemm(b.flatten(b.global_avgpool(x)), num_classes)]
