"""onnxruntime's blocked NCHWc layout on x86 CPUs: which convolutions run in it, and the reorders around the rest.

With graph optimization level "all", onnxruntime's CPU provider rewrites eligible float 2-D convolutions
into its blocked layout (channels in blocks of ``block`` floats: 16 with AVX-512F, 8 with AVX2) and keeps
their outputs blocked through the operators that accept that layout. Read from onnxruntime's
``NchwcTransformerImpl`` (``onnxruntime/core/optimizer/nchwc_transformer.cc``), the rule is:

* a dense convolution (group 1) runs blocked when its input channels are fewer than one block (it then
  reads the plain tensor directly) or a multiple of the block;
* a depthwise one (one input channel per group, as many outputs as groups) when its channels are a
  multiple of the block;
* any other grouped one when its output channels, its input channels per group and its output channels
  per group are all multiples of the block.

Later onnxruntime releases pad channels up to the block: probed on onnxruntime 1.32 (a graph of one
convolution, its optimized graph saved with ``SessionOptions.optimized_model_filepath``), dense
convolutions with at least a block of input channels and depthwise ones run blocked whenever their
channels are a multiple of 4 (20 channels as 32 with a block of 16; 18 or 58 channels do not), while
other grouped ones keep the strict rule. ``pad_multiple`` says which: 4 there, the block itself where
the runtime does not pad. A calibration probes its runtime for it.

Everything else runs the generic path (im2col and a GEMM per group), which edgeperf costs as classes of
their own: ``conv_generic`` (dense), ``gconv_generic`` (grouped) and ``dwconv_generic`` (depthwise).

Padded channels are computed and moved: the blocked kernels of MLAS (``onnxruntime/core/mlas/lib/snchwc.cpp``)
work on whole blocks of channels, and the padded weights are zeros, not skipped. A blocked layer whose
channels are not a multiple of the block therefore costs as its padded channels do: a dense
convolution's work grows with its padded input and output channels (24 -> 24 channels with a block of
16: 32 x 32 / (24 x 24) = 1.78x), a depthwise convolution's, a pooling's and an element-wise layer's
with its padded channels; reads grow with the input's padding and writes with the output's
(``NchwcLayout.padded``; the mapping marks such layers ``nchwc-padded``).

The layout flows on through max/average pooling (channels a multiple of the block), global pooling,
Relu/Sigmoid/Tanh and batch normalisation of a blocked input, the activations a convolution absorbs
(onnxruntime fuses Clip, LeakyRelu and HardSigmoid into the convolution before this rewrite), Add/Sum/Mul
of blocked inputs of one shape, and Concat on the channel axis of blocked inputs whose channels are
multiples of the block. A ``ReorderInput`` kernel converts a plain tensor for the blocked operators that
read it (one per tensor, shared); a ``ReorderOutput`` kernel converts a blocked tensor back for the plain
operators (and graph outputs) that read it (one per tensor). Each reads and writes the tensor once. They
are a class of their own, ``reorder``, not ``data_movement``: MLAS's ``MlasReorderInput`` and
``MlasReorderOutput`` gather or scatter one float at a time with a stride of a whole channel plane (or
of a block), where a Concat or Split copies contiguous runs, so their time per byte differs.

A batch normalisation of a blocked input is not a normalisation kernel there: onnxruntime rewrites it
into a blocked depthwise 1x1 convolution (scale and shift as its weights and bias, a following Relu
fused), at any channel count, while one of a plain input stays ``BatchNormalization`` (checked on
onnxruntime 1.32's optimized graphs: DenseNet-121's 62 pre-activation normalisations all became
``com.microsoft.nchwc`` Conv nodes with ``group`` = channels). Such a layer is costed as ``dwconv``
with one multiply-add per output element.

Simplifications (assumptions, stated): a reorder moves the tensor's own channels, not their padding;
Resize and Transpose of a blocked tensor are taken as plain
operators (onnxruntime keeps a nearest, asymmetric, floor-rounded Resize blocked and turns an NCHW->NHWC
Transpose into the reorder itself); the reorder passes onnxruntime runs afterwards (moving a
ReorderOutput past a Sum/Relu/Concat, cancelling ReorderOutput->ReorderInput pairs) are not modelled.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ._ir import Layer

__all__ = ["Nchwc", "NchwcLayout", "nchwc_layout", "conv_path", "NCHWC_BLOCKS", "GENERIC_CLASSES"]

#: Block sizes onnxruntime's MLAS uses (floats per block): 8 with AVX2, 16 with AVX-512F.
NCHWC_BLOCKS = (8, 16)
#: The class a convolution off the blocked path is costed as, by the class it has in the IR (and grouping).
GENERIC_CLASSES = {"conv": "conv_generic", "gconv": "gconv_generic", "dwconv": "dwconv_generic"}

_PASS_ALWAYS = frozenset({"Relu", "Sigmoid", "Tanh", "BatchNormalization"})
_PASS_AFTER_CONV = frozenset({"Clip", "LeakyRelu", "HardSigmoid"})
_BINARY = frozenset({"Add", "Sum", "Mul"})
_POOL = frozenset({"MaxPool", "AveragePool"})
_GLOBAL_POOL = frozenset({"GlobalMaxPool", "GlobalAveragePool"})


@dataclass(frozen=True, slots=True, kw_only=True)
class Nchwc:
    """The runtime's blocked layout: ``block`` floats per channel block, and where that number came from."""

    block: int
    pad_multiple: int | None = None     # channels padded up to the block when a multiple of this (None: the block)
    source: str = ""

    def __post_init__(self) -> None:
        if isinstance(self.block, bool) or self.block not in NCHWC_BLOCKS:
            raise ValueError(f"nchwc.block must be one of {NCHWC_BLOCKS} (floats per block), got {self.block!r}")
        pad = self.pad_multiple
        if pad is not None and (isinstance(pad, bool) or not isinstance(pad, int) or pad < 1 or self.block % pad):
            raise ValueError(f"nchwc.pad_multiple must divide the block {self.block}, got {pad!r}")

    @property
    def multiple(self) -> int:
        """Channels a dense or depthwise convolution needs a multiple of to run blocked."""
        return self.pad_multiple or self.block


@dataclass(frozen=True, slots=True)
class NchwcLayout:
    """What the blocked layout does to one graph.

    ``generic`` maps each convolution off the blocked path to its generic class; ``reorder_in`` maps a
    layer to the (tensor, shape) it needs converted into the blocked layout before it runs;
    ``reorder_out`` maps a layer to the (tensor, shape) of its outputs converted back after it runs;
    ``norm_as_dwconv`` names the batch normalisations of blocked inputs, which run as depthwise convolutions;
    ``padded`` maps a blocked layer whose channels the runtime pads up to whole blocks to the factors
    (input, output) by which its read and written channels grow (:func:`_grown`).
    """

    generic: dict
    reorder_in: dict
    reorder_out: dict
    norm_as_dwconv: frozenset = frozenset()
    padded: dict = field(default_factory=dict)


def conv_path(layer: Layer, block: int, multiple: int | None = None) -> str | None:
    """``"blocked"``, ``"blocked-plain-input"`` (fewer input channels than a block), or the generic class.

    None for a layer that is not a float 2-D ``Conv``.

    >>> from edgeperf.estimator import Layer
    >>> def conv(c_in, c_out, groups):
    ...     return Layer(name="c", op_type="Conv", op_class="dwconv" if groups == c_in and groups > 1 else "conv",
    ...                  input_shapes=((1, c_in, 8, 8),), output_shapes=((1, c_out, 8, 8),),
    ...                  geometry=(("c_in", c_in), ("c_out", c_out), ("groups", groups)))
    >>> conv(116, 116, 116).op_class, conv_path(conv(116, 116, 116), 16), conv_path(conv(128, 128, 128), 16)
    ('dwconv', 'dwconv_generic', 'blocked')
    >>> conv_path(conv(128, 128, 32), 16), conv_path(conv(512, 512, 32), 16), conv_path(conv(3, 64, 1), 16)
    ('gconv_generic', 'blocked', 'blocked-plain-input')
    >>> conv_path(conv(116, 116, 116), 16, multiple=4), conv_path(conv(58, 58, 58), 16, multiple=4)
    ('blocked', 'dwconv_generic')
    """
    multiple = multiple or block
    if (layer.op_type != "Conv" or layer.precision == "int8" or not layer.input_shapes
            or len(layer.input_shapes[0]) != 4 or layer.dim("d_out") != 1):
        return None
    c_in, c_out, groups = layer.dim("c_in"), layer.dim("c_out"), layer.dim("groups")
    if groups == 1:
        if c_in < block:
            return "blocked-plain-input"
        return "blocked" if c_in % multiple == 0 else GENERIC_CLASSES["conv"]
    per_group_in, per_group_out = c_in // groups, c_out // groups
    if per_group_in == 1 and c_out == groups:
        return "blocked" if c_out % multiple == 0 else GENERIC_CLASSES["dwconv"]
    if c_out % block or per_group_in % block or per_group_out % block:
        return GENERIC_CLASSES["dwconv" if layer.op_class == "dwconv" else "gconv"]
    return "blocked"


def nchwc_layout(layers, nchwc: Nchwc, graph_outputs: set) -> NchwcLayout:
    """Walk ``layers`` (topological order) as onnxruntime's rewrite does: blocked tensors, generic convolutions, reorders."""
    walk = _Walk(nchwc)
    for layer in layers:
        if layer.inputs and layer.outputs and layer.output_shapes:
            walk.step(layer)
    blocked = walk.blocked
    reorder_out = _reorders_out(layers, blocked, walk.blocked_reads, walk.shapes, graph_outputs)
    norm_as_dwconv = frozenset(layer.name for layer in layers      # batch normalisations left blocked
                               if layer.op_type == "BatchNormalization" and layer.outputs and layer.outputs[0] in blocked)
    return NchwcLayout(generic=walk.generic, reorder_in=walk.reorder_in, reorder_out=reorder_out,
                       norm_as_dwconv=norm_as_dwconv, padded=walk.padded)


class _Walk:
    """The state of onnxruntime's rewrite as it walks a graph: which tensors are blocked, and what that costs."""

    def __init__(self, nchwc: Nchwc):
        self.nchwc = nchwc
        self.blocked: dict[str, int] = {}          # blocked tensor -> its channels
        self.from_conv: set[str] = set()           # blocked tensors a convolution (or its absorbed activation) wrote
        self.blocked_reads: dict[str, set] = {}    # blocked tensor -> names of the layers that read it blocked
        self.generic: dict[str, str] = {}
        self.padded: dict[str, tuple[float, float]] = {}
        self.reorder_in: dict[str, list] = {}
        self.converted: set[str] = set()           # plain tensors already reordered into the blocked layout
        self.shapes: dict[str, tuple] = {}

    def step(self, layer: Layer) -> None:
        """One layer (with inputs, outputs and output shapes): blocked, generic, or left plain."""
        nchwc, blocked, first = self.nchwc, self.blocked, layer.inputs[0]
        channels = layer.output_shapes[0][1] if len(layer.output_shapes[0]) == 4 else None
        path = conv_path(layer, nchwc.block, nchwc.multiple)
        if path is not None:
            if path not in ("blocked", "blocked-plain-input"):
                self.generic[layer.name] = path
            elif path == "blocked-plain-input":
                self.make_blocked(layer, [], channels, conv=True, plain_input=True)
            else:
                self.make_blocked(layer, self.read_blocked(layer), channels, conv=True)
        elif layer.op_type in _POOL and len(layer.outputs) == 1 and channels and channels % nchwc.multiple == 0:
            self.make_blocked(layer, self.read_blocked(layer), channels)
        elif first not in blocked or len(layer.outputs) != 1:
            return
        elif layer.op_type in _GLOBAL_POOL and channels and channels % nchwc.multiple == 0:
            self.make_blocked(layer, [first], channels)
        elif layer.op_type in _PASS_ALWAYS or (layer.op_type in _PASS_AFTER_CONV and first in self.from_conv):
            self.make_blocked(layer, [first], blocked[first], conv=layer.op_type in _PASS_AFTER_CONV)
        elif (layer.op_type in _BINARY and len(layer.inputs) > 1 and all(t in blocked for t in layer.inputs)
              and len({self.shapes[t] for t in layer.inputs}) == 1):
            self.make_blocked(layer, list(layer.inputs), blocked[first])
        elif (layer.op_type == "Concat" and layer.attr("axis") in (1, -3) and all(t in blocked for t in layer.inputs)
              and all(blocked[t] % nchwc.block == 0 for t in layer.inputs)):   # concatenated blocks must be whole
            self.make_blocked(layer, list(layer.inputs), sum(blocked[t] for t in layer.inputs))

    def read_blocked(self, layer: Layer) -> list[str]:
        """The input ``layer`` reads blocked (``[first]``), or none after a ``ReorderInput`` converts a plain one."""
        tensor = layer.inputs[0]
        if tensor in self.blocked:
            return [tensor]
        if tensor not in self.converted:
            self.converted.add(tensor)
            self.reorder_in.setdefault(layer.name, []).append((tensor, tuple(layer.input_shapes[0])))
        return []

    def make_blocked(self, layer: Layer, reads: list[str], channels: int, conv: bool = False,
                     plain_input: bool = False) -> None:
        """``layer`` writes a blocked tensor of ``channels``, reading ``reads`` blocked (or its input reordered into
        the layout; ``plain_input``: a convolution of fewer channels than a block, reading the plain tensor)."""
        for tensor in reads:
            self.blocked_reads.setdefault(tensor, set()).add(layer.name)
        block, multiple = self.nchwc.block, self.nchwc.multiple
        grown = (1.0 if plain_input else _grown(layer.input_shapes[0][1], block, multiple),
                 _grown(channels, block, multiple))
        if grown != (1.0, 1.0):
            self.padded[layer.name] = grown
        out = layer.outputs[0]
        self.blocked[out] = channels
        self.shapes[out] = layer.output_shapes[0]
        if conv:
            self.from_conv.add(out)


def _grown(channels: int, block: int, multiple: int) -> float:
    """How much a blocked tensor of ``channels`` grows when padded up to whole blocks (1.0: no padding).

    Only a runtime that pads (``multiple`` below the block) pads, and only multiples of ``multiple``.

    >>> _grown(24, 16, 4), _grown(48, 16, 4), _grown(116, 16, 4), _grown(24, 16, 16), _grown(18, 16, 4)
    (1.3333333333333333, 1.0, 1.103448275862069, 1.0, 1.0)
    """
    if channels % multiple:
        return 1.0
    return -(-channels // block) * block / channels


def _reorders_out(layers, blocked: dict, blocked_reads: dict, shapes: dict, graph_outputs: set) -> dict[str, list]:
    """The ReorderOutput after each blocked tensor that a plain layer reads or the graph returns, keyed by its producer."""
    readers: dict[str, set] = {}
    producer: dict[str, Layer] = {}
    for layer in layers:
        for tensor in layer.inputs:
            readers.setdefault(tensor, set()).add(layer.name)
        for tensor in layer.outputs:
            producer[tensor] = layer
    reorder_out: dict[str, list] = {}
    for tensor in blocked:
        plain_readers = readers.get(tensor, set()) - blocked_reads.get(tensor, set())
        if plain_readers or tensor in graph_outputs:
            reorder_out.setdefault(producer[tensor].name, []).append((tensor, tuple(shapes[tensor])))
    return reorder_out
