"""Cuts and expressions as ROOT users type them, turned into the Python that uproot evaluates.

Written by hand because uproot evaluates Python only and ROOT users type C++ operators
(``a > 1 && b < 2``, ``!flag``).
"""

from __future__ import annotations

import re

_OR = ("||", "|", " or ")
_AND = ("&&", "&", " and ")


def python_expression(text: str) -> str:
    """A cut or expression as uproot's Python language wants it; ROOT's TTree::Draw spelling accepted.

    ``mass_mmdt > 60 && mass_mmdt < 100`` becomes ``(mass_mmdt > 60) & (mass_mmdt < 100)``: ``&&``,
    ``||``, ``and``, ``or`` turn into NumPy's ``&`` and ``|``, ``!x`` into ``~x``, and every operand of
    them gets parentheses (in Python ``&`` binds tighter than ``>``). Other text is returned unchanged.
    Written by hand because uproot evaluates Python only and ROOT users type C++ operators.
    """
    text = text.strip()
    if not any(op.strip() in text for op in (*_OR, *_AND, "!")):
        return text
    text = re.sub(r"!(?!=)", "~", text)
    return _join_top_level(text)


def _split_top_level(text: str, operators) -> list[str]:
    parts, depth, start, i = [], 0, 0, 0
    while i < len(text):
        char = text[i]
        depth += char == "("
        depth -= char == ")"
        match = next((op for op in operators if depth == 0 and text.startswith(op, i)), None)
        if match:
            parts.append(text[start:i])
            i += len(match)
            start = i
            continue
        i += 1
    return [*parts, text[start:]]


def _join_top_level(text: str) -> str:
    text = text.strip()
    if text.startswith("(") and _matching_close(text) == len(text) - 1:  # one group: translate inside it
        return f"({_join_top_level(text[1:-1])})"
    alternatives = _split_top_level(text, _OR)
    if len(alternatives) > 1:
        return " | ".join(_wrapped(_join_top_level(part)) for part in alternatives)
    conditions = _split_top_level(text, _AND)
    if len(conditions) > 1:
        return " & ".join(_wrapped(_join_top_level(part)) for part in conditions)
    return text


def _matching_close(text: str) -> int:
    depth = 0
    for i, char in enumerate(text):
        depth += char == "("
        depth -= char == ")"
        if depth == 0:
            return i
    return -1


def _wrapped(text: str) -> str:
    return text if text.startswith("(") and _matching_close(text) == len(text) - 1 else f"({text})"
