"""The hypercorn backend: uniform web options mapped to hypercorn flags, behind a draining master.

Launch: in-process (the plan's ``python -m django_prodserver_hypercorn`` argv run through
hypercorn's parser inside ``manage.py``; our master loop forks hypercorn's workers from the
process that has Django set up). hypercorn's master stops its workers the instant SIGTERM
arrives and leaves the listen backlog to be reset; ours keeps serving for ``drain_delay`` first.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import ClassVar

from django_prodserver.api import (
    WEB_OPTIONS,
    FlagSpec,
    LaunchContext,
    Option,
    OptionTable,
    ReadyProbe,
    WebBackend,
    bind_reader,
    host_port,
    one_per_cpu,
    request_deadline,
)

from . import _lifespan as lifespan

W = WEB_OPTIONS
#: ``-b/--bind HOST:PORT`` (or ``unix:PATH``) sets host and port (or socket); no port means 8000.
BIND = (("-b", bind_reader(8000)),)
#: hypercorn's ``--log-level`` is a Python logging level name: ``DEBUG``, ``INFO``...
UPPER = (str.upper, str.lower)

_ALIASES = {
    "-b": "--bind",
    "-c": "--config",
    "-D": "--daemon",
    "-g": "--group",
    "-k": "--worker-class",
    "-m": "--umask",
    "-p": "--pid",
    "-u": "--user",
    "-w": "--workers",
    "--log-file": "--error-logfile",
    "--access-log": "--access-logfile",
    "--error-log": "--error-logfile",
}
_SWITCHES = frozenset({"--daemon", "--debug", "--reload", "--no-http2", "--help", "-h"})


class HypercornBackend(WebBackend):
    """hypercorn: ASGI and WSGI, HTTP/1.1, HTTP/2 and websockets, spawned worker processes."""

    name = "hypercorn"
    launch = "in-process"
    host = "django_prodserver_hypercorn.host:run"
    inherits_listener = True
    module = "django_prodserver_hypercorn"
    check_namespace = "prodserver_hypercorn"
    capabilities = frozenset({"http", "wsgi", "asgi", "workers", "tls", "http2", "websockets"})
    flags: ClassVar[FlagSpec] = FlagSpec(aliases=_ALIASES, switches=_SWITCHES, joined=False)
    host_options: ClassVar[tuple[str, ...]] = ("drain_delay", "http2", "max_requests_jitter")

    options: ClassVar[tuple[Option, ...]] = (
        W["interface"].declare(
            native="APP prefix wsgi: / asgi:",
            support="prodserver",
            instead="prodserver passes the WSGI or ASGI application as hypercorn's wsgi:APP or asgi:APP",
        ),
        W["host"].declare(native="-b HOST:PORT", reads=BIND),
        W["port"].declare(native="-b HOST:PORT", reads=BIND),
        W["socket"].declare(native="-b unix:PATH", reads=BIND),
        W["workers"].declare(
            flag="-w",
            default=one_per_cpu,
            reason="one event loop per CPU, each with its own listening socket; WSGI views run in its thread pool",
        ),
        W["threads"].declare(
            support="ignored",
            instead="hypercorn runs ASGI on one event loop per worker and WSGI views in its thread pool "
            "(min(32, CPUs + 4) threads)",
        ),
        request_deadline("hypercorn"),
        W["graceful_timeout"].declare(flag="--graceful-timeout", reason="hypercorn's 3 s cuts ordinary requests"),
        W["drain_delay"].declare(
            flag="--drain-delay",
            native="(prodserver master: keep serving after SIGTERM, then an empty backlog)",
        ),
        W["keepalive"].declare(flag="--keep-alive"),
        W["max_requests"].declare(
            flag="--max-requests",
            reason="off: a recycled worker is a freshly spawned interpreter that imports Django again",
        ),
        W["max_requests_jitter"].declare(
            flag="--max-requests-jitter", native="--max-requests-jitter N (fixed: hypercorn's CLI drops it)"
        ),
        W["tls_cert"].declare(flag="--certfile"),
        W["tls_key"].declare(flag="--keyfile"),
        W["http2"].declare(
            switch=("", "--no-http2"),
            native="ALPN h2 with TLS (False: --no-http2, ALPN http/1.1 only)",
            default=True,
            reason="hypercorn negotiates HTTP/2 natively over TLS; it matters only with tls_cert",
        ),
        W["websockets"].declare(
            native="(built in for ASGI; False: prodserver answers each handshake 403)",
            support="prodserver",
            instead="hypercorn serves them under ASGI; False: prodserver answers each handshake 403",
        ),
        W["access_log"].declare(switch=("--access-logfile -", ""), reason="hypercorn's access log is off by default"),
        W["log_level"].declare(flag="--log-level", convert=UPPER, native="--log-level LEVEL (upper case)"),
        W["backlog"].declare(flag="--backlog", reason="hypercorn's 100 overflows under a burst"),
    )
    refused: ClassVar[Mapping[str, str]] = {
        "forwarded_allow_ips": "hypercorn has no proxy-header flag: wrap the app in "
        "hypercorn.middleware.ProxyFixMiddleware, or use a backend with one (gunicorn, uvicorn, granian)",
    }

    def request_layers(self, opts: OptionTable, ctx: LaunchContext) -> list[str]:
        """prodserver's layers, then lifespan off outermost (hypercorn has no flag for it)."""
        layers = super().request_layers(opts, ctx)
        return [*layers, lifespan.LAYER] if opts["interface"] == "asgi" else layers

    def build_args(self, opts: OptionTable, ctx: LaunchContext) -> list[str]:
        if opts["socket"]:
            bind = f"unix:{opts['socket']}"
        else:
            bind = host_port(opts["host"], opts["port"])
        args = ["-b", bind, *self.native_args(opts, "workers"), "-k", "asyncio"]
        args += self.native_args(opts, "backlog", "graceful_timeout", "keepalive")
        if opts["max_requests"]:
            args += self.native_args(opts, "max_requests")
        if opts["tls_cert"]:
            args += self.native_args(opts, "tls_cert", "tls_key")
        json_logs = opts["log_format"] == "json"  # access lines come from prodserver's layer then
        native = opts.with_value("access_log", False, "log_format json") if json_logs else opts
        args += self.native_args(native, "access_log")
        args += ["--error-logfile", "-", *self.native_args(opts, "log_level")]
        if json_logs:
            from django_prodserver.api import SERVER_LOGGING_FILE

            args += ["--log-config", f"json:{SERVER_LOGGING_FILE}"]
        args.append(f"{opts['interface']}:{self.app_path(opts, ctx)}")
        return args

    def ready_probe(self, opts: OptionTable, ctx: LaunchContext) -> ReadyProbe:
        return replace(super().ready_probe(opts, ctx), log_line="Running on")

    def notes(self, opts: OptionTable, ctx: LaunchContext) -> list[str]:
        notes = [
            f"on SIGTERM prodserver's master keeps the workers serving for {opts['drain_delay']:g}s and until "
            f"the listen backlog is empty, then hypercorn stops gracefully within {opts['graceful_timeout']:g}s "
            "(hypercorn's own master stops at once and resets the backlog)",
            "runs in-process: the master imports the app once and forks the workers (SIGHUP restarts "
            "workers but does not reload code the master already imported); `python -m "
            "django_prodserver_hypercorn` alone spawns them as hypercorn does",
        ]
        if opts["http2"] and not opts["tls_cert"]:
            notes.append("without TLS, HTTP/2 is only cleartext h2c (prior knowledge or Upgrade); browsers need TLS")
        if opts["interface"] == "wsgi":
            notes.append("WSGI views run in each worker's default thread pool (min(32, CPUs + 4) threads)")
        return notes
