"""Regenerate the example models shipped in this folder (seeded, reproducible).

``conv3dense1.onnx``: the MNIST "Conv3Dense1" network of seed 004 (3 convolutions
and 1 dense layer, 119,530 parameters, 28x28x1 input), with seeded random
weights. Run: ``python examples/make_examples.py``.
"""

from pathlib import Path

import onnx

from edgeperf.zoo import NetBuilder


def conv3dense1() -> onnx.ModelProto:
    b = NetBuilder("conv3dense1", (1, 1, 28, 28), weights=True, seed=4)
    x = b.relu(b.conv(b.input, 32, 3, stride=2, pad=1))   # 28 -> 14
    x = b.relu(b.conv(x, 64, 3, stride=2, pad=1))          # 14 -> 7
    x = b.relu(b.conv(x, 32, 7, stride=1, pad=0))          # 7 -> 1
    x = b.softmax(b.gemm(b.flatten(x), 10))
    return b.build([x])


if __name__ == "__main__":
    target = Path(__file__).resolve().parent / "conv3dense1.onnx"
    onnx.save(conv3dense1(), target)
    print(f"wrote {target}")
