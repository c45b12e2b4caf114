"""From a production process to its development twin: the ``DEV`` override, or a sensible default.

With ``DEV``: its keys replace the production ones (OPTIONS merge when the backend stays the same;
ENV always merges). Without: web processes get a reloading development server on the same host and
port (ASGI/websocket projects get ``uvicorn-reload``), every other process keeps its backend and
``devserver`` restarts it on code changes.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from typing import Any

from django_prodserver.api import BackendNotFound, ConfigError, ProcessConfig, load_process, where

#: Keys a DEV override may carry, with what each does.
DEV_KEYS: Mapping[str, str] = {
    "BACKEND": "development backend (replaces BACKEND; production OPTIONS/ARGS then do not apply)",
    "APP": "application for the development backend (replaces APP)",
    "OPTIONS": "merged over the production OPTIONS (same backend) or replacing them (other backend)",
    "ARGS": "replace the production ARGS",
    "ENV": "merged over the production ENV",
}
#: Production web servers, recognised even where they are not installed (a laptop without gunicorn).
WEB_SERVERS = frozenset({"gunicorn", "uvicorn", "granian", "waitress", "hypercorn", "daphne"})
ASGI_ONLY = frozenset({"daphne"})
#: Options a web process' development server inherits from the production entry.
CARRIED = ("host", "port")


def dev_config(config: ProcessConfig) -> ProcessConfig:
    """The process ``devserver`` starts for ``config`` (validated like any settings entry)."""
    dev = config.raw.get("DEV")
    if dev is None:
        return _default(config)
    if not isinstance(dev, Mapping):
        raise ConfigError(
            where(config.name, "DEV"),
            f"expected a dict, found {type(dev).__name__}",
            'write e.g. "DEV": {"BACKEND": "runserver"} or "DEV": {"OPTIONS": {"concurrency": 1}}',
        )
    for key in dev:
        if key not in DEV_KEYS:
            raise ConfigError(
                where(config.name, "DEV", str(key)),
                f"unknown key {key!r}",
                "allowed keys are " + "; ".join(f"{k}: {v}" for k, v in DEV_KEYS.items()),
            )
    entry = {k: v for k, v in config.raw.items() if k != "DEV"}
    prod_options = dict(entry.get("OPTIONS") or {})
    dev_options = dev.get("OPTIONS") or {}
    if not isinstance(dev_options, Mapping):
        raise ConfigError(where(config.name, "DEV", "OPTIONS"), f"expected a dict, found {dev_options!r}", "")
    backend = dev.get("BACKEND")
    if backend is None or backend == config.backend:
        entry["OPTIONS"] = {**prod_options, **dev_options}
    else:
        cls = _backend_class(config.name, backend, ("DEV", "BACKEND"))
        declared = {o.name for o in cls.options}
        carried = {k: prod_options[k] for k in CARRIED if k in prod_options and k in declared}
        entry["BACKEND"] = backend
        entry["OPTIONS"] = {**carried, **dev_options}
        entry.pop("ARGS", None)
        if not getattr(cls, "accepts_app", True):
            entry.pop("APP", None)
    if "ARGS" in dev:
        entry["ARGS"] = dev["ARGS"]
    if "APP" in dev:
        entry["APP"] = dev["APP"]
    dev_env = dev.get("ENV") or {}
    if not isinstance(dev_env, Mapping):
        raise ConfigError(where(config.name, "DEV", "ENV"), f"expected a dict, found {dev_env!r}", "")
    entry["ENV"] = {**(entry.get("ENV") or {}), **dev_env}
    return _load(config.name, entry)


def dev_backend_for_web(interface_asgi: bool) -> str:
    """``uvicorn-reload`` (or ``granian-reload``) for ASGI projects where installed, else ``runserver``."""
    if interface_asgi:
        for name, module in (("uvicorn-reload", "uvicorn"), ("granian-reload", "granian")):
            if importlib.util.find_spec(module) is not None:
                return name
    return "runserver"


def _default(config: ProcessConfig) -> ProcessConfig:
    from django_prodserver.api import load_backend

    try:
        backend, _ = load_backend(config)
    except BackendNotFound:
        if config.backend not in WEB_SERVERS:
            raise
        kind, capabilities, options = "web", frozenset({"asgi"} if config.backend in ASGI_ONLY else {"wsgi"}), {}
        options = dict(config.options)
    else:
        kind, capabilities, options = backend.kind, backend.capabilities, dict(backend.config.options)
    if kind != "web":
        return config  # workers keep their backend; devserver reloads them from outside
    asgi = options.get("interface") == "asgi" or bool(options.get("websockets")) or "wsgi" not in capabilities
    name = dev_backend_for_web(asgi)
    entry: dict[str, Any] = {"BACKEND": name, "OPTIONS": {k: options[k] for k in CARRIED if k in options}}
    if config.env:
        entry["ENV"] = dict(config.env)
    if config.app and name != "runserver":
        entry["APP"] = config.app
    for key in ("RESTART", "ONESHOT"):
        if key in config.raw:
            entry[key] = config.raw[key]
    return _load(config.name, entry)


def _backend_class(name: str, backend: Any, keys: tuple[str, ...]) -> Any:
    from django_prodserver.api import resolve_backend

    if not isinstance(backend, str) or not backend:
        raise ConfigError(where(name, *keys), f"expected a backend name, found {backend!r}", 'write "runserver"')
    return resolve_backend(backend, where(name, *keys)).cls


def _load(name: str, entry: dict[str, Any]) -> ProcessConfig:
    try:
        return load_process(name, entry)
    except ConfigError as e:
        # Name the DEV override in the path, so the user edits the right dict.
        raise ConfigError(f"{e.where} (development process from {where(name, 'DEV')})", e.problem, e.fix) from None
