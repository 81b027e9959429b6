"""Regenerate the example models shipped in this folder (seeded, reproducible).

``conv3dense1.onnx``: the MNIST "Conv3Dense1" network of seed 004 (3 convolutions
and 1 dense layer, 119,530 parameters, 28x28x1 input), from the zoo with seeded
random weights. Run: ``python examples/make_examples.py`` (the same as
``edgeperf zoo export conv3dense1 --seed 4 -o examples/conv3dense1.onnx``).
"""

from pathlib import Path

from edgeperf.zoo import export_model

if __name__ == "__main__":
    target = Path(__file__).resolve().parent / "conv3dense1.onnx"
    export_model("conv3dense1", target, seed=4)
    print(f"wrote {target}")
