"""Upstream 3.x granian entries: ARGS were ``Granian()`` keyword arguments; map them in."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from django_prodserver.api import WEB_OPTIONS, ProcessConfig, where

#: Upstream ARGS key -> uniform option (upstream accepted dashes and underscores).
UNIFORM_KEYS: Mapping[str, str] = {
    "address": "host",
    "host": "host",
    "port": "port",
    "workers": "workers",
    "blocking_threads": "threads",
    "threads": "threads",
    "backlog": "backlog",
    "log_level": "log_level",
    "log_access": "access_log",
    "websockets": "websockets",
    "ssl_cert": "tls_cert",
    "ssl_key": "tls_key",
}
#: Upstream ARGS key -> granian CLI flag (no uniform option exists).
NATIVE_KEYS: Mapping[str, str] = {
    "runtime_threads": "--runtime-threads",
    "url_path_prefix": "--url-path-prefix",
}


def translate_legacy(config: ProcessConfig, legacy_options: Mapping[str, Any]) -> ProcessConfig:
    """Turn ``{"address": "0.0.0.0", "port": "8000", "workers": "4"}`` into uniform OPTIONS
    (OPTIONS written by the user win); keys without a uniform option become granian flags,
    so an unknown key fails loudly in granian instead of being ignored as upstream did."""
    raw = config.raw.get("ARGS")
    if not isinstance(raw, Mapping):
        return replace(config, options={**legacy_options, **config.options})
    options: dict[str, Any] = {}
    native: list[str] = []
    for key, value in raw.items():
        norm = str(key).lstrip("-").replace("-", "_")
        at = where(config.name, "ARGS", str(key))
        if norm in UNIFORM_KEYS:
            name = UNIFORM_KEYS[norm]
            opt = WEB_OPTIONS[name]
            options[name] = opt.coerce_text(value, at) if isinstance(value, str) else opt.validate(value, at)
        elif norm == "http":
            mode = str(value)
            options["http2"] = mode != "1"
            if mode == "2":
                native += ["--http", "2"]
        elif norm == "reload":
            if value is True or str(value).lower() in ("true", "1", "yes", "on"):
                native.append("--reload")
        elif norm in NATIVE_KEYS:
            native += [NATIVE_KEYS[norm], str(value)]
        else:
            flag = "--" + norm.replace("_", "-")
            native += [flag] if value is None or value is True else [flag, str(value)]
    merged = {**legacy_options, **options, **config.options}
    return replace(config, options=merged, args=tuple(native))
