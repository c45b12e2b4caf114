"""Option tables and a JSON Schema, generated from the backends' option declarations."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .backends.base import Backend
from .conf import PROCESS_KEYS
from .options import Option

_JSON_TYPES: dict[str, dict[str, Any]] = {
    "int": {"type": "integer"},
    "float": {"type": "number"},
    "bool": {"type": "boolean"},
    "list": {"type": "array", "items": {"type": "string"}},
    "path": {"type": "string"},
    "str": {"type": "string"},
    "choice": {"type": "string"},
}


def default_text(opt: Option) -> str:
    if callable(opt.default):
        return (opt.default.__doc__ or "computed").strip().splitlines()[0]
    return "-" if opt.default is None else repr(opt.default)


def option_rows(cls: type[Backend]) -> list[tuple[str, str, str, str, str]]:
    """(name, type, default, native flag, doc and reason) per declared option."""
    rows: list[tuple[str, str, str, str, str]] = []
    for opt in cls.declared_options():
        env = f" (env: {', '.join(opt.env)})" if opt.env else ""
        reason = f" Why: {opt.reason}." if opt.reason else ""
        rows.append((opt.name, opt.kind, default_text(opt) + env, opt.native or "-", opt.doc + reason))
    refused = sorted(set(cls.catalog) - {o.name for o in cls.declared_options()})
    for name in refused:
        rows.append((name, cls.catalog[name].kind, "refused", "-", f"{cls.name or cls.__name__} cannot honour it"))
    return rows


def option_schema(opt: Option) -> dict[str, Any]:
    schema: dict[str, Any] = dict(_JSON_TYPES[opt.kind])
    if opt.kind == "int" or opt.kind == "float":
        if opt.minimum is not None:
            schema["minimum"] = opt.minimum
        if opt.maximum is not None:
            schema["maximum"] = opt.maximum
    if opt.choices:
        schema["enum"] = list(opt.choices)
    schema["description"] = opt.doc + (f" Native: {opt.native}." if opt.native else "")
    if not callable(opt.default) and opt.default is not None:
        schema["default"] = opt.default
    return schema


def json_schema(backends: Mapping[str, type[Backend]]) -> dict[str, Any]:
    """A JSON Schema for PRODUCTION_PROCESSES: OPTIONS validated per BACKEND (if/then)."""
    variants = []
    for name, cls in sorted(backends.items()):
        variants.append(
            {
                "if": {"properties": {"BACKEND": {"const": name}}, "required": ["BACKEND"]},
                "then": {
                    "properties": {
                        "OPTIONS": {
                            "type": "object",
                            "additionalProperties": False,
                            "properties": {o.name: option_schema(o) for o in cls.declared_options()},
                        }
                    }
                },
            }
        )
    process = {
        "type": "object",
        "additionalProperties": False,
        "required": ["BACKEND"],
        "properties": {
            "BACKEND": {"type": "string", "description": PROCESS_KEYS["BACKEND"], "examples": sorted(backends)},
            "APP": {"type": "string", "description": PROCESS_KEYS["APP"]},
            "OPTIONS": {"type": "object", "description": PROCESS_KEYS["OPTIONS"]},
            "ARGS": {"type": ["object", "array", "string"], "description": PROCESS_KEYS["ARGS"]},
            "ENV": {"type": "object", "additionalProperties": {"type": ["string", "number"]}},
            "RESTART": {"description": PROCESS_KEYS["RESTART"]},
            "ONESHOT": {"type": "boolean", "description": PROCESS_KEYS["ONESHOT"]},
            "DEV": {"type": "object", "description": PROCESS_KEYS["DEV"]},
        },
        "allOf": variants,
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "PRODUCTION_PROCESSES",
        "type": "object",
        "additionalProperties": process,
    }
