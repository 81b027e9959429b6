"""Single-layer networks for layer sweeps: ``zoo:layer:KIND,key=value,...``.

One operator on one input, built in code like every zoo network, so a sweep
file names each measured point by a reference the estimator can load again::

    zoo:layer:conv,cin=16,cout=32,hw=28,k=3,s=1
    zoo:layer:dwconv,c=64,hw=56,k=3,s=2
    zoo:layer:gemm,cin=512,cout=1000
    zoo:layer:maxpool,c=64,hw=56,k=3,s=2      (also avgpool)
    zoo:layer:add,c=64,hw=56                  (also relu, sigmoid)

The input is ``1 x C x HW x HW`` (``1 x CIN`` for gemm); convolutions pad to
keep ``HW / s``; every parameter is bounded so that a reference cannot ask for
an absurd model.
"""

from __future__ import annotations

from .._errors import ModelError
from .._messages import show

__all__ = ["LAYER_KINDS", "parse_layer", "layer_input_shape", "build_layer", "layer_reference", "is_layer_reference",
           "parse_layer_reference"]

LAYER_PREFIX = "zoo:layer:"

#: kind -> (required parameters, defaults)
LAYER_KINDS = {
    "conv": (("cin", "cout", "hw"), {"k": 3, "s": 1}),
    "dwconv": (("c", "hw"), {"k": 3, "s": 1}),
    "gemm": (("cin", "cout"), {}),
    "maxpool": (("c", "hw"), {"k": 3, "s": 2}),
    "avgpool": (("c", "hw"), {"k": 3, "s": 2}),
    "add": (("c", "hw"), {}),
    "relu": (("c", "hw"), {}),
    "sigmoid": (("c", "hw"), {}),
}
_LIMITS = {"cin": 8192, "cout": 8192, "c": 8192, "hw": 1024, "k": 11, "s": 4}


def parse_layer(arch: str) -> tuple[str, dict]:
    """``conv,cin=16,cout=32,hw=28`` -> ("conv", {...}) with defaults filled in.

    >>> parse_layer("conv,cin=16,cout=32,hw=28")
    ('conv', {'k': 3, 's': 1, 'cin': 16, 'cout': 32, 'hw': 28})

    Raises
    ------
    ModelError
        For an unknown kind, a missing, unknown or out-of-range parameter.
    """
    kind, *pairs = [p.strip() for p in arch.split(",")]
    if kind not in LAYER_KINDS:
        raise ModelError(f"zoo:layer: unknown layer kind {show(kind)}; kinds: {', '.join(LAYER_KINDS)}")
    required, defaults = LAYER_KINDS[kind]
    params = dict(defaults)
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or key not in (*required, *defaults) or not value.isdigit():
            raise ModelError(f"zoo:layer:{arch}: {show(pair)} is not KEY=INTEGER with KEY in "
                             f"{', '.join((*required, *defaults))}")
        number = int(value)
        if not 1 <= number <= _LIMITS[key]:
            raise ModelError(f"zoo:layer:{arch}: {key}={number} is outside 1..{_LIMITS[key]}")
        params[key] = number
    missing = [k for k in required if k not in params]
    if missing:
        raise ModelError(f"zoo:layer:{arch}: missing {', '.join(missing)}")
    return kind, params


def layer_reference(kind: str, **params) -> str:
    """The zoo reference of a single layer (parameters in a fixed order).

    >>> layer_reference("add", c=64, hw=56)
    'zoo:layer:add,c=64,hw=56'
    """
    return LAYER_PREFIX + ",".join([kind] + [f"{k}={params[k]}" for k in sorted(params)])


def is_layer_reference(text) -> bool:
    """Whether ``text`` is a single-layer reference ``zoo:layer:...``."""
    return isinstance(text, str) and text.startswith(LAYER_PREFIX)


def parse_layer_reference(reference: str) -> tuple[str, dict]:
    """``zoo:layer:conv,cin=16,...`` -> ("conv", {...}), as :func:`parse_layer`.

    >>> parse_layer_reference("zoo:layer:relu,c=1,hw=1")
    ('relu', {'c': 1, 'hw': 1})

    Raises
    ------
    ModelError
        For a text that is not a layer reference, or an invalid layer.
    """
    if not is_layer_reference(reference):
        raise ModelError(f"{show(reference)} is not a single-layer reference ({LAYER_PREFIX}KIND,key=value,...)")
    return parse_layer(reference.removeprefix(LAYER_PREFIX))


def layer_input_shape(kind: str, params: dict) -> tuple[int, ...]:
    if kind == "gemm":
        return (params["cin"],)
    channels = params.get("cin", params.get("c"))
    return (channels, params["hw"], params["hw"])


def build_layer(builder, kind: str, params: dict) -> list[str]:
    """Add the layer to ``builder`` (whose input matches :func:`layer_input_shape`); returns its outputs."""
    x = "input"
    if kind == "conv":
        return [builder.conv(x, params["cout"], params["k"], stride=params["s"], pad=params["k"] // 2, bias=True)]
    if kind == "dwconv":
        return [builder.conv(x, params["c"], params["k"], stride=params["s"], pad=params["k"] // 2,
                             groups=params["c"], bias=True)]
    if kind == "gemm":
        return [builder.gemm(x, params["cout"])]
    if kind in ("maxpool", "avgpool"):
        pool = builder.maxpool if kind == "maxpool" else builder.avgpool
        return [pool(x, params["k"], params["s"], pad=params["k"] // 2)]
    if kind == "add":
        return [builder.add(x, x)]
    return [getattr(builder, kind)(x)]
