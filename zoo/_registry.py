"""The zoo's table of networks: name, task, default input and builder."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from . import _classic, _detection, _efficient, _grouped, _inception, _mobilenet, _resnet, _transformer

__all__ = ["ZooEntry", "ENTRIES"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ZooEntry:
    """One network of the zoo.

    Attributes
    ----------
    name : str
        Reference name (torchvision's where one exists).
    task : str
        ``classification``, ``detection``, ``segmentation``, ``video``, ``nlp``.
    input_shape : tuple of int
        Default input without the batch axis: (C, H, W), (C, T, H, W) or (sequence,); the paper's.
    build : callable(NetBuilder, **options) -> list of output tensor names (options: num_classes)
    note : str
        How the network differs from a published variant, where it does.
    resizable : bool
        Whether the spatial input size (or sequence length) may be changed.
    input_dtype : str
        ``float32`` for images, ``int64`` for token ids.
    widthable : bool
        Whether a width multiplier applies (``zoo:NAME@0.75``). Channels are rounded as torchvision
        does (multiples of 8); the papers' TensorFlow code rounds some layers differently, so widths
        other than 1.0 can differ from the papers' tables by a few percent in MACs.
    """

    name: str
    task: str
    input_shape: tuple[int, ...]
    build: Callable[..., list[str]]
    note: str = ""
    resizable: bool = True
    input_dtype: str = "float32"
    widthable: bool = False


def _entries() -> list[ZooEntry]:
    # Longer than 60 lines on purpose: it is the zoo's table, one entry per network with its source
    # note; split up, the table would no longer read as one list.
    c224, c299 = (3, 224, 224), (3, 299, 299)
    entries = [
        ZooEntry(name="alexnet", task="classification", input_shape=c224, build=_classic.alexnet,
                 note="torchvision's one-tower AlexNet (61.1 M parameters); the original two-tower network "
                      "(Krizhevsky 2012) has 60.9 M, and seed 001's edgeBench version reports 102.14 M"),
        ZooEntry(name="alexnet_caffe", task="classification", input_shape=(3, 227, 227), build=_classic.alexnet_caffe,
                 note="BVLC's Caffe AlexNet (bvlc_alexnet): two towers as grouped convolutions (groups 2 in conv2, "
                      "conv4, conv5), LRN after conv1 and conv2, 227x227 input, 61.0 M parameters; the network of "
                      "ncnn's benchmark (alexnet.param)"),
        ZooEntry(name="vgg_s", task="classification", input_shape=c224, build=_classic.vgg_s,
                 note="Chatfield et al. 2014 with Caffe ceil-mode pooling"),
        ZooEntry(name="squeezenet1_0", task="classification", input_shape=c224,
                 build=lambda b, **kw: _classic.squeezenet("1_0", b, **kw)),
        ZooEntry(name="squeezenet1_1", task="classification", input_shape=c224,
                 build=lambda b, **kw: _classic.squeezenet("1_1", b, **kw)),
        ZooEntry(name="cifarnet", task="classification", input_shape=(3, 32, 32), build=_classic.cifarnet,
                 note="the CifarNet of seed 001 (edgeBench); TF-slim's CifarNet is larger (1.76 M parameters)",
                 resizable=False),
        ZooEntry(name="dense1", task="classification", input_shape=(1, 28, 28), build=_classic.dense1,
                 resizable=False),
        ZooEntry(name="conv3dense1", task="classification", input_shape=(1, 28, 28), build=_classic.conv3dense1),
        ZooEntry(name="c3d", task="video", input_shape=(3, 16, 112, 112), build=_classic.c3d, resizable=False),
        ZooEntry(name="mobilenet_v1", task="classification", input_shape=c224, build=_mobilenet.mobilenet_v1, widthable=True),
        ZooEntry(name="mobilenet_v2", task="classification", input_shape=c224, build=_mobilenet.mobilenet_v2, widthable=True),
        ZooEntry(name="mobilenet_v3_small", task="classification", input_shape=c224,
                 build=lambda b, **kw: _mobilenet.mobilenet_v3("small", b, **kw), widthable=True),
        ZooEntry(name="mobilenet_v3_large", task="classification", input_shape=c224,
                 build=lambda b, **kw: _mobilenet.mobilenet_v3("large", b, **kw), widthable=True),
        ZooEntry(name="googlenet", task="classification", input_shape=c224, build=_inception.googlenet,
                 note="torchvision's GoogLeNet: batch norm, 3x3 instead of 5x5 convolutions, no auxiliary heads"),
        ZooEntry(name="inception_v3", task="classification", input_shape=c299, build=_inception.inception_v3,
                 note="without the auxiliary classifier (torchvision's 27.2 M parameters include it)"),
        ZooEntry(name="inception_v4", task="classification", input_shape=c299, build=_inception.inception_v4),
        ZooEntry(name="xception", task="classification", input_shape=c299, build=_inception.xception),
        ZooEntry(name="efficientnet_b0", task="classification", input_shape=c224, build=_efficient.efficientnet_b0),
        ZooEntry(name="densenet121", task="classification", input_shape=c224,
                 build=lambda b, **kw: _efficient.densenet((6, 12, 24, 16), b, **kw)),
    ]
    entries += [
        ZooEntry(name="yolov3_tiny", task="detection", input_shape=(3, 416, 416), build=_detection.yolov3_tiny),
        ZooEntry(name="yolov3", task="detection", input_shape=(3, 416, 416), build=_detection.yolov3),
        ZooEntry(name="yolov5s", task="detection", input_shape=(3, 640, 640),
                 build=lambda b, **kw: _detection.yolov5("s", b, **kw)),
        ZooEntry(name="yolov5m", task="detection", input_shape=(3, 640, 640),
                 build=lambda b, **kw: _detection.yolov5("m", b, **kw)),
        ZooEntry(name="ssd_mobilenet_v1", task="detection", input_shape=(3, 300, 300),
                 build=_detection.ssd_mobilenet_v1,
                 note="raw box and class maps; anchor decoding and NMS are post-processing and not included"),
        ZooEntry(name="ssdlite_mobilenet_v2", task="detection", input_shape=(3, 300, 300),
                 build=_detection.ssdlite_mobilenet_v2,
                 note="raw box and class maps; anchor decoding and NMS are post-processing and not included"),
        ZooEntry(name="deeplabv3plus_mobilenet_v3", task="segmentation", input_shape=(3, 512, 1024),
                 build=_detection.deeplabv3plus_mobilenet_v3,
                 note="MobileNetV3-Large backbone at output stride 16, ASPP rates 6/12/18, stride-4 decoder, "
                      "19 Cityscapes classes; not torchvision's DeepLabV3 (no decoder, 21 classes)"),
    ]
    entries += [
        ZooEntry(name="bert_tiny", task="nlp", input_shape=(128,), input_dtype="int64",
                 build=lambda b, **kw: _transformer.bert_encoder(b, _transformer.BERT_TINY),
                 note="google/bert_uncased_L-2_H-128_A-2 sizes (2 layers, hidden 128, 2 heads); input: token ids"),
        ZooEntry(name="distilbert", task="nlp", input_shape=(128,), input_dtype="int64",
                 build=lambda b, **kw: _transformer.bert_encoder(b, _transformer.DISTILBERT),
                 note="distilbert-base sizes (6 layers, hidden 768, 12 heads); seed 002's 43.2 M is about its "
                      "encoder without embeddings (42.5 M)"),
    ]
    for depth in (18, 34, 50, 101, 152):
        entries.append(ZooEntry(name=f"resnet{depth}", task="classification", input_shape=c224,
                                build=lambda b, d=depth, **kw: _resnet.resnet(d, b, **kw)))
    for depth in (11, 16, 19):
        entries.append(ZooEntry(name=f"vgg{depth}", task="classification", input_shape=c224,
                                build=lambda b, d=depth, **kw: _classic.vgg(d, b, **kw)))
    for width in ("x0_5", "x1_0", "x1_5", "x2_0"):
        entries.append(ZooEntry(name=f"shufflenet_v2_{width}", task="classification", input_shape=c224,
                                build=lambda b, w=width, **kw: _efficient.shufflenet_v2(w, b, **kw)))
    for name in (*_grouped.RESNEXT, *_grouped.REGNET):
        entries.append(ZooEntry(name=name, task="classification", input_shape=c224,
                                build=lambda b, n=name, **kw: _grouped.grouped_resnet(n, b, **kw),
                                note="grouped-convolution bottlenecks; stage table in edgeperf/zoo/_grouped.py"))
    return entries


ENTRIES: dict[str, ZooEntry] = {entry.name: entry for entry in _entries()}
