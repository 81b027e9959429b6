"""Values in error messages: short, printable and cheap, whatever the value is.

An error message names the offending value, but a value read from a file can
be a two-million-element list, a YAML alias bomb that expands to billions of
items, an integer of a million digits or a string of escape sequences. Putting
``repr(value)`` into the message would cost gigabytes or garble the terminal;
:func:`show` looks at a bounded part of the value only and says how big the rest is.
:func:`redact` removes passwords from URLs before they are echoed.
"""

from __future__ import annotations

import re

from ._terminal import printable

__all__ = ["show", "redact"]

_ITEMS = 8          # items shown of a list, tuple, set or mapping
_DEPTH = 2          # nesting levels shown
_CREDENTIALS = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)(?P<user>[^/\s:@]*):[^@\s]*@")


def _show(value, limit: int, depth: int) -> str:
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, int):
        if value.bit_length() > 200:
            return f"<an integer of about {int(value.bit_length() * 0.30103)} digits>"
        return repr(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (str, bytes)):
        text = repr(value[: limit + 1])
        if len(value) > limit:
            text = repr(value[:limit])[:-1] + f"...{text[-1]} ({len(value)} characters)"
        return text
    if isinstance(value, (list, tuple, set, frozenset, dict)):
        try:
            size = len(value)
        except Exception:  # noqa: BLE001 - a broken container is shown by its type
            return f"<{type(value).__name__}>"
        opening, closing = {list: "[]", tuple: "()", dict: "{}"}.get(type(value), "{}")
        if depth >= _DEPTH:
            return f"<{type(value).__name__} of {size} items>" if size else opening + closing
        items = []
        iterator = iter(value.items() if isinstance(value, dict) else value)
        for _, item in zip(range(_ITEMS), iterator):
            if isinstance(value, dict):
                key, val = item
                items.append(f"{_show(key, 20, depth + 1)}: {_show(val, 20, depth + 1)}")
            else:
                items.append(_show(item, 20, depth + 1))
        if size > _ITEMS:
            items.append(f"... ({size} items)")
        return opening + ", ".join(items) + closing
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - a value whose repr fails is shown by its type
        return f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[:limit] + "..."


def show(value, limit: int = 60) -> str:
    """A short printable description of ``value`` for an error message.

    Strings are cut at ``limit`` characters, containers show their first items and
    their size, nesting stops after two levels, huge integers are described by their
    number of digits; control characters are escaped.

    >>> show(list(range(2_000_000)))
    '[0, 1, 2, 3, 4, 5, 6, 7, ... (2000000 items)]'
    >>> show("x" * 100, limit=5)
    "'xxxxx...' (100 characters)"
    >>> show(10 ** 5000)
    '<an integer of about 5000 digits>'
    """
    try:
        text = _show(value, limit, 0)
    except RecursionError:                     # a self-referencing value
        text = f"<{type(value).__name__}>"
    return printable(text, keep_layout=False)


def redact(text: str) -> str:
    """``text`` with the password of every ``scheme://user:password@host`` URL replaced by ``***``.

    >>> redact("postgresql://me:secret@db/x")
    'postgresql://me:***@db/x'
    """
    return _CREDENTIALS.sub(lambda m: f"{m.group('scheme')}{m.group('user')}:***@", str(text))
