"""Detection and segmentation networks: YOLOv3(-tiny), YOLOv5 s/m, SSD-MobileNet v1, SSDLite-MobileNet v2,
DeepLabV3+ on MobileNetV3. Heads produce raw maps (no box decoding or NMS, which are post-processing)."""

from __future__ import annotations

from ._builder import NetBuilder
from ._mobilenet import make_divisible, mobilenet_v3_features

__all__ = ["yolov3_tiny", "yolov3", "yolov5", "ssd_mobilenet_v1", "ssdlite_mobilenet_v2", "deeplabv3plus_mobilenet_v3"]


def _cbl(b: NetBuilder, x: str, c: int, k: int, stride: int = 1) -> str:
    """Darknet's convolutional block: conv (no bias) + batch norm + leaky ReLU(0.1)."""
    return b.leaky_relu(b.bn(b.conv(x, c, k, stride=stride, bias=False)), 0.1)


def yolov3_tiny(b: NetBuilder, num_classes: int = 80) -> list[str]:
    """YOLOv3-tiny (Redmon & Farhadi 2018; darknet's yolov3-tiny.cfg), two detection scales."""
    out = 3 * (num_classes + 5)
    x = b.input
    for c in (16, 32, 64, 128):
        x = b.maxpool(_cbl(b, x, c, 3), 2, 2)
    route = _cbl(b, x, 256, 3)
    x = b.maxpool(route, 2, 2)
    x = b.maxpool(_cbl(b, x, 512, 3), 2, 1, pad=(0, 0, 1, 1))  # size 2, stride 1: darknet pads one side
    x = _cbl(b, _cbl(b, x, 1024, 3), 256, 1)
    large = b.conv(_cbl(b, x, 512, 3), out, 1)
    y = b.upsample(_cbl(b, x, 128, 1), 2)
    small = b.conv(_cbl(b, b.concat([y, route]), 256, 3), out, 1)
    return [large, small]


def yolov3(b: NetBuilder, num_classes: int = 80) -> list[str]:
    """YOLOv3 (Redmon & Farhadi 2018) on Darknet-53, three detection scales."""
    out = 3 * (num_classes + 5)
    x = _cbl(b, b.input, 32, 3)
    routes = []
    for c, blocks in ((64, 1), (128, 2), (256, 8), (512, 8), (1024, 4)):
        x = _cbl(b, x, c, 3, stride=2)
        for _ in range(blocks):
            x = b.add(x, _cbl(b, _cbl(b, x, c // 2, 1), c, 3))
        routes.append(x)
    outputs = []
    for width, skip in ((512, routes[3]), (256, routes[2]), (128, None)):
        for _ in range(2):
            x = _cbl(b, _cbl(b, x, width, 1), 2 * width, 3)
        x = _cbl(b, x, width, 1)
        outputs.append(b.conv(_cbl(b, x, 2 * width, 3), out, 1))
        if skip is not None:
            x = b.concat([b.upsample(_cbl(b, x, width // 2, 1), 2), skip])
    return outputs


def _silu_conv(b: NetBuilder, x: str, c: int, k: int, stride: int = 1) -> str:
    return b.silu(b.bn(b.conv(x, c, k, stride=stride, bias=False)))


def _c3(b: NetBuilder, x: str, c: int, n: int, shortcut: bool = True) -> str:
    hidden = c // 2
    y = _silu_conv(b, x, hidden, 1)
    for _ in range(n):
        z = _silu_conv(b, _silu_conv(b, y, hidden, 1), hidden, 3)
        y = b.add(y, z) if shortcut else z
    return _silu_conv(b, b.concat([y, _silu_conv(b, x, hidden, 1)]), c, 1)


def yolov5(size: str, b: NetBuilder, num_classes: int = 80) -> list[str]:
    """YOLOv5 (Ultralytics, v6.0 architecture: 6x6 stem, SPPF) with its depth and width multiples."""
    depth, width = {"s": (0.33, 0.50), "m": (0.67, 0.75)}[size]
    ch = lambda c: make_divisible(c * width, 8)  # noqa: E731
    n = lambda k: max(round(k * depth), 1)  # noqa: E731
    x = _silu_conv(b, b.input, ch(64), 6, stride=2)
    x = _c3(b, _silu_conv(b, x, ch(128), 3, stride=2), ch(128), n(3))
    p3 = _c3(b, _silu_conv(b, x, ch(256), 3, stride=2), ch(256), n(6))
    p4 = _c3(b, _silu_conv(b, p3, ch(512), 3, stride=2), ch(512), n(9))
    x = _c3(b, _silu_conv(b, p4, ch(1024), 3, stride=2), ch(1024), n(3))
    half = _silu_conv(b, x, ch(1024) // 2, 1)  # SPPF
    pools = [b.maxpool(half, 5, 1, pad=2)]
    for _ in range(2):
        pools.append(b.maxpool(pools[-1], 5, 1, pad=2))
    x = _silu_conv(b, b.concat([half, *pools]), ch(1024), 1)
    h5 = _silu_conv(b, x, ch(512), 1)
    x = _c3(b, b.concat([b.upsample(h5, 2), p4]), ch(512), n(3), shortcut=False)
    h4 = _silu_conv(b, x, ch(256), 1)
    out3 = _c3(b, b.concat([b.upsample(h4, 2), p3]), ch(256), n(3), shortcut=False)
    out4 = _c3(b, b.concat([_silu_conv(b, out3, ch(256), 3, stride=2), h4]), ch(512), n(3), shortcut=False)
    out5 = _c3(b, b.concat([_silu_conv(b, out4, ch(512), 3, stride=2), h5]), ch(1024), n(3), shortcut=False)
    return [b.conv(o, 3 * (num_classes + 5), 1) for o in (out3, out4, out5)]


def _relu6_conv(b: NetBuilder, x: str, c: int, k: int, stride: int = 1, groups: int = 1) -> str:
    return b.relu6(b.bn(b.conv(x, c, k, stride=stride, groups=groups, bias=False)))


def _ssd_heads(b: NetBuilder, maps: list[str], num_classes: int, lite: bool) -> list[str]:
    outputs = []
    for i, x in enumerate(maps):
        anchors = 3 if i == 0 else 6
        for per_anchor in (4, num_classes):
            if lite:  # SSDLite: depthwise 3x3 then 1x1 (Sandler et al. 2018, section 6.2)
                c = b.shape(x)[1]
                outputs.append(b.conv(_relu6_conv(b, x, c, 3, groups=c), anchors * per_anchor, 1))
            else:
                outputs.append(b.conv(x, anchors * per_anchor, 1))
    return outputs


def _ssd_extras(b: NetBuilder, x: str, lite: bool) -> list[str]:
    maps = []
    for squeeze, out in ((256, 512), (128, 256), (128, 256), (64, 128)):
        y = _relu6_conv(b, x, squeeze, 1)
        if lite:
            y = _relu6_conv(b, _relu6_conv(b, y, squeeze, 3, stride=2, groups=squeeze), out, 1)
        else:
            y = _relu6_conv(b, y, out, 3, stride=2)
        maps.append(y)
        x = y
    return maps


def ssd_mobilenet_v1(b: NetBuilder, num_classes: int = 91) -> list[str]:
    """SSD300 on MobileNet v1 as in the TensorFlow Object Detection API (COCO, 91 classes)."""
    x = _relu6_conv(b, b.input, 32, 3, stride=2)
    maps = []
    for i, (out, stride) in enumerate(((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1), (512, 1),
                                       (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1))):
        c = b.shape(x)[1]
        x = _relu6_conv(b, _relu6_conv(b, x, c, 3, stride=stride, groups=c), out, 1)
        if i in (10, 12):
            maps.append(x)
    maps += _ssd_extras(b, x, lite=False)
    return _ssd_heads(b, maps, num_classes, lite=False)


def ssdlite_mobilenet_v2(b: NetBuilder, num_classes: int = 91) -> list[str]:
    """SSDLite320-style detector on MobileNet v2 (Sandler et al. 2018, 300x300, COCO)."""
    from ._mobilenet import _V2

    x = _relu6_conv(b, b.input, 32, 3, stride=2)
    maps = []
    for t, c, n, s in _V2:
        for i in range(n):
            stride = s if i == 0 else 1
            c_in = b.shape(x)[1]
            y = _relu6_conv(b, x, c_in * t, 1) if t != 1 else x
            if stride == 2 and c == 160:
                maps.append(y)  # the expansion of block 13 at stride 16 feeds the first head
            y = _relu6_conv(b, y, c_in * t, 3, stride=stride, groups=c_in * t)
            y = b.bn(b.conv(y, c, 1, bias=False))
            x = b.add(x, y) if stride == 1 and c_in == c else y
    x = _relu6_conv(b, x, 1280, 1)
    maps.append(x)
    maps += _ssd_extras(b, x, lite=True)
    return _ssd_heads(b, maps, num_classes, lite=True)


def deeplabv3plus_mobilenet_v3(b: NetBuilder, num_classes: int = 19) -> list[str]:
    """DeepLabV3+ (Chen et al., ECCV 2018) on MobileNetV3-Large: ASPP at stride 16 and a stride-4 decoder.

    19 classes (Cityscapes), the data set of seed 003's segmentation case.
    """
    features, taps = mobilenet_v3_features(b, "large", return_taps=True, output_stride=16)
    n, _, h, w = b.shape(b.input)

    def separable(x, c, rate=1):  # depthwise-separable 3x3, as DeepLabV3+ uses in ASPP and decoder (section 3.2)
        channels = b.shape(x)[1]
        x = b.relu(b.bn(b.conv(x, channels, 3, groups=channels, dilation=rate, bias=False)))
        return b.relu(b.bn(b.conv(x, c, 1, bias=False)))

    branches = [b.relu(b.bn(b.conv(features, 256, 1, bias=False)))]
    for rate in (6, 12, 18):
        branches.append(separable(features, 256, rate))
    pooled = b.relu(b.bn(b.conv(b.global_avgpool(features), 256, 1, bias=False)))
    branches.append(b.resize_to(pooled, b.shape(features)[2:]))
    aspp = b.relu(b.bn(b.conv(b.concat(branches), 256, 1, bias=False)))
    low = b.relu(b.bn(b.conv(taps[4], 48, 1, bias=False)))
    x = b.concat([b.resize_to(aspp, b.shape(low)[2:]), low])
    for _ in range(2):
        x = separable(x, 256)
    return [b.resize_to(b.conv(x, num_classes, 1), (h, w))]
