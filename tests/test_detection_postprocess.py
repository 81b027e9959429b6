"""Detector post-processing is a known operator with a cost: ONNX NonMaxSuppression, TFLite_Detection_PostProcess."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper

import edgeperf
from edgeperf.estimator import graph_from_model
from tests._models import model, tensor, weight


def test_onnx_non_max_suppression_by_hand():
    # boxes (1, 100, 4), scores (1, 3, 100); the output count is data-dependent: bounded by 1 x 3 x 100 rows.
    # per class: sort 100 x (ceil(log2 100) + 1) = 800, IoU 8 x 100 kept (worst case) x 100 = 80,000 -> x 3 classes
    node = helper.make_node("NonMaxSuppression", ["boxes", "scores", "k"], ["selected"], name="nms")
    graph = graph_from_model(model([node], [tensor("boxes", (1, 100, 4)), tensor("scores", (1, 3, 100))],
                                   [tensor("selected", None, TensorProto.INT64)],
                                   [weight("k", (1,), dtype=np.int64, value=[10])]))
    (layer,) = graph.layers
    assert layer.op_class == "reduce" and layer.flops == 3 * (800 + 80_000)
    assert layer.output_shapes == ((300, 3),)
    est = edgeperf.estimate(graph, "jetson-nano")
    assert est.total_latency_ms > 0 and "unknown-op" not in est.layers[0].flags


def test_tflite_detection_postprocess_by_hand(tmp_path):
    pytest.importorskip("tflite")
    from tests._tflite import FLOAT32, build

    tensors = [("boxes", (1, 100, 4), FLOAT32, False), ("scores", (1, 100, 3), FLOAT32, False),
               ("anchors", (100, 4), FLOAT32, True), ("det_boxes", (1, 10, 4), FLOAT32, False),
               ("det_classes", (1, 10), FLOAT32, False), ("det_scores", (1, 10), FLOAT32, False),
               ("count", (1,), FLOAT32, False)]
    data = build(tensors, [("custom:TFLite_Detection_PostProcess", [0, 1, 2], [3, 4, 5, 6], {})], [0, 1], [3, 4, 5, 6])
    path = tmp_path / "ssd_post.tflite"
    path.write_bytes(data)
    graph = edgeperf.load_model(str(path))
    (layer,) = graph.layers
    # decode 10 x 100 anchors; per class: sort 800, IoU 8 x 10 kept (max detections) x 100 = 8,000; 3 classes
    assert layer.op_class == "reduce" and layer.flops == 1_000 + 3 * (800 + 8_000)
    assert edgeperf.estimate(graph, "coral-usb").total_latency_ms > 0
