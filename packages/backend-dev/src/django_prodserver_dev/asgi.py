"""Reloading ASGI servers for websocket work: ``uvicorn --reload`` and ``granian --reload``.

Launch: exec of ``python -m uvicorn|granian`` (no dependency on the production uvicorn/granian
backends); the server's reloader process handles SIGTERM and restarts its worker on changes,
watching the project with watchfiles and skipping virtualenvs, VCS data, media and static output.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import ClassVar

from django_prodserver.api import WEB_OPTIONS, Capability, ConfigError, FlagSpec, LaunchContext, OptionTable, where

from ._ignore import IGNORE_DIRS, output_roots, unique
from .backend import HOST, PORT, RELOAD, DevBackend, is_loopback

W = WEB_OPTIONS
#: uvicorn and granian bind with --host/--port (not runserver's positional [addr:]port).
ASGI_HOST = HOST.declare(flag="--host", native="", reads=())
ASGI_PORT = PORT.declare(flag="--port", native="", reads=())
LOG_LEVEL = W["log_level"].declare(flag="--log-level")
ACCESS_LOG = W["access_log"].declare(native="--access-log / --no-access-log")
WEBSOCKETS = W["websockets"].declare(default=True, native="--ws", reason="websocket work is why you pick this")
INTERFACE = W["interface"].declare(
    default="asgi", native="(ASGI only)", reason="a reloading ASGI server; use runserver for WSGI"
)


#: File names whose last extension is not .py/.mo/.env (regex, for granian's ignore patterns).
NON_CODE = r"\.(?!(py|mo|env)$)[^./]+$"


def _output_dirs(cwd: str) -> list[str]:
    """MEDIA_ROOT / STATIC_ROOT when Django is set up (planning without settings skips them)."""
    try:
        from django.conf import settings

        if not settings.configured:
            return []
        return [os.path.abspath(p) for p in output_roots(settings)]
    except Exception:
        return []


class _ReloadingAsgi(DevBackend):
    capabilities: ClassVar[frozenset[Capability]] = frozenset({"http", "asgi", "websockets"})
    refused: ClassVar[Mapping[str, str]] = {
        "interface": "a reloading ASGI server serves ASGI only; use runserver for WSGI"
    }
    options = (
        ASGI_HOST,
        ASGI_PORT,
        RELOAD.declare(switch=("--reload", "")),
        INTERFACE,
        WEBSOCKETS,
        LOG_LEVEL,
        ACCESS_LOG,
    )

    def validate(self, opts: OptionTable, ctx: LaunchContext) -> None:
        super().validate(opts, ctx)
        if opts["interface"] != "asgi":
            raise ConfigError(
                where(self.config.name, "OPTIONS", "interface"),
                f"{self.name} serves ASGI only, found interface {opts['interface']!r}",
                'remove "interface", or use BACKEND "runserver" for a WSGI development server',
            )

    def notes(self, opts: OptionTable, ctx: LaunchContext) -> list[str]:
        notes = []
        if opts["reload"]:
            notes.append(f"{self.module} reloads itself: it watches {ctx.cwd} for *.py changes")
        if not is_loopback(opts["host"]):
            notes.append(f"listening on {opts['host']}: other machines can reach this development server")
        notes.append("a development server: not for production")
        return notes


class UvicornReloadBackend(_ReloadingAsgi):
    """``uvicorn --reload``: Django's ASGI app with websockets, lifespan off, restarted on code changes."""

    name = "uvicorn-reload"
    module = "uvicorn"
    options = (
        *_ReloadingAsgi.options[:4],
        WEBSOCKETS.declare(reads=(("--ws", lambda kind: {"websockets": kind != "none"}),)),
        LOG_LEVEL,
        ACCESS_LOG.declare(switch=("", "--no-access-log")),
    )
    ambient_env = ("UVICORN_",)
    flags: ClassVar[FlagSpec] = FlagSpec(
        switches=frozenset({"--reload", "--no-access-log", "--access-log", "--proxy-headers", "--no-proxy-headers"})
    )

    def build_args(self, opts: OptionTable, ctx: LaunchContext) -> list[str]:
        args = [self.app_path(opts, ctx), *self.native_args(opts, "host", "port")]
        args += ["--interface", "asgi3", "--lifespan", "off", *self.native_args(opts, "log_level")]
        args += ["--ws", "auto" if opts["websockets"] else "none", *self.native_args(opts, "access_log")]
        if opts["reload"]:
            args += ["--reload", "--reload-dir", ctx.cwd]
            # uvicorn resolves exclude names against its cwd (the project): directories there are skipped.
            excludes = list(IGNORE_DIRS)
            for path in _output_dirs(ctx.cwd):
                rel = os.path.relpath(path, ctx.cwd)
                if not rel.startswith(".."):
                    excludes.append(rel)
            for item in unique(excludes):
                args += ["--reload-exclude", item]
        return args


class GranianReloadBackend(_ReloadingAsgi):
    """``granian --interface asginl --reload``: Rust HTTP with watchfiles reload (granian[reload])."""

    name = "granian-reload"
    module = "granian"
    options = (
        *_ReloadingAsgi.options[:4],
        WEBSOCKETS.declare(switch=("--ws", "--no-ws")),
        LOG_LEVEL,
        ACCESS_LOG.declare(switch=("--access-log", "--no-access-log")),
    )
    ambient_env = ("GRANIAN_",)
    flags: ClassVar[FlagSpec] = FlagSpec(
        switches=frozenset({"--reload", "--no-reload", "--access-log", "--no-access-log", "--ws", "--no-ws"}),
        negations={"--no-reload": "--reload", "--no-access-log": "--access-log", "--no-ws": "--ws"},
    )

    def build_args(self, opts: OptionTable, ctx: LaunchContext) -> list[str]:
        args = ["--interface", "asginl", *self.native_args(opts, "host", "port")]
        args += ["--working-dir", ctx.cwd, *self.native_args(opts, "log_level")]
        args += self.native_args(opts, "access_log", "websockets")
        if opts["reload"]:
            args += ["--reload", "--reload-paths", ctx.cwd]
            for name in IGNORE_DIRS:
                args += ["--reload-ignore-dirs", name]
            for path in _output_dirs(ctx.cwd):
                args += ["--reload-ignore-paths", path]
            # granian has no include list: without this, db.sqlite3 or a log file in the project
            # directory restarts the server on every write.
            args += ["--reload-ignore-patterns", NON_CODE]
        args.append(self.app_path(opts, ctx))
        return args
