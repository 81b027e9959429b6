"""A small network builder over ``onnx.helper`` that tracks shapes as it goes.

With ``weights=False`` initializers carry dims and data type but no data: the
model is valid input for shape inference and estimation and costs almost no
memory. With ``weights=True`` they hold seeded random values (He-style scale)
so that onnxruntime can run the exported model.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

__all__ = ["NetBuilder", "IR_VERSION", "OPSET"]

#: onnxruntime 1.17+ reads IR version 8 (onnx 1.23 would write 14, which onnxruntime 1.31 refuses).
IR_VERSION = 8
OPSET = 17


def _conv_out(size: int, k: int, stride: int, pad_begin: int, pad_end: int, dilation: int) -> int:
    return (size + pad_begin + pad_end - dilation * (k - 1) - 1) // stride + 1


class NetBuilder:
    """Build an ONNX graph layer by layer (NCHW layout).

    Examples
    --------
    >>> b = NetBuilder("tiny", (1, 3, 8, 8))
    >>> y = b.relu(b.conv(b.input, 4, 3, pad=1))
    >>> b.shape(y)
    (1, 4, 8, 8)
    """

    def __init__(self, name: str, input_shape: tuple[int, ...], *, weights: bool = False, seed: int = 0,
                 input_name: str = "input"):
        self.name = name
        self.weights = weights
        self.rng = np.random.default_rng(seed)
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.shapes: dict[str, tuple[int, ...]] = {input_name: tuple(input_shape)}
        self.input = input_name
        self._counter: dict[str, int] = {}

    # -- bookkeeping ---------------------------------------------------------------------------
    def shape(self, tensor: str) -> tuple[int, ...]:
        return self.shapes[tensor]

    def input_stride(self, tensor: str) -> int:
        """How much smaller than the input a feature map is (along the last axis)."""
        return self.shapes[self.input][-1] // self.shapes[tensor][-1]

    def _name(self, prefix: str) -> str:
        index = self._counter.get(prefix, 0)
        self._counter[prefix] = index + 1
        return f"{prefix}_{index}"

    def _param(self, prefix: str, dims: tuple[int, ...], fan_in: int = 1, fill: float | None = None) -> str:
        name = self._name(prefix)
        if self.weights:
            if fill is not None:
                values = np.full(dims, fill, dtype=np.float32)
            else:
                values = (self.rng.standard_normal(dims) * np.sqrt(2.0 / max(fan_in, 1))).astype(np.float32)
            tensor = numpy_helper.from_array(values, name)
        else:
            tensor = TensorProto(name=name, data_type=TensorProto.FLOAT, dims=list(dims))
        self.initializers.append(tensor)
        self.shapes[name] = tuple(dims)
        return name

    def _const(self, prefix: str, values, dtype=np.int64) -> str:
        name = self._name(prefix)
        array = np.asarray(values, dtype=dtype)
        self.initializers.append(numpy_helper.from_array(array, name))
        self.shapes[name] = array.shape
        return name

    def _node(self, op: str, inputs: list[str], shape: tuple[int, ...], **attrs) -> str:
        out = self._name(op.lower())
        self.nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        self.shapes[out] = tuple(int(d) for d in shape)
        return out

    # -- layers --------------------------------------------------------------------------------
    def conv(self, x: str, c_out: int, k, stride=1, pad=None, groups: int = 1, dilation: int = 1,
             bias: bool = True) -> str:
        n, c_in, *spatial = self.shape(x)
        ks = (k,) * len(spatial) if isinstance(k, int) else tuple(k)
        strides = (stride,) * len(spatial) if isinstance(stride, int) else tuple(stride)
        if pad is None:
            pads_begin = tuple(dilation * (kk - 1) // 2 for kk in ks)
            pads_end = pads_begin
        elif isinstance(pad, int):
            pads_begin = pads_end = (pad,) * len(spatial)
        else:
            pads_begin, pads_end = tuple(pad[: len(spatial)]), tuple(pad[len(spatial):])
        out_spatial = tuple(_conv_out(s, kk, st, pb, pe, dilation)
                            for s, kk, st, pb, pe in zip(spatial, ks, strides, pads_begin, pads_end))
        weight = self._param("w", (c_out, c_in // groups, *ks), fan_in=(c_in // groups) * int(np.prod(ks)))
        inputs = [x, weight]
        if bias:
            inputs.append(self._param("b", (c_out,), fill=0.0))
        return self._node("Conv", inputs, (n, c_out, *out_spatial), kernel_shape=list(ks), strides=list(strides),
                          pads=list(pads_begin) + list(pads_end), group=groups, dilations=[dilation] * len(spatial))

    def bn(self, x: str) -> str:
        c = self.shape(x)[1]
        scale, shift = self._param("bn_scale", (c,), fill=1.0), self._param("bn_shift", (c,), fill=0.0)
        mean, var = self._param("bn_mean", (c,), fill=0.0), self._param("bn_var", (c,), fill=1.0)
        return self._node("BatchNormalization", [x, scale, shift, mean, var], self.shape(x), epsilon=1e-5)

    def relu(self, x: str) -> str:
        return self._node("Relu", [x], self.shape(x))

    def relu6(self, x: str) -> str:
        lo = self._const("clip_min", np.float32(0.0), np.float32)
        hi = self._const("clip_max", np.float32(6.0), np.float32)
        return self._node("Clip", [x, lo, hi], self.shape(x))

    def hardswish(self, x: str) -> str:
        return self._node("HardSwish", [x], self.shape(x))

    def hardsigmoid(self, x: str) -> str:
        return self._node("HardSigmoid", [x], self.shape(x), alpha=1.0 / 6.0, beta=0.5)

    def sigmoid(self, x: str) -> str:
        return self._node("Sigmoid", [x], self.shape(x))

    def silu(self, x: str) -> str:
        return self.mul(x, self.sigmoid(x))

    def leaky_relu(self, x: str, alpha: float = 0.1) -> str:
        return self._node("LeakyRelu", [x], self.shape(x), alpha=alpha)

    def add(self, a: str, b: str) -> str:
        return self._node("Add", [a, b], np.broadcast_shapes(self.shape(a), self.shape(b)))

    def mul(self, a: str, b: str) -> str:
        return self._node("Mul", [a, b], np.broadcast_shapes(self.shape(a), self.shape(b)))

    def maxpool(self, x: str, k, stride, pad=0, ceil: bool = False) -> str:
        return self._pool("MaxPool", x, k, stride, pad, ceil)

    def avgpool(self, x: str, k, stride, pad=0, ceil: bool = False) -> str:
        return self._pool("AveragePool", x, k, stride, pad, ceil)

    def _pool(self, op: str, x: str, k, stride, pad, ceil: bool) -> str:
        n, c, *spatial = self.shape(x)
        rank = len(spatial)
        ks = (k,) * rank if isinstance(k, int) else tuple(k)
        ss = (stride,) * rank if isinstance(stride, int) else tuple(stride)
        ps = (pad,) * rank if isinstance(pad, int) else tuple(pad)
        begin, end = (ps, ps) if len(ps) == rank else (ps[:rank], ps[rank:])  # symmetric, or begin + end
        out = []
        for size_in, kk, st, pb, pe in zip(spatial, ks, ss, begin, end):
            span = size_in + pb + pe - kk
            size = (-(-span // st) if ceil else span // st) + 1
            if ceil and (size - 1) * st >= size_in + pb:
                size -= 1
            out.append(size)
        attrs = dict(kernel_shape=list(ks), strides=list(ss), pads=list(begin) + list(end), ceil_mode=int(ceil))
        if op == "AveragePool":
            attrs["count_include_pad"] = 0
        return self._node(op, [x], (n, c, *out), **attrs)

    def global_avgpool(self, x: str) -> str:
        n, c, *spatial = self.shape(x)
        return self._node("GlobalAveragePool", [x], (n, c, *([1] * len(spatial))))

    def flatten(self, x: str) -> str:
        shape = self.shape(x)
        return self._node("Flatten", [x], (shape[0], int(np.prod(shape[1:]))), axis=1)

    def gemm(self, x: str, n_out: int, bias: bool = True) -> str:
        n, n_in = self.shape(x)
        inputs = [x, self._param("fc_w", (n_out, n_in), fan_in=n_in)]
        if bias:
            inputs.append(self._param("fc_b", (n_out,), fill=0.0))
        return self._node("Gemm", inputs, (n, n_out), transB=1)

    def concat(self, tensors: list[str], axis: int = 1) -> str:
        shapes = [self.shape(t) for t in tensors]
        out = list(shapes[0])
        out[axis] = sum(s[axis] for s in shapes)
        return self._node("Concat", tensors, tuple(out), axis=axis)

    def lrn(self, x: str, size: int = 5) -> str:
        return self._node("LRN", [x], self.shape(x), size=size, alpha=1e-4, beta=0.75, bias=1.0)

    def linear(self, x: str, n_out: int, bias: bool = True) -> str:
        """A dense layer on the last axis of a tensor of any rank (MatMul [+ Add])."""
        shape = self.shape(x)
        y = self._node("MatMul", [x, self._param("lin_w", (shape[-1], n_out), fan_in=shape[-1])], (*shape[:-1], n_out))
        return self.add(y, self._param("lin_b", (n_out,), fill=0.0)) if bias else y

    def layernorm(self, x: str) -> str:
        c = self.shape(x)[-1]
        scale, shift = self._param("ln_scale", (c,), fill=1.0), self._param("ln_shift", (c,), fill=0.0)
        return self._node("LayerNormalization", [x, scale, shift], self.shape(x), axis=-1, epsilon=1e-12)

    def gelu(self, x: str) -> str:
        """GELU as exporters write it below opset 20: x * 0.5 * (1 + erf(x / sqrt(2)))."""
        scaled = self._node("Div", [x, self._const("sqrt2", np.float32(np.sqrt(2.0)), np.float32)], self.shape(x))
        erf = self._node("Erf", [scaled], self.shape(x))
        one_plus = self._node("Add", [erf, self._const("one", np.float32(1.0), np.float32)], self.shape(x))
        half = self._node("Mul", [x, self._const("half", np.float32(0.5), np.float32)], self.shape(x))
        return self._node("Mul", [half, one_plus], self.shape(x))

    def reshape(self, x: str, shape) -> str:
        return self._node("Reshape", [x, self._const("shape", list(shape))], tuple(shape))

    def transpose(self, x: str, perm) -> str:
        shape = self.shape(x)
        return self._node("Transpose", [x], tuple(shape[p] for p in perm), perm=list(perm))

    def upsample(self, x: str, factor: int, mode: str = "nearest") -> str:
        n, c, *spatial = self.shape(x)
        scales = self._const("scales", [1.0, 1.0] + [float(factor)] * len(spatial), np.float32)
        return self._node("Resize", [x, "", scales], (n, c, *(s * factor for s in spatial)), mode=mode)

    def resize_to(self, x: str, size, mode: str = "linear") -> str:
        n, c, *_ = self.shape(x)
        sizes = self._const("sizes", [n, c, *size])
        return self._node("Resize", [x, "", "", sizes], (n, c, *size), mode=mode)

    def channel_shuffle(self, x: str, groups: int) -> str:
        n, c, h, w = self.shape(x)
        y = self.reshape(x, (n, groups, c // groups, h, w))
        y = self.transpose(y, (0, 2, 1, 3, 4))
        return self.reshape(y, (n, c, h, w))

    def slice_channels(self, x: str, start: int, end: int) -> str:
        n, _, *spatial = self.shape(x)
        starts, ends, axes = self._const("starts", [start]), self._const("ends", [end]), self._const("axes", [1])
        return self._node("Slice", [x, starts, ends, axes], (n, end - start, *spatial))

    def gather_rows(self, table_shape, indices_shape) -> str:
        """An embedding lookup: Gather from a (vocab, dim) table with int64 indices (a graph input)."""
        table = self._param("embedding", tuple(table_shape), fan_in=1)
        return self._node("Gather", [table, self.input], (*indices_shape, table_shape[1]), axis=0)

    def softmax(self, x: str, axis: int = -1) -> str:
        return self._node("Softmax", [x], self.shape(x), axis=axis)

    def dropout(self, x: str) -> str:
        return self._node("Dropout", [x], self.shape(x))

    # -- result --------------------------------------------------------------------------------
    def build(self, outputs: list[str], input_type: int = TensorProto.FLOAT) -> onnx.ModelProto:
        """The finished ModelProto with the given output tensors."""
        graph = helper.make_graph(
            self.nodes, self.name,
            [helper.make_tensor_value_info(self.input, input_type, list(self.shapes[self.input]))],
            [helper.make_tensor_value_info(o, TensorProto.FLOAT, list(self.shapes[o])) for o in outputs],
            self.initializers,
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="edgeperf.zoo")
        model.ir_version = IR_VERSION
        return model
