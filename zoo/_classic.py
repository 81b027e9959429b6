"""Classic CNNs: AlexNet, VGG, VGG-S, SqueezeNet, CifarNet, the MNIST nets of seed 004, C3D."""

from __future__ import annotations

from ._builder import NetBuilder

__all__ = ["alexnet", "alexnet_caffe", "vgg", "vgg_s", "squeezenet", "cifarnet", "dense1", "conv3dense1", "c3d"]


def _classifier(b: NetBuilder, x: str, widths: tuple[int, ...], num_classes: int) -> str:
    x = b.flatten(x)
    for width in widths:
        x = b.dropout(b.relu(b.gemm(x, width)))
    return b.gemm(x, num_classes)


def alexnet(b: NetBuilder, num_classes: int = 1000) -> list[str]:
    """torchvision's AlexNet (the one-tower "One weird trick" variant, 61.1 M parameters)."""
    x = b.maxpool(b.relu(b.conv(b.input, 64, 11, stride=4, pad=2)), 3, 2)
    x = b.maxpool(b.relu(b.conv(x, 192, 5, pad=2)), 3, 2)
    x = b.relu(b.conv(x, 384, 3))
    x = b.relu(b.conv(x, 256, 3))
    x = b.maxpool(b.relu(b.conv(x, 256, 3)), 3, 2)
    return [_classifier(b, x, (4096, 4096), num_classes)]


def alexnet_caffe(b: NetBuilder, num_classes: int = 1000) -> list[str]:
    """BVLC's Caffe AlexNet: the original two-tower layout as grouped convolutions, LRN, 227x227 input (61.0 M)."""
    x = b.maxpool(b.lrn(b.relu(b.conv(b.input, 96, 11, stride=4, pad=0))), 3, 2)
    x = b.maxpool(b.lrn(b.relu(b.conv(x, 256, 5, pad=2, groups=2))), 3, 2)
    x = b.relu(b.conv(x, 384, 3))
    x = b.relu(b.conv(x, 384, 3, groups=2))
    x = b.maxpool(b.relu(b.conv(x, 256, 3, groups=2)), 3, 2)
    return [_classifier(b, x, (4096, 4096), num_classes)]


_VGG = {11: (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"),
        16: (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"),
        19: (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M")}


def vgg(depth: int, b: NetBuilder, num_classes: int = 1000) -> list[str]:
    """VGG-11/16/19 (Simonyan & Zisserman 2015) as in torchvision, without batch norm."""
    x = b.input
    for item in _VGG[depth]:
        x = b.maxpool(x, 2, 2) if item == "M" else b.relu(b.conv(x, item, 3))
    return [_classifier(b, x, (4096, 4096), num_classes)]


def vgg_s(b: NetBuilder, num_classes: int = 1000) -> list[str]:
    """VGG-S of Chatfield et al. 2014 ("Return of the devil"), Caffe-style ceil-mode pooling."""
    x = b.maxpool(b.lrn(b.relu(b.conv(b.input, 96, 7, stride=2, pad=0))), 3, 3, ceil=True)
    x = b.maxpool(b.lrn(b.relu(b.conv(x, 256, 5, pad=0))), 2, 2, ceil=True)
    x = b.relu(b.conv(x, 512, 3))
    x = b.relu(b.conv(x, 512, 3))
    x = b.maxpool(b.relu(b.conv(x, 512, 3)), 3, 3, ceil=True)
    return [_classifier(b, x, (4096, 4096), num_classes)]


def _fire(b: NetBuilder, x: str, squeeze: int, expand: int) -> str:
    s = b.relu(b.conv(x, squeeze, 1))
    return b.concat([b.relu(b.conv(s, expand, 1)), b.relu(b.conv(s, expand, 3))])


def squeezenet(version: str, b: NetBuilder, num_classes: int = 1000) -> list[str]:
    """SqueezeNet 1.0 / 1.1 (Iandola et al. 2016) as in torchvision."""
    fires = [(16, 64), (16, 64), (32, 128), (32, 128), (48, 192), (48, 192), (64, 256), (64, 256)]
    if version == "1_0":
        x = b.maxpool(b.relu(b.conv(b.input, 96, 7, stride=2, pad=0)), 3, 2, ceil=True)
        pools_after = {2, 6}
    else:
        x = b.maxpool(b.relu(b.conv(b.input, 64, 3, stride=2, pad=0)), 3, 2, ceil=True)
        pools_after = {1, 3}
    for i, (squeeze, expand) in enumerate(fires):
        x = _fire(b, x, squeeze, expand)
        if i in pools_after:
            x = b.maxpool(x, 3, 2, ceil=True)
    x = b.relu(b.conv(b.dropout(x), num_classes, 1))
    return [b.flatten(b.global_avgpool(x))]


def cifarnet(b: NetBuilder, num_classes: int = 10) -> list[str]:
    """CifarNet as benchmarked in seed 001 (edgeBench): two 5x5 convs, three dense layers, 32x32 input."""
    x = b.maxpool(b.relu(b.conv(b.input, 64, 5, pad=0)), 2, 2)
    x = b.maxpool(b.relu(b.conv(x, 64, 5, pad=0)), 2, 2)
    x = b.flatten(x)
    x = b.relu(b.gemm(x, 384))
    x = b.relu(b.gemm(x, 192))
    return [b.gemm(x, num_classes)]


def dense1(b: NetBuilder, num_classes: int = 10) -> list[str]:
    """Seed 004's "Dense1": one dense layer on a 28x28 MNIST image (7,850 parameters)."""
    return [b.softmax(b.gemm(b.flatten(b.input), num_classes))]


def conv3dense1(b: NetBuilder, num_classes: int = 10) -> list[str]:
    """Seed 004's "Conv3Dense1": three convolutions and one dense layer (119,530 parameters)."""
    x = b.relu(b.conv(b.input, 32, 3, stride=2, pad=1))
    x = b.relu(b.conv(x, 64, 3, stride=2, pad=1))
    size = b.shape(x)[-1]
    x = b.relu(b.conv(x, 32, size, pad=0))
    return [b.softmax(b.gemm(b.flatten(x), num_classes))]


def c3d(b: NetBuilder, num_classes: int = 487) -> list[str]:
    """C3D (Tran et al., ICCV 2015): 3-D convolutions on 16-frame clips, Sports-1M head (487 classes)."""
    x = b.maxpool(b.relu(b.conv(b.input, 64, 3)), (1, 2, 2), (1, 2, 2))
    x = b.maxpool(b.relu(b.conv(x, 128, 3)), 2, 2)
    for width in (256, 512, 512):
        x = b.relu(b.conv(b.relu(b.conv(x, width, 3)), width, 3))
        pad = (0, 1, 1) if width == 512 and b.shape(x)[-1] == 7 else 0
        x = b.maxpool(x, 2, 2, pad=pad)
    return [_classifier(b, x, (4096, 4096), num_classes)]
