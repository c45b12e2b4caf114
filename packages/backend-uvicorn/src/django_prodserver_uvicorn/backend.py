"""The uvicorn backend: uniform web options mapped to uvicorn's CLI, hosted in-process."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar

from django_prodserver.api import (
    WEB_OPTIONS,
    FlagSpec,
    LaunchContext,
    Option,
    OptionTable,
    ProcessConfig,
    WebBackend,
    click_env_names,
    click_flag_spec,
    one_per_cpu,
    request_deadline,
    require_uvicorn_library,
    where,
)

W = WEB_OPTIONS
#: ``--interface``: uvicorn's ``asgi3`` (and ``auto``/``asgi2``, read back) is prodserver's ``asgi``.
INTERFACE = (lambda value: "asgi3" if value == "asgi" else "wsgi", lambda text: "wsgi" if text == "wsgi" else "asgi")
#: ``--timeout-graceful-shutdown`` takes whole seconds: prodserver rounds up.
WHOLE_SECONDS = (lambda value: str(math.ceil(value)), float)


def _command() -> Any:
    import importlib

    # ``uvicorn.main`` the attribute is the click command; the module holds it as ``main``.
    return importlib.import_module("uvicorn.main").main


class UvicornBackend(WebBackend):
    """uvicorn for ASGI (default) or WSGI, run in-process so that SIGTERM first keeps serving
    for ``drain_delay`` and a requested stop exits 0 (see ``docs/backends/uvicorn.md``)."""

    name = "uvicorn"
    launch = "in-process"
    host = "django_prodserver_uvicorn.host:run"
    inherits_listener = True
    module = "uvicorn"
    check_namespace = "prodserver_uvicorn"
    capabilities = frozenset({"http", "wsgi", "asgi", "workers", "tls", "websockets"})
    ambient_env = ("UVICORN_",)
    env_names: ClassVar[frozenset[str] | None] = click_env_names(_command(), "UVICORN")
    flags: ClassVar[FlagSpec] = click_flag_spec(_command())
    refused: ClassVar[Mapping[str, str]] = {"http2": "uvicorn speaks HTTP/1.1 only (h11/httptools)"}

    options: ClassVar[tuple[Option, ...]] = (
        W["interface"].declare(
            flag="--interface",
            convert=INTERFACE,
            native="--interface asgi3 | wsgi",
            default="asgi",
            reason="uvicorn is an ASGI server; its WSGI adapter is deprecated upstream",
        ),
        W["host"].declare(flag="--host"),
        W["port"].declare(flag="--port"),
        W["socket"].declare(flag="--uds"),
        W["workers"].declare(
            flag="--workers",
            default=one_per_cpu,
            reason="one event loop per CPU; with 2+ uvicorn supervises and restarts its workers",
        ),
        W["threads"].declare(
            support="ignored",
            instead="uvicorn runs one event loop per worker (Django runs each sync view in a thread of its own)",
        ),
        request_deadline("uvicorn"),
        W["graceful_timeout"].declare(
            flag="--timeout-graceful-shutdown",
            convert=WHOLE_SECONDS,
            native="--timeout-graceful-shutdown N (whole seconds)",
            reason="uvicorn's own default waits forever",
        ),
        W["drain_delay"].declare(
            native="(prodserver: keeps serving after SIGTERM, then uvicorn stops gracefully)",
            support="prodserver",
            instead="on SIGTERM prodserver keeps serving this long, then uvicorn stops gracefully",
        ),
        W["keepalive"].declare(flag="--timeout-keep-alive"),
        W["max_requests"].declare(flag="--limit-max-requests", native="--limit-max-requests N (needs workers >= 2)"),
        W["max_requests_jitter"].declare(flag="--limit-max-requests-jitter"),
        W["tls_cert"].declare(flag="--ssl-certfile"),
        W["tls_key"].declare(flag="--ssl-keyfile"),
        W["websockets"].declare(
            native="--ws auto (False: prodserver answers each handshake 403)",
            reads=(("--ws", lambda kind: {"websockets": kind != "none"}),),
        ),
        W["access_log"].declare(switch=("--access-log", "--no-access-log")),
        W["forwarded_allow_ips"].declare(
            flag="--forwarded-allow-ips",
            native="--proxy-headers --forwarded-allow-ips CSV (else --no-proxy-headers)",
            reason="uvicorn trusts 127.0.0.1 by default; prodserver trusts only proxies you list",
        ),
        W["log_level"].declare(flag="--log-level"),
        W["backlog"].declare(flag="--backlog"),
        Option(
            "limit_concurrency",
            "int",
            "Connections or tasks served at once before uvicorn answers 503.",
            flag="--limit-concurrency",
            native="--limit-concurrency N",
            minimum=1,
        ),
    )

    def validate(self, opts: OptionTable, ctx: LaunchContext) -> None:
        require_uvicorn_library(opts, where(self.config.name, "OPTIONS", "websockets"), "uvicorn", "websockets")

    def warnings(self, opts: OptionTable, ctx: LaunchContext) -> list[str]:
        found = super().warnings(opts, ctx)
        if opts["max_requests"] and opts["workers"] < 2:
            found.append(
                f"uvicorn ignores max_requests={opts['max_requests']} with workers={opts['workers']}: a single "
                "uvicorn process would exit after it and nothing restarts it (set workers to 2 or more)"
            )
        elif opts["max_requests_jitter"] and not opts["max_requests"]:
            found.append(f"uvicorn ignores max_requests_jitter={opts['max_requests_jitter']}: max_requests is off")
        return found

    def build_args(self, opts: OptionTable, ctx: LaunchContext) -> list[str]:
        asgi = opts["interface"] == "asgi"
        args = [self.app_path(opts, ctx), *self.native_args(opts, "interface"), "--lifespan", "off"]
        args += self.native_args(opts, "socket") if opts["socket"] else self.native_args(opts, "host", "port")
        args += self.native_args(opts, "workers")
        args += self.native_args(opts, "graceful_timeout", "keepalive")
        if opts["max_requests"] and opts["workers"] >= 2:
            args += self.native_args(opts, "max_requests")
            if opts["max_requests_jitter"]:
                args += self.native_args(opts, "max_requests_jitter")
        args += self.native_args(opts, "limit_concurrency")
        if asgi:  # websockets False: uvicorn's --ws none would pass upgrades on as HTTP; prodserver refuses them
            args += ["--ws", "auto"]
        args += self.native_args(opts, "tls_cert", "tls_key")
        if opts["forwarded_allow_ips"]:
            args += ["--proxy-headers", *self.native_args(opts, "forwarded_allow_ips")]
        else:
            args.append("--no-proxy-headers")
        json_logs = opts["log_format"] == "json"  # access lines come from prodserver's layer then
        native = opts.with_value("access_log", False, "log_format json") if json_logs else opts
        args += self.native_args(native, "access_log", "log_level", "backlog")
        if json_logs:
            from django_prodserver.api import SERVER_LOGGING_FILE

            args += ["--log-config", SERVER_LOGGING_FILE]
        return args

    def notes(self, opts: OptionTable, ctx: LaunchContext) -> list[str]:
        notes = [
            "runs in-process: uvicorn starts inside this manage.py process and a requested stop exits 0, "
            "not 143; with workers > 1 they fork from it with the app imported (SIGHUP restarts "
            "workers but does not reload code the main process already imported)",
        ]
        if opts["drain_delay"]:
            notes.append(
                f"on SIGTERM prodserver keeps serving for {opts['drain_delay']:g}s, then uvicorn stops "
                f"gracefully (in-flight requests cut after {math.ceil(opts['graceful_timeout'])}s); "
                "no uvicorn flag does this"
            )
        if opts["interface"] == "wsgi":
            notes.append(
                "WSGI under uvicorn uses its deprecated WSGI adapter (no websockets, requests run in a "
                "thread pool); prefer 'interface': 'asgi', or gunicorn/granian for WSGI"
            )
        return notes

    @classmethod
    def from_legacy(cls, config: ProcessConfig, legacy_options: Mapping[str, Any]) -> ProcessConfig:
        # Upstream 3.x passed ARGS straight to uvicorn's CLI, exactly as ARGS are used here.
        return super().from_legacy(config, legacy_options)
