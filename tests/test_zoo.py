"""The zoo: every entry builds, passes onnx.checker, has its published counts; small ones run in onnxruntime."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import onnx
import pytest

import edgeperf
from edgeperf import ModelError
from edgeperf.estimator import graph_from_model
from edgeperf.estimator import load_model
from edgeperf.zoo import build_model, build_space_model, list_entries
from edgeperf.zoo._nas import latbench_vertices, parse_nb201

TV = "torchvision 0.29 model documentation (num_params, GFLOPS = GMACs)"
LATBENCH = Path(__file__).resolve().parents[2] / "shared" / "external" / "latbench_brpnas_nb201_latency_seconds.csv"
A3 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"

# (reference, build options, published params, published MACs or None, source)
PUBLISHED = [
    ("alexnet", {}, 61_100_840, 0.714e9, TV),
    ("vgg11", {}, 132_863_336, 7.609e9, TV),
    ("vgg16", {}, 138_357_544, 15.47e9, TV),
    ("vgg19", {}, 143_667_240, 19.63e9, TV),
    ("vgg_s", {}, 102.91e6, None, "seed 001 model table (VGG-S 224x224: 102.91 M parameters)"),
    ("resnet18", {}, 11_689_512, 1.814e9, TV),
    ("resnet50", {}, 25_557_032, 4.089e9, TV),
    ("resnet101", {}, 44_549_160, 7.801e9, TV),
    ("xception", {"input_size": (224, 224)}, 22.91e6, 4.65e9, "seed 001 model table (Xception 224x224)"),
    ("mobilenet_v1", {}, 4.2e6, 569e6, "Howard et al. 2017, table 8 (1.0 MobileNet-224: 4.2 M, 569 M mult-adds)"),
    ("mobilenet_v1@0.5", {}, 1.3e6, 149e6, "Howard et al. 2017, table 6 (0.50 MobileNet-224: 1.3 M, 149 M mult-adds)"),
    ("mobilenet_v2", {}, 3_504_872, 0.301e9, TV),
    ("mobilenet_v3_small", {}, 2_542_856, 0.057e9, TV),
    ("mobilenet_v3_large", {}, 5_483_032, 0.217e9, TV),
    ("googlenet", {}, 6_624_904, 1.498e9, TV),
    ("inception_v3", {}, 23_851_784, 5.713e9, "Keras Applications (InceptionV3 23,851,784 parameters); torchvision GFLOPS"),
    ("inception_v4", {}, 42.71e6, 12.27e9, "seed 001 model table (Inception-v4: 12.27 GFLOP, 42.71 M)"),
    ("squeezenet1_0", {}, 1_248_424, 0.819e9, TV),
    ("squeezenet1_1", {}, 1_235_496, 0.349e9, TV),
    ("shufflenet_v2_x0_5", {}, 1_366_792, 0.04e9, TV),
    ("shufflenet_v2_x1_0", {}, 2_278_604, 0.145e9, TV),
    ("shufflenet_v2_x1_5", {}, 3_503_624, 0.30e9, TV),
    ("shufflenet_v2_x2_0", {}, 7_393_996, 0.58e9, TV),
    ("efficientnet_b0", {}, 5_288_548, 0.386e9, TV),
    ("densenet121", {}, 7_978_856, 2.834e9, TV),
    ("cifarnet", {}, 0.79e6, None, "seed 001 model table (CifarNet 32x32: 0.79 M; 0.01 GFLOP)"),
    ("dense1", {}, 7_850, None, "seed 004 (Dense1: 7'850 parameters)"),
    ("conv3dense1", {}, 119_530, None, "seed 004 (Conv3Dense1: 119'530 parameters)"),
    ("yolov3_tiny", {}, 8.86e6, 5.571e9 / 2, "darknet yolov3-tiny.cfg at 416: 5.571 BFLOPs (2 per MAC); ~8.9 M weights"),
    ("yolov3", {}, 62.00e6, 65.86e9 / 2, "seed 001 (YOLOv3: 62.00 M); darknet yolov3.cfg at 416: 65.86 BFLOPs"),
    ("yolov5s", {}, 7_235_389, 16.5e9 / 2, "Ultralytics YOLOv5 v6 README (7.2 M, 16.5 GFLOPs at 640)"),
    ("yolov5m", {}, 21_190_557, 49.0e9 / 2, "Ultralytics YOLOv5 v6 README (21.2 M, 49.0 GFLOPs at 640)"),
    ("ssdlite_mobilenet_v2", {"input_size": (320, 320), "num_classes": 81}, 4.3e6, 0.8e9,
     "Sandler et al. 2018 (MobileNetV2), table 6: SSDLite, 320x320, 4.3 M parameters, 0.8 B MAdds"),
    ("bert_tiny", {}, 4.4e6, None, "seed 002 workload table (BERT-Tiny: 4.4 M)"),
    ("distilbert", {}, 66e6, None, "Sanh et al. 2019 (DistilBERT: 66 M parameters)"),
    (f"nb201:{A3}", {}, 1.53e6, 220.11e6, "NAS-Bench-201 (Dong & Yang 2020): the all-3x3 cell, 1.53 M params, 220.11 M FLOPs"),
]


def _graph(reference: str, options: dict):
    if ":" in reference:
        return load_model("zoo:" + reference)
    return graph_from_model(build_model(reference, **options), name=reference)


@pytest.mark.parametrize("reference,options,params,macs,source", PUBLISHED, ids=[p[0][:30] for p in PUBLISHED])
def test_published_counts_within_3_percent(reference, options, params, macs, source):
    graph = _graph(reference, options)
    assert graph.params == pytest.approx(params, rel=0.03), source
    if macs is not None:
        assert graph.macs == pytest.approx(macs, rel=0.03), source


def test_seed_figures_that_the_zoo_does_not_match_are_documented():
    """Variants that differ from a published figure say so in their note."""
    from edgeperf.zoo import ENTRIES

    # seed 001 lists AlexNet with 102.14 M parameters; torchvision's variant has 61.1 M
    assert "102.14" in ENTRIES["alexnet"].note
    assert "43.2" in ENTRIES["distilbert"].note
    # VGG-S at 224: 102.9 M parameters as published, but 2.64 G MACs against seed 001's 3.27 GFLOP
    assert graph_from_model(build_model("vgg_s")).macs == pytest.approx(2.64e9, rel=0.01)


def test_c3d_by_hand_from_the_papers_layer_table():
    # 8 convolutions 3x3x3 (64, 128, 256, 256, 512, 512, 512, 512), pool5 -> 512x1x4x4, fc 4096, 4096, 487
    convs = [(3, 64), (64, 128), (128, 256), (256, 256), (256, 512), (512, 512), (512, 512), (512, 512)]
    params = sum(c_in * c_out * 27 + c_out for c_in, c_out in convs)
    params += 8192 * 4096 + 4096 + 4096 * 4096 + 4096 + 4096 * 487 + 487
    assert graph_from_model(build_model("c3d")).params == params


def _checkable(model: onnx.ModelProto, folder) -> str:
    """Save a weight-free model with its weights declared as external data in a sparse file (no disk, no time)."""
    offset = 0
    for tensor in model.graph.initializer:
        if tensor.raw_data or tensor.float_data or tensor.int64_data or tensor.int32_data:
            continue
        length = int(np.prod(tensor.dims)) * 4
        tensor.data_location = onnx.TensorProto.EXTERNAL
        for key, value in (("location", "weights.bin"), ("offset", str(offset)), ("length", str(length))):
            entry = tensor.external_data.add()
            entry.key, entry.value = key, value
        offset += length
    with open(folder / "weights.bin", "wb") as handle:
        handle.truncate(offset)
    path = folder / "model.onnx"
    onnx.save(model, path)
    return str(path)


@pytest.mark.parametrize("name", list_entries())
def test_every_entry_builds_and_passes_the_checker(name, tmp_path):
    path = _checkable(build_model(name), tmp_path)
    onnx.checker.check_model(path, full_check=True)
    graph = edgeperf.load_model(path)  # weights declared external are never read
    assert graph.macs > 0 and graph.params > 0


_SMALL = {"dense1", "conv3dense1", "cifarnet", "squeezenet1_1", "mobilenet_v3_small", "shufflenet_v2_x0_5",
          "bert_tiny"}


@pytest.mark.parametrize("name", sorted(_SMALL))
def test_small_entries_run_in_onnxruntime(name, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    model = build_model(name, weights=True)
    path = tmp_path / f"{name}.onnx"
    onnx.save(model, path)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feed = session.get_inputs()[0]
    if "int64" in feed.type:
        data = np.random.default_rng(0).integers(0, 30522, size=feed.shape).astype(np.int64)
    else:
        data = np.random.default_rng(0).standard_normal(feed.shape).astype(np.float32)
    outputs = session.run(None, {feed.name: data})
    graph = edgeperf.load_model(path)
    assert [tuple(o.shape) for o in outputs] == [shape for _, shape in graph.outputs]


@pytest.mark.parametrize("space,arch", [
    ("nb201", A3), ("nb201-latbench", A3),
    ("nb201", "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"),
    ("nb201-eager", "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|nor_conv_3x3~0|none~1|none~2|"),
    ("fbnet", "7-8-1-8-4-8-8-8-7-4-1-4-7-3-2-7-3-2-4-2-4-5"),
    ("fbnet", " ".join(["k3_e1_g2"] * 22)),
])
def test_search_space_members_run_in_onnxruntime(space, arch, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    path = tmp_path / "member.onnx"
    onnx.save(build_space_model(space, arch, weights=True), path)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    out = session.run(None, {"input": np.zeros((1, 3, 32, 32), np.float32)})[0]
    assert out.shape == ((1, 100) if space == "fbnet" else (1, 10))


def test_fbnet_names_and_indices_agree():
    by_index = load_model("zoo:fbnet:7-8-1-8-4-8-8-8-7-4-1-4-7-3-2-7-3-2-4-2-4-5")
    by_name = load_model("zoo:fbnet:k5_e6 skip k3_e1_g2 skip k5_e1 skip skip skip k5_e6 k5_e1 k3_e1_g2 k5_e1 k5_e6 k3_e6 "
                          "k3_e3 k5_e6 k3_e6 k3_e3 k5_e1 k3_e3 k5_e1 k5_e1_g2")
    assert by_index.macs == by_name.macs and by_index.params == by_name.params


@pytest.mark.parametrize("arch,expected", [
    # every edge a skip: the cell is its input
    ("|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|",
     {7: ("output", (0,))}),
    # node 1 is zero: the ops reading it (1->2 none, 1->3 conv1x1) are not executed
    ("|none~0|+|nor_conv_3x3~0|none~1|+|none~0|nor_conv_1x1~1|avg_pool_3x3~2|",
     {2: ("nor_conv_3x3", (0,)), 6: ("avg_pool_3x3", (2,)), 7: ("output", (6,))}),
    # skips become connections: the output sums the input, the conv 0->2, the pool 1->2 and the conv 1->3
    ("|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|",
     {1: ("nor_conv_3x3", (0,)), 2: ("nor_conv_3x3", (0,)), 3: ("avg_pool_3x3", (1,)), 5: ("nor_conv_3x3", (1,)),
      7: ("output", (0, 2, 3, 5))}),
    # a conv that reaches no output is pruned
    ("|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|", {7: ("output", (0,))}),
    ("|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|", None),
])
def test_latbench_cell_rewriting(arch, expected):
    assert latbench_vertices(parse_nb201(arch)) == expected


def test_latbench_network_executes_the_rewritten_cell():
    arch = "|none~0|+|nor_conv_3x3~0|none~1|+|none~0|nor_conv_1x1~1|avg_pool_3x3~2|"
    graph = load_model(f"zoo:nb201-latbench:{arch}")
    convs = [layer for layer in graph.layers if layer.op_type == "Conv"]
    # stem + 3 per reduction x 2 + one 3x3 conv per cell x 15; no 1x1 conv inside cells
    assert len(convs) == 1 + 6 + 15
    assert sum(layer.op_type == "AveragePool" for layer in graph.layers) == 2 + 15
    with pytest.raises(ModelError, match="no path joins"):
        load_model("zoo:nb201-latbench:|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|")


@pytest.mark.skipif(not LATBENCH.is_file(), reason="../shared/external (LatBench data) is not present")
def test_latbench_measured_exactly_the_connected_cells():
    """LatBench left blank the architectures whose cell joins no input to output: the rewriting finds the same 341."""
    with open(LATBENCH, newline="") as stream:
        rows = list(csv.DictReader(stream))
    blank = {r["arch_str"] for r in rows if not r["embedded-gpu-jetson-nano-fp16"]}
    disconnected = {r["arch_str"] for r in rows if latbench_vertices(parse_nb201(r["arch_str"])) is None}
    assert len(rows) == 15625 and len(blank) == 341
    assert disconnected == blank


def test_eager_nb201_runs_every_edge_as_pytorch_does():
    """A cell whose output reads only node 2, itself zero: nb201 leaves out what cannot reach the output, eager runs it."""
    from collections import Counter

    arch = "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|nor_conv_3x3~0|none~1|none~2|"
    kept, eager = (Counter(layer.op_type for layer in load_model(f"zoo:{space}:{arch}").layers)
                   for space in ("nb201", "nb201-eager"))
    # nb201: per cell only the conv 0->3 reaches the output: stem 1 + reductions 2 x 3 + 15 = 22 convolutions
    assert kept["Conv"] == 22 and kept["Mul"] == 0
    # eager: all three convs per cell run (1 + 6 + 45 = 52); each none edge is x * 0 (3 per cell, 45);
    # each node is sum() from 0: 1 + 2 + 3 additions per cell (90) plus one per reduction (2)
    assert eager["Conv"] == 52 and eager["Mul"] == 45 and eager["Add"] == 92
    # ReLU-Conv-BN per cell conv (45 each), 2 per reduction (4 each), stem Conv-BN (1 BN), final BN-ReLU (1 each)
    assert eager["BatchNormalization"] == 45 + 4 + 1 + 1 and eager["Relu"] == 45 + 4 + 1
    plain = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
    assert load_model(f"zoo:nb201-eager:{plain}").macs == load_model(f"zoo:nb201:{plain}").macs   # nothing dead: same work


def test_latbench_variant_differs_from_the_original():
    original, latbench = load_model(f"zoo:nb201:{A3}"), load_model(f"zoo:nb201-latbench:{A3}")
    assert not any(layer.op_type == "BatchNormalization" for layer in latbench.layers)
    assert any(layer.op_type == "BatchNormalization" for layer in original.layers)


@pytest.mark.parametrize("reference,fragment", [
    ("zoo:resnet5", "no network 'resnet5'"),
    ("zoo:nb202:|none~0|", "no search space 'nb202'"),
    ("zoo:nb201:|nor_conv_3x3~0|", "3 nodes"),
    ("zoo:nb201:|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|", "bad edge 'conv~0'"),
    ("zoo:nb201:|none~1|+|none~0|none~1|+|none~0|none~1|none~2|", "bad edge"),
    ("zoo:fbnet:1-2-3", "has 3 blocks"),
    ("zoo:fbnet:k9_e1", "unknown block"),
])
def test_bad_zoo_references(reference, fragment, capsys):
    with pytest.raises(ModelError, match=fragment):
        edgeperf.load_model(reference)
    from edgeperf.cli import main

    assert main(["estimate", reference, "-p", "jetson-nano"]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_building_for_estimation_is_fast_and_weight_free():
    import time

    start = time.process_time()             # CPU time: other load on the machine does not count
    graph = load_model("zoo:resnet50")
    elapsed = time.process_time() - start
    model = build_model("resnet50")
    assert all(not t.raw_data and not t.float_data for t in model.graph.initializer if len(t.dims) > 1)
    assert graph.params == 25_557_032
    assert elapsed < 1.0  # "well under a second"; typically ~20 ms here


def test_fbnet_block_networks_from_hwnasbench_keys():
    import edgeperf

    # inverted residual: 1x1 expand to 16*6 = 96, 5x5 depthwise stride 2 (112 -> 56), 1x1 project to 24
    est = edgeperf.estimate("zoo:fbnet-block:ConvBlock_H112_W112_Cin16_Cout24_exp6_kernel5_stride2_group1", "jetson-tx2")
    expand = 96 * 112 * 112 * 16
    depthwise = 96 * 56 * 56 * 25
    project = 24 * 56 * 56 * 96
    assert est.total_macs == expand + depthwise + project
    fc = edgeperf.estimate("zoo:fbnet-block:FC_Cin1984_Cout1000", "jetson-tx2")
    assert fc.total_macs == 1984 * 1000
    with pytest.raises(edgeperf.ModelError, match="not an FBNet block key"):
        edgeperf.estimate("zoo:fbnet-block:Conv_H1", "jetson-tx2")
