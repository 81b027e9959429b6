"""Exact work counts of single operators, derived by hand (the arithmetic is in each row)."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto

from edgeperf.estimator import graph_from_model, known_ops
from tests._models import single

I64 = np.int64

# (id, model kwargs, expected: op_class, macs, flops, act_in, weights, act_out)
CASES = [
    ("conv2d_stem",
     dict(op="Conv", in_shapes=[(1, 3, 224, 224)], out_shape=(1, 64, 112, 112),
          weights=[("w", (64, 3, 7, 7)), ("b", (64,))], attrs=dict(strides=[2, 2], pads=[3, 3, 3, 3])),
     # MACs = Cout*Hout*Wout*Cin*k*k = 64*112*112*3*49 = 118_013_952; bias adds 64*112*112 = 802_816
     ("conv", 118_013_952, 2 * 118_013_952 + 802_816, 3 * 224 * 224, 64 * 3 * 49 + 64, 64 * 112 * 112)),
    ("conv_grouped",
     dict(op="Conv", in_shapes=[(1, 32, 56, 56)], out_shape=(1, 64, 56, 56),
          weights=[("w", (64, 8, 3, 3))], attrs=dict(group=4, pads=[1, 1, 1, 1])),
     # each output sees Cin/group = 8 channels: 64*56*56*8*9 = 14_450_688
     ("conv", 14_450_688, 2 * 14_450_688, 32 * 56 * 56, 64 * 8 * 9, 64 * 56 * 56)),
    ("conv_depthwise",
     dict(op="Conv", in_shapes=[(1, 32, 112, 112)], out_shape=(1, 32, 112, 112),
          weights=[("w", (32, 1, 3, 3))], attrs=dict(group=32, pads=[1, 1, 1, 1])),
     # 32*112*112*1*9 = 3_612_672
     ("dwconv", 3_612_672, 2 * 3_612_672, 32 * 112 * 112, 32 * 9, 32 * 112 * 112)),
    ("conv_dilated",
     dict(op="Conv", in_shapes=[(1, 16, 32, 32)], out_shape=(1, 16, 32, 32),
          weights=[("w", (16, 16, 3, 3))], attrs=dict(dilations=[2, 2], pads=[2, 2, 2, 2])),
     # dilation changes the receptive field, not the work: 16*32*32*16*9 = 2_359_296
     ("conv", 2_359_296, 2 * 2_359_296, 16 * 32 * 32, 16 * 16 * 9, 16 * 32 * 32)),
    ("conv1d",
     dict(op="Conv", in_shapes=[(1, 8, 100)], out_shape=(1, 16, 100),
          weights=[("w", (16, 8, 5))], attrs=dict(pads=[2, 2])),
     # 16*100*8*5 = 64_000
     ("conv", 64_000, 128_000, 800, 640, 1600)),
    ("conv3d_c3d",
     dict(op="Conv", in_shapes=[(1, 3, 16, 112, 112)], out_shape=(1, 64, 16, 112, 112),
          weights=[("w", (64, 3, 3, 3, 3))], attrs=dict(pads=[1, 1, 1, 1, 1, 1])),
     # C3D conv1a: 64*16*112*112*3*27 = 1_040_449_536
     ("conv", 1_040_449_536, 2 * 1_040_449_536, 3 * 16 * 112 * 112, 64 * 81, 64 * 16 * 112 * 112)),
    ("conv_transpose",
     dict(op="ConvTranspose", in_shapes=[(1, 16, 8, 8)], out_shape=(1, 8, 16, 16),
          weights=[("w", (16, 8, 4, 4))], attrs=dict(strides=[2, 2], pads=[1, 1, 1, 1])),
     # every input element scatters into M/g*k*k outputs: 16*8*8 * 8*16 = 131_072
     ("conv_transpose", 131_072, 262_144, 16 * 64, 16 * 8 * 16, 8 * 256)),
    ("gemm_fc",
     dict(op="Gemm", in_shapes=[(1, 2048)], out_shape=(1, 1000),
          weights=[("w", (1000, 2048)), ("b", (1000,))], attrs=dict(transB=1)),
     # M*N*K = 1*1000*2048 = 2_048_000; bias 1000
     ("gemm", 2_048_000, 4_096_000 + 1000, 2048, 2_048_000 + 1000, 1000)),
    ("matmul_batched_attention",
     dict(op="MatMul", in_shapes=[(2, 12, 128, 64), (2, 12, 64, 128)], out_shape=(2, 12, 128, 128)),
     # B*H*M*N*K = 2*12*128*128*64 = 25_165_824, both operands are activations
     ("gemm", 25_165_824, 2 * 25_165_824, 2 * 2 * 12 * 128 * 64, 0, 2 * 12 * 128 * 128)),
    ("matmul_weight",
     dict(op="MatMul", in_shapes=[(1, 128, 768)], out_shape=(1, 128, 3072), weights=[("w", (768, 3072))]),
     # 128*3072*768 = 301_989_888
     ("gemm", 301_989_888, 2 * 301_989_888, 128 * 768, 768 * 3072, 128 * 3072)),
    ("add_broadcast",
     dict(op="Add", in_shapes=[(1, 64, 56, 56)], out_shape=(1, 64, 56, 56), weights=[("b", (1, 64, 1, 1))]),
     # one add per output element: 64*56*56 = 200_704
     ("elementwise", 0, 200_704, 200_704, 64, 200_704)),
    ("maxpool",
     dict(op="MaxPool", in_shapes=[(1, 64, 112, 112)], out_shape=(1, 64, 56, 56),
          attrs=dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])),
     # 9 comparisons per output: 64*56*56*9 = 1_806_336
     ("pool", 0, 1_806_336, 64 * 112 * 112, 0, 64 * 56 * 56)),
    ("global_avgpool",
     dict(op="GlobalAveragePool", in_shapes=[(1, 2048, 7, 7)], out_shape=(1, 2048, 1, 1)),
     # one add per input element: 2048*49 = 100_352
     ("pool", 0, 100_352, 100_352, 0, 2048)),
    ("batchnorm",
     dict(op="BatchNormalization", in_shapes=[(1, 64, 56, 56)], out_shape=(1, 64, 56, 56),
          weights=[("s", (64,)), ("b", (64,)), ("m", (64,)), ("v", (64,))]),
     # folded multiply-add: 2 per element = 401_408; reads 4 vectors of 64
     ("norm", 0, 401_408, 200_704, 256, 200_704)),
    ("layernorm",
     dict(op="LayerNormalization", in_shapes=[(1, 128, 768)], out_shape=(1, 128, 768),
          weights=[("s", (768,)), ("b", (768,))], attrs=dict(axis=-1)),
     # 7 ops per element (mean, centre, square, variance, normalise, scale, shift): 7*98_304
     ("norm", 0, 688_128, 98_304, 1536, 98_304)),
    ("softmax",
     dict(op="Softmax", in_shapes=[(1, 12, 128, 128)], out_shape=(1, 12, 128, 128)),
     # 5 ops per element (max, sub, exp, sum, div): 5*196_608
     ("softmax", 0, 983_040, 196_608, 0, 196_608)),
    ("hardswish",
     dict(op="HardSwish", in_shapes=[(1, 16, 112, 112)], out_shape=(1, 16, 112, 112)),
     # HardSigmoid (mul, add, min, max) + mul = 5 per element
     ("activation", 0, 5 * 200_704, 200_704, 0, 200_704)),
    ("clip_relu6",
     dict(op="Clip", in_shapes=[(1, 32, 10, 10)], out_shape=(1, 32, 10, 10),
          weights=[("lo", (), 0.0), ("hi", (), 6.0)]),
     # min + max per element; two scalar constants read
     ("activation", 0, 6400, 3200, 2, 3200)),
    ("resize_bilinear",
     dict(op="Resize", in_shapes=[(1, 3, 10, 10)], out_shape=(1, 3, 20, 20),
          weights=[None, ("scales", (4,), [1.0, 1.0, 2.0, 2.0])], attrs=dict(mode="linear")),
     # 2 resized dims: 4 neighbours, 4 mul + 3 add = 7 per output: 7*1200 = 8400
     ("resize", 0, 8400, 300, 4, 1200)),
    ("reduce_mean",
     dict(op="ReduceMean", in_shapes=[(1, 64, 56, 56)], out_shape=(1, 64, 1, 1),
          weights=[("axes", (2,), [2, 3], I64)], opset=18),
     # one add per input element; the int64 axes tensor is not data
     ("reduce", 0, 200_704, 200_704, 0, 64)),
    ("concat",
     dict(op="Concat", in_shapes=[(1, 32, 28, 28), (1, 32, 28, 28)], out_shape=(1, 64, 28, 28), attrs=dict(axis=1)),
     ("data_movement", 0, 0, 2 * 25_088, 0, 50_176)),
    ("transpose",
     dict(op="Transpose", in_shapes=[(1, 128, 12, 64)], out_shape=(1, 12, 128, 64), attrs=dict(perm=[0, 2, 1, 3])),
     ("data_movement", 0, 0, 98_304, 0, 98_304)),
    ("reshape_free",
     dict(op="Reshape", in_shapes=[(1, 64, 7, 7)], out_shape=(1, 3136), weights=[("shape", (2,), [1, 3136], I64)]),
     ("shape", 0, 0, 3136, 0, 3136)),
    ("einsum_bmm",
     dict(op="Einsum", in_shapes=[(2, 3, 4), (2, 4, 5)], out_shape=(2, 3, 5), attrs=dict(equation="bij,bjk->bik")),
     # product of all index sizes b*i*j*k = 2*3*4*5 = 120
     ("gemm", 120, 240, 24 + 40, 0, 30)),
]


@pytest.mark.parametrize("case_id,spec,expected", CASES, ids=[c[0] for c in CASES])
def test_single_operator_counts(case_id, spec, expected):
    graph = graph_from_model(single(**spec), name=case_id)
    assert len(graph.layers) == 1
    layer = graph.layers[0]
    op_class, macs, flops, act_in, weights, act_out = expected
    assert (layer.op_class, layer.macs, layer.flops) == (op_class, macs, flops)
    assert (layer.act_in_elems, layer.weight_elems, layer.act_out_elems) == (act_in, weights, act_out)


def test_bytes_follow_precision():
    layer = graph_from_model(single(**CASES[0][1])).layers[0]
    elements = 150_528 + 9_472
    assert layer.bytes_read("fp32") == 4 * elements
    assert layer.bytes_read("fp16") == 2 * elements
    assert layer.bytes_written("int8") == 802_816


def test_qlinearconv_is_int8_and_counts_like_conv():
    spec = dict(op="QLinearConv", in_shapes=[(1, 16, 8, 8)], out_shape=(1, 32, 8, 8), out_dtype=TensorProto.UINT8,
                weights=[("xs", (), 0.1), ("xz", (), 0, np.uint8), ("w", (32, 16, 3, 3), None, np.int8),
                         ("ws", (), 0.1), ("wz", (), 0, np.int8), ("ys", (), 0.1), ("yz", (), 0, np.uint8)],
                attrs=dict(pads=[1, 1, 1, 1]))
    spec["weights"][2] = ("w", (32, 16, 3, 3), np.zeros((32, 16, 3, 3)), np.int8)
    model = single(**spec)
    model.graph.input[0].type.tensor_type.elem_type = TensorProto.UINT8
    layer = graph_from_model(model).layers[0]
    assert layer.precision == "int8"
    assert layer.macs == 32 * 8 * 8 * 16 * 9  # 294_912


def test_registry_lists_required_operator_families():
    known = set(known_ops())
    required = {"Conv", "ConvTranspose", "Gemm", "MatMul", "BatchNormalization", "LayerNormalization", "Relu",
                "Clip", "HardSwish", "HardSigmoid", "Gelu", "Erf", "Softmax", "MaxPool", "AveragePool",
                "GlobalAveragePool", "Add", "Mul", "Concat", "Split", "Slice", "Gather", "Pad", "Resize", "ReduceMean",
                "Transpose", "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Shape", "QuantizeLinear",
                "DequantizeLinear", "QLinearConv", "QLinearMatMul", "Sigmoid", "Tanh", "LeakyRelu", "Identity"}
    assert required <= known, sorted(required - known)
