"""Depth and size limits on nested documents (JSON, YAML, TOML), checked without recursion.

A parsed document is walked once with an explicit stack. Every visit counts, so a
YAML document whose aliases repeat one list inside another (a "billion laughs"
bomb: a few hundred bytes standing for billions of values) is refused after
``max_values`` visits instead of being expanded by whatever reads it next.
TOML's parser is quadratic in the number of parts of a dotted key, so
:func:`check_toml_keys` refuses long dotted keys before parsing.
"""

from __future__ import annotations

import re

from ._errors import InputError

__all__ = ["check_tree", "check_toml_keys", "MAX_DEPTH", "MAX_VALUES", "MAX_KEY_PARTS"]

#: Deepest nesting accepted in a user document (specs, profiles, catalogs nest a few levels).
MAX_DEPTH = 64
#: Most values (every list item, mapping key and value, counted at each place it appears).
MAX_VALUES = 2_000_000
#: Most parts of one dotted TOML key or table header.
MAX_KEY_PARTS = 64
_KEY_PART = r"""(?:[A-Za-z0-9_\-]+|"[^"\n]*"|'[^'\n]*')"""
#: A dotted key anywhere (key lines, table headers, inline tables); dots in quoted parts count too.
_DOTTED = re.compile(_KEY_PART + r"(?:[ \t]*\.[ \t]*" + _KEY_PART + ")+")


def check_tree(document, *, where: str, error=InputError, max_depth: int = MAX_DEPTH,
               max_values: int = MAX_VALUES) -> None:
    """Refuse a document nested deeper than ``max_depth`` or holding more than ``max_values`` values.

    >>> bomb = [[1] * 10] * 10
    >>> check_tree(bomb, where="x.yaml", max_values=50)
    Traceback (most recent call last):
    edgeperf._errors.InputError: x.yaml: the document holds more than 50 values (a YAML alias counts at each \
use); no edgeperf input is that large: make it smaller or write out repeated parts
    """
    stack = [(document, 0)]
    visits = 0
    while stack:
        value, depth = stack.pop()
        visits += 1
        if visits > max_values:
            raise error(f"{where}: the document holds more than {max_values} values (a YAML alias counts at each "
                        "use); no edgeperf input is that large: make it smaller or write out repeated parts")
        if isinstance(value, dict):
            children = list(value.keys()) + list(value.values())
        elif isinstance(value, (list, tuple, set, frozenset)):
            children = value
        else:
            continue
        if depth >= max_depth:
            raise error(f"{where}: nested more than {max_depth} levels deep; a document edgeperf reads nests a few "
                        "levels")
        if len(children) > max_values:
            raise error(f"{where}: a list or mapping holds {len(children)} values, more than {max_values}")
        stack.extend((child, depth + 1) for child in children)


def check_toml_keys(text: str, *, where: str, error=InputError, max_parts: int = MAX_KEY_PARTS) -> None:
    """Refuse TOML keys or table headers with more than ``max_parts`` dotted parts (parsing them is quadratic).

    Every dotted run of bare or quoted words counts, wherever it stands (also in a value: the check errs on
    the side of refusing), and dots inside quoted parts count too.

    >>> check_toml_keys("a.b.c = 1", where="s.toml")
    >>> check_toml_keys(".".join("k" * 100) + " = 1", where="s.toml")
    Traceback (most recent call last):
    edgeperf._errors.InputError: s.toml: a key with 100 dotted parts; at most 64
    """
    for match in _DOTTED.finditer(text):
        parts = match.group().count(".") + 1
        if parts > max_parts:
            raise error(f"{where}: a key with {parts} dotted parts; at most {max_parts}")
