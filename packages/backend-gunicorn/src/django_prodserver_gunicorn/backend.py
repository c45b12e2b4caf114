"""The gunicorn backend: uniform web options mapped to gunicorn flags, run in-process."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

from django_prodserver.api import (
    WEB_OPTIONS,
    ConfigError,
    FlagSpec,
    LaunchContext,
    Option,
    OptionTable,
    WebBackend,
    bind_reader,
    host_port,
    require_uvicorn_library,
)

W = WEB_OPTIONS
#: ``-b/--bind HOST:PORT`` (or ``unix:PATH``) sets host and port (or socket); no port means 8000.
BIND = (("-b", bind_reader(8000)),)


@contextmanager
def _numeric_web_concurrency() -> Iterator[None]:
    """Hide a ``WEB_CONCURRENCY`` that is not a number while gunicorn's config module is imported.

    That module runs ``int(os.environ["WEB_CONCURRENCY"])`` at import, so ``WEB_CONCURRENCY=abc``
    was a traceback from every command, ``check`` and ``--dry-run`` included. prodserver reads the
    variable itself (the ``workers`` option) and reports a bad value naming it; gunicorn always
    gets ``-w`` from the plan."""
    raw = os.environ.get("WEB_CONCURRENCY")
    try:
        int(raw if raw is not None else "1")
    except ValueError:
        del os.environ["WEB_CONCURRENCY"]
        try:
            yield
        finally:
            os.environ["WEB_CONCURRENCY"] = raw or ""
        return
    yield


def _flag_spec() -> FlagSpec:
    """gunicorn's own settings table tells us every flag, its aliases and which take no value."""
    with _numeric_web_concurrency():
        from gunicorn.config import KNOWN_SETTINGS

    aliases: dict[str, str] = {}
    switches: set[str] = set()
    for setting in KNOWN_SETTINGS:
        cli = list(setting.cli or [])
        if not cli:
            continue
        canonical = next((c for c in cli if c.startswith("--")), cli[0])
        for spelling in cli:
            aliases[spelling] = canonical
        if setting.action in ("store_true", "store_false", "store_const"):
            switches.add(canonical)
    return FlagSpec(aliases=aliases, switches=frozenset(switches))


class GunicornBackend(WebBackend):
    """gunicorn for WSGI (sync or gthread workers) and ASGI (uvicorn worker, lifespan off)."""

    name = "gunicorn"
    launch = "in-process"
    host = "django_prodserver_gunicorn.host:run"
    inherits_listener = True
    module = "gunicorn"
    check_namespace = "prodserver_gunicorn"
    capabilities = frozenset({"http", "wsgi", "asgi", "workers", "tls", "http2", "websockets"})
    ambient_env = ("GUNICORN_CMD_ARGS", "FORWARDED_ALLOW_IPS")
    flags: ClassVar[FlagSpec] = _flag_spec()

    options: ClassVar[tuple[Option, ...]] = (
        W["interface"].declare(
            native="-k (wsgi: sync/gthread; asgi: uvicorn worker)",
            support="prodserver",
            instead="prodserver passes the WSGI or ASGI application and picks the worker class: -k sync, "
            "-k gthread with threads > 1, or its uvicorn worker for ASGI",
        ),
        W["host"].declare(native="-b HOST:PORT", reads=BIND),
        W["port"].declare(native="-b HOST:PORT", reads=BIND),
        W["socket"].declare(native="-b unix:PATH", reads=BIND),
        W["workers"].declare(flag="-w", reason="2 x CPUs + 1 (gunicorn's advice), at most 12"),
        W["threads"].declare(
            flag="--threads", native="--threads N (switches to -k gthread; ASGI: ignored, with a warning)"
        ),
        W["timeout"].declare(
            flag="-t",
            native="-t N (sync worker: a silent worker is killed; gthread/ASGI: prodserver answers 504)",
        ),
        W["graceful_timeout"].declare(flag="--graceful-timeout"),
        W["drain_delay"].declare(
            native="(prodserver: keep serving after SIGTERM, then wait for an empty backlog)",
            support="prodserver",
            instead="on SIGTERM prodserver's arbiter keeps serving this long and until the listen backlog is "
            "empty, then gunicorn stops gracefully",
        ),
        W["keepalive"].declare(flag="--keep-alive"),
        W["max_requests"].declare(flag="--max-requests", default=1000, reason="recycle leaky workers"),
        W["max_requests_jitter"].declare(
            flag="--max-requests-jitter", default=100, reason="avoid recycling all at once"
        ),
        W["tls_cert"].declare(flag="--certfile"),
        W["tls_key"].declare(flag="--keyfile"),
        W["http2"].declare(
            switch=("--http-protocols h2,h1", ""),
            reads=(("--http-protocols", lambda protocols: {"http2": "h2" in protocols.split(",")}),),
            native="--http-protocols h2,h1 (needs TLS, threads > 1, package h2)",
        ),
        W["websockets"].declare(
            native="(ASGI: uvicorn worker, ws auto; False: prodserver answers each handshake 403)",
            support="prodserver",
            instead="the uvicorn worker serves them under ASGI; False: prodserver answers each handshake 403",
        ),
        W["access_log"].declare(switch=("--access-logfile -", ""), reason="gunicorn's access log is off by default"),
        W["forwarded_allow_ips"].declare(flag="--forwarded-allow-ips"),
        W["log_level"].declare(flag="--log-level"),
        W["backlog"].declare(flag="--backlog"),
        Option(
            "config_file",
            "path",
            "A gunicorn.conf.py to load. By default none is read, not even ./gunicorn.conf.py.",
            flag="-c",
            native="-c PATH",
            reason="a stray config file in cwd must not change production silently",
        ),
        Option(
            "read_env_args",
            "bool",
            "Honour GUNICORN_CMD_ARGS from the environment.",
            default=False,
            native="GUNICORN_CMD_ARGS",
            support="prodserver",
            instead="prodserver removes GUNICORN_CMD_ARGS from gunicorn's environment unless this is True",
            reason="an inherited variable must not change production silently",
        ),
        Option(
            "control_socket",
            "path",
            "Path of gunicorn's control socket; none by default (two instances would clobber one).",
            flag="--control-socket",
            native="--control-socket PATH / --no-control-socket",
        ),
    )

    def validate(self, opts: OptionTable, ctx: LaunchContext) -> None:
        opt = self.option_key
        asgi = opts["interface"] == "asgi"
        if opts["http2"]:
            if asgi:
                raise ConfigError(
                    opt("http2"),
                    "gunicorn's uvicorn worker speaks HTTP/1.1 only",
                    "use interface 'wsgi' with threads > 1, or the granian/hypercorn backend",
                )
            if not opts["tls_cert"]:
                raise ConfigError(opt("http2"), "HTTP/2 needs TLS (ALPN)", "set 'tls_cert' and 'tls_key'")
            if opts["threads"] < 2:
                raise ConfigError(
                    opt("http2"), "gunicorn's sync worker cannot serve HTTP/2", "set 'threads' to 2 or more"
                )
        if asgi:
            try:
                import uvicorn_worker  # noqa: F401
            except ImportError:
                raise ConfigError(
                    opt("interface"),
                    "ASGI under gunicorn needs the uvicorn worker, which is not installed",
                    'pip install "django-prodserver-gunicorn[asgi]"',
                ) from None
            require_uvicorn_library(
                opts, opt("websockets"), "gunicorn's uvicorn worker", '"django-prodserver-gunicorn[asgi]"'
            )

    def warnings(self, opts: OptionTable, ctx: LaunchContext) -> list[str]:
        found = super().warnings(opts, ctx)
        if opts["interface"] == "asgi" and opts["threads"] > 1:
            found.append(
                f"gunicorn ignores threads={opts['threads']}: its ASGI (uvicorn) worker runs one event loop "
                "per process (threads apply to WSGI, as -k gthread)"
            )
        return found

    def prodserver_deadline(self, opts: OptionTable) -> bool:
        """gunicorn's -t kills a slow request only in the sync worker; with gthread or the ASGI
        worker it is a heartbeat, so an explicit timeout gets prodserver's 504 there."""
        threaded = opts["interface"] == "asgi" or opts["threads"] > 1
        return threaded and opts.explicit("timeout") and bool(opts["timeout"])

    def build_args(self, opts: OptionTable, ctx: LaunchContext) -> list[str]:
        args = [self.app_path(opts, ctx)]
        if opts["socket"]:
            args += ["-b", f"unix:{opts['socket']}"]
        else:
            args += ["-b", host_port(opts["host"], opts["port"])]
        args += self.native_args(opts, "workers")
        if opts["interface"] == "asgi":
            args += ["-k", "django_prodserver_gunicorn.workers.DjangoUvicornWorker"]
        elif opts["threads"] > 1:
            args += ["-k", "gthread", *self.native_args(opts, "threads")]
        else:
            args += ["-k", "sync"]
        args += self.native_args(opts, "timeout", "graceful_timeout", "keepalive")
        if opts["max_requests"]:
            args += self.native_args(opts, "max_requests", "max_requests_jitter")
        args += self.native_args(opts, "tls_cert", "tls_key")
        args += self.native_args(opts, "http2")
        json_logs = opts["log_format"] == "json"  # access lines come from prodserver's layer then
        native = opts.with_value("access_log", False, "log_format json") if json_logs else opts
        args += self.native_args(native, "access_log")
        args += ["--error-logfile", "-", *self.native_args(opts, "log_level", "forwarded_allow_ips", "backlog")]
        if json_logs:
            args += ["--logger-class", "django_prodserver_gunicorn.jsonlog.JsonLogger"]
        if os.path.isdir("/dev/shm"):
            args += ["--worker-tmp-dir", "/dev/shm"]
        args += self.native_args(opts, "control_socket") or ["--no-control-socket"]
        args += self.native_args(opts, "config_file") or ["-c", "python:django_prodserver_gunicorn.no_config"]
        return args

    def unset_env(self, opts: OptionTable, ctx: LaunchContext) -> tuple[str, ...]:
        return () if opts["read_env_args"] else ("GUNICORN_CMD_ARGS",)

    def unset_env_reason(self, name: str, opts: OptionTable) -> str:
        if name == "GUNICORN_CMD_ARGS":
            return "move its flags into ARGS, or set OPTIONS 'read_env_args': True to let gunicorn read it"
        return super().unset_env_reason(name, opts)

    def notes(self, opts: OptionTable, ctx: LaunchContext) -> list[str]:
        notes = [
            "runs in-process: Django is set up once in the master before workers fork "
            "(faster first response, shared memory); SIGHUP restarts workers but does not "
            "reload code the master already imported (settings, installed apps)",
        ]
        if opts["drain_delay"]:
            notes.append(
                f"on SIGTERM prodserver keeps serving for {opts['drain_delay']:g}s and until the listen "
                "backlog is empty, then gunicorn stops gracefully (no native flag does this)"
            )
        return notes

    @classmethod
    def from_legacy(cls, config: Any, legacy_options: Any) -> Any:
        # Upstream 3.x passed ARGS straight to gunicorn's CLI, exactly as we do.
        return super().from_legacy(config, legacy_options)
