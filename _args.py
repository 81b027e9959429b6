"""Argument types of the public API, checked against the annotations: one InputError instead of a builtin.

``@typed`` on a public function compares each argument with its parameter's annotation
before the body runs (``str | None``, ``dict[str, float]``, ``tuple[int, ...]``, classes,
``Literal``). A mismatch raises :class:`InputError` naming the function, the parameter,
what it takes and what it got, so ``estimate(..., power_mode=[])`` fails like a bad
``--power-mode`` would, not with ``TypeError: unhashable type``. Parameters without an
annotation are left to the function (they accept several kinds of value). Containers
are checked item by item; a tuple annotation also accepts a list.
"""

from __future__ import annotations

import functools
import inspect
import numbers
import types
import typing
from collections.abc import Mapping

from ._errors import InputError
from ._messages import show

__all__ = ["typed"]


_PLURALS = {str: "strings", int: "integers", float: "numbers", bool: "booleans"}


def _plural(hint) -> str:
    if hint in _PLURALS:
        return _PLURALS[hint]
    origin = typing.get_origin(hint)
    if origin in (tuple, list) or hint in (tuple, list):
        args = typing.get_args(hint)
        return f"sequences of {_plural(args[0])}" if args else "sequences"
    return f"values of type {_describe(hint)}"


def _describe(hint) -> str:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is type(None):
        return "None"
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(a) for a in args)
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if origin in (dict, Mapping) or hint in (dict, Mapping):
        return f"a mapping from {_plural(args[0])} to {_plural(args[1])}" if args else "a mapping"
    if origin in (tuple, list) or hint in (tuple, list):
        return f"a sequence of {_plural(args[0])}" if args and args[-1] is Ellipsis or origin is list else "a sequence"
    if hint is float:
        return "a number"
    if hint is int:
        return "an integer"
    if hint is str:
        return "a string"
    if hint is bool:
        return "True or False"
    return getattr(hint, "__name__", str(hint))


def _matches(value, hint) -> bool:
    if hint is typing.Any or hint is object or isinstance(hint, (str, typing.ForwardRef, typing.TypeVar)):
        return True
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is None or hint is type(None):
        return value is None
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, a) for a in args)
    if origin is typing.Literal:
        return any(value == a and type(value) is type(a) for a in args)
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, numbers.Real) and not isinstance(value, bool)
    if origin in (dict, Mapping) or hint in (dict, Mapping):
        if not isinstance(value, Mapping):
            return False
        return not args or all(_matches(k, args[0]) and _matches(v, args[1]) for k, v in value.items())
    if origin in (tuple, list) or hint in (tuple, list):
        if not isinstance(value, (tuple, list)):
            return False
        if not args:
            return True
        if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
            return len(value) == len(args) and all(_matches(v, a) for v, a in zip(value, args))
        return all(_matches(v, args[0]) for v in value)
    if isinstance(hint, type):
        return isinstance(value, hint)
    return True                                   # an annotation this checker does not understand: not checked


def _hints(func) -> dict:
    try:
        return typing.get_type_hints(func)
    except Exception:  # noqa: BLE001 - a name that cannot be resolved: check what can be resolved one by one
        hints = {}
        for name, text in getattr(func, "__annotations__", {}).items():
            try:
                hints[name] = typing.get_type_hints(type("_", (), {"__annotations__": {name: text}}),
                                                    globalns=func.__globals__)[name]
            except Exception:  # noqa: BLE001
                continue
        return hints


def typed(func):
    """Check the annotated arguments of ``func`` on every call (see the module docstring).

    >>> @typed
    ... def f(x: int, name: str | None = None):
    ...     return x
    >>> f(1)
    1
    >>> f("a")
    Traceback (most recent call last):
    edgeperf._errors.InputError: f(): x must be an integer, got str 'a'
    """
    signature = inspect.signature(func)
    checked: dict | None = None

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        nonlocal checked
        if checked is None:
            hints = _hints(func)
            checked = {name: hints[name] for name in signature.parameters if name in hints}
        try:
            bound = signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise InputError(f"{func.__name__}(): {exc}") from None
        for name, value in bound.arguments.items():
            hint = checked.get(name)
            if hint is not None and not _matches(value, hint):
                raise InputError(f"{func.__name__}(): {name} must be {_describe(hint)}, got "
                                 f"{type(value).__name__} {show(value)}")
        return func(*args, **kwargs)

    return wrapper
