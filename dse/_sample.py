"""Real activations at the cut tensors: run the model with onnxruntime on a sample input.

Needs onnxruntime (the ``runtime`` extra) and a model with weights: a model
file, or a zoo network built with seeded random weights (whose activations
are then those of an untrained network, which the output says).
"""

from __future__ import annotations

import io

import numpy as np

from .._errors import InputError
from .._messages import show
from .._userfile import check_file, read_bytes, user_path

__all__ = ["sample_activations"]


#: Largest sample file read.
_MAX_SAMPLE_BYTES = 1024 * 2**20


def _load_sample(path: str, expected: tuple[int, ...]) -> np.ndarray:
    file = user_path(path, what="sample")
    data = read_bytes(file, what="a .npy sample", limit=_MAX_SAMPLE_BYTES,
                      hint=f"give a .npy array shaped like the model input {'x'.join(map(str, expected))}")
    try:
        array = np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise InputError(f"{file}: not a .npy array ({show(str(exc), 100)}); save one with numpy.save") from None
    if tuple(array.shape) != tuple(expected):
        raise InputError(f"{file}: sample shape {'x'.join(map(str, array.shape))} does not match the model input "
                         f"{'x'.join(map(str, expected))}")
    return array


def sample_activations(model_ref: str, tensors: set[str], sample: str) -> tuple[dict, str]:
    """Values of ``tensors`` when the model runs on ``sample``; and a note on the weights used.

    Raises
    ------
    InputError
        When onnxruntime is missing, or the sample does not fit the model.
    """
    try:
        import onnx
        import onnxruntime as ort
    except ImportError:
        raise InputError("a partition sample needs onnxruntime: pip install 'edgeperf[runtime]' "
                         "(or give compression_ratio instead of sample)") from None
    from ..zoo import is_reference, runnable_model

    if is_reference(model_ref):
        model = onnx.load_from_string(runnable_model(model_ref))
        note = "zoo network with seeded random weights (an untrained network's activations)"
    else:
        from google.protobuf.message import DecodeError

        check_file(model_ref, what="a model", limit=2**31)        # a regular file we may read, or one line
        try:
            model = onnx.load(model_ref)
        except (OSError, DecodeError, ValueError, RuntimeError) as exc:
            raise InputError(f"{model_ref}: cannot load the model with its weights ({show(str(exc), 100)})") from None
        note = "the model file's own weights"
    graph_inputs = {i.name for i in model.graph.initializer}
    feeds = [i for i in model.graph.input if i.name not in graph_inputs]
    if len(feeds) != 1:
        raise InputError(f"{model_ref}: a partition sample needs a model with one input, this one has {len(feeds)}")
    dims = tuple(d.dim_value for d in feeds[0].type.tensor_type.shape.dim)
    array = _load_sample(sample, dims)
    existing = {o.name for o in model.graph.output}
    for name in sorted(tensors - existing):
        model.graph.output.append(onnx.ValueInfoProto(name=name))
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    names = sorted(tensors)
    values = session.run(names, {feeds[0].name: array.astype(np.float32)})
    return dict(zip(names, values)), note
