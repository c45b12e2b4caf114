"""A tiny YAML emitter for the export formats: block style from dicts, lists and scalars.

Core depends on Django alone, so no PyYAML. Strings that could read as anything but a
string (numbers, booleans, null, '*', ': ') are written as JSON strings, which YAML accepts."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

_PLAIN = re.compile(r"^[A-Za-z_/.][A-Za-z0-9_./@+=-]*$")
#: Words YAML 1.1 (still read by many tools) takes for booleans or null.
_SPECIAL = {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "~"}


def scalar(value: Any) -> str:
    """One scalar as YAML text."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    text = str(value)
    if _PLAIN.match(text) and text.lower() not in _SPECIAL:
        return text
    return json.dumps(text)


def _block(value: Any, indent: int) -> list[str]:
    pad = " " * indent
    if isinstance(value, Mapping):
        if not value:
            return [pad + "{}"]
        lines: list[str] = []
        for key, item in value.items():
            head = f"{pad}{scalar(key)}:"
            if isinstance(item, (Mapping, list, tuple)) and item:
                lines.append(head)
                lines += _block(item, indent + (2 if isinstance(item, Mapping) else 0))
            else:
                lines.append(f"{head} {_inline(item)}")
        return lines
    if isinstance(value, (list, tuple)):
        if not value:
            return [pad + "[]"]
        lines = []
        for item in value:
            if isinstance(item, (Mapping, list, tuple)) and item:
                inner = _block(item, indent + 2)
                lines.append(f"{pad}- {inner[0].lstrip()}")
                lines += inner[1:]
            else:
                lines.append(f"{pad}- {_inline(item)}")
        return lines
    return [pad + scalar(value)]


def _inline(value: Any) -> str:
    if isinstance(value, Mapping):
        return "{}"
    if isinstance(value, (list, tuple)):
        return "[]"
    return scalar(value)


def dump(document: Mapping[str, Any]) -> str:
    """One YAML document (without the ``---`` marker), ending in a newline."""
    return "\n".join(_block(document, 0)) + "\n"


def dump_all(documents: Sequence[Mapping[str, Any]]) -> str:
    """Several documents separated by ``---`` lines (what ``kubectl apply -f`` reads)."""
    return "---\n" + "---\n".join(dump(d) for d in documents)
