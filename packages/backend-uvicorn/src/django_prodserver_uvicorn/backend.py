"""The uvicorn backend: uniform web options mapped to uvicorn's CLI, hosted in-process."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar, NoReturn

from django_prodserver.argv import FlagSpec, click_flag_spec
from django_prodserver.backends.base import LaunchContext, WebBackend
from django_prodserver.conf import ProcessConfig, where
from django_prodserver.errors import ConfigError
from django_prodserver.options import WEB_OPTIONS, Option, OptionTable, one_per_cpu
from django_prodserver.plan import LaunchPlan

W = WEB_OPTIONS


def _flag_spec() -> FlagSpec:
    import importlib

    # ``uvicorn.main`` the attribute is the click command; the module holds it as ``main``.
    return click_flag_spec(importlib.import_module("uvicorn.main").main)


class UvicornBackend(WebBackend):
    """uvicorn for ASGI (default) or WSGI, run in-process so that SIGTERM first keeps serving
    for ``drain_delay`` and a requested stop exits 0 (see ``docs/backends/uvicorn.md``)."""

    name = "uvicorn"
    module = "uvicorn"
    check_namespace = "prodserver_uvicorn"
    capabilities = frozenset({"http", "wsgi", "asgi", "workers", "tls", "websockets", "drain"})
    ambient_env = ("UVICORN_",)
    flags: ClassVar[FlagSpec] = _flag_spec()

    options: ClassVar[tuple[Option, ...]] = (
        W["interface"].declare(
            native="--interface asgi3 | wsgi",
            default="asgi",
            reason="uvicorn is an ASGI server; its WSGI adapter is deprecated upstream",
        ),
        W["host"].declare(native="--host"),
        W["port"].declare(native="--port"),
        W["socket"].declare(native="--uds PATH"),
        W["workers"].declare(
            native="--workers N",
            default=one_per_cpu,
            reason="one event loop per CPU; with 2+ uvicorn supervises and restarts its workers",
        ),
        W["graceful_timeout"].declare(
            native="--timeout-graceful-shutdown N (whole seconds)",
            reason="uvicorn's own default waits forever",
        ),
        W["drain_delay"].declare(native="(prodserver: keeps serving after SIGTERM, then uvicorn stops gracefully)"),
        W["keepalive"].declare(native="--timeout-keep-alive N"),
        W["max_requests"].declare(native="--limit-max-requests N (needs workers >= 2)"),
        W["max_requests_jitter"].declare(native="--limit-max-requests-jitter N"),
        W["tls_cert"].declare(native="--ssl-certfile"),
        W["tls_key"].declare(native="--ssl-keyfile"),
        W["websockets"].declare(native="--ws auto / --ws none (ASGI only)"),
        W["access_log"].declare(native="--access-log / --no-access-log"),
        W["forwarded_allow_ips"].declare(
            native="--proxy-headers --forwarded-allow-ips CSV (else --no-proxy-headers)",
            reason="uvicorn trusts 127.0.0.1 by default; prodserver trusts only proxies you list",
        ),
        W["log_level"].declare(native="--log-level"),
        W["backlog"].declare(native="--backlog"),
        Option(
            "limit_concurrency",
            "int",
            "Connections or tasks served at once before uvicorn answers 503.",
            native="--limit-concurrency N",
            minimum=1,
        ),
    )

    def _option_where(self, key: str) -> str:
        return where(self.config.name, "OPTIONS", key)

    def validate(self, opts: OptionTable, ctx: LaunchContext) -> None:
        opt = self._option_where
        if bool(opts["tls_cert"]) != bool(opts["tls_key"]):
            missing = "tls_key" if opts["tls_cert"] else "tls_cert"
            raise ConfigError(opt(missing), "uvicorn needs tls_cert and tls_key together", f"set {missing!r} as well")
        if opts["websockets"] and opts["interface"] != "asgi":
            raise ConfigError(
                opt("websockets"),
                "uvicorn serves websockets only through the ASGI interface",
                "add 'interface': 'asgi'",
            )
        if opts["max_requests"] and opts["workers"] < 2:
            raise ConfigError(
                opt("max_requests"),
                "a single uvicorn process exits after max_requests and nothing restarts it "
                f"(found workers={opts['workers']})",
                "set 'workers' to 2 or more (uvicorn's supervisor then replaces recycled workers), "
                "or remove 'max_requests'",
            )
        if opts["max_requests_jitter"] and not opts["max_requests"]:
            raise ConfigError(
                opt("max_requests_jitter"), "uvicorn applies jitter only with max_requests", "set 'max_requests' too"
            )
        if opts["socket"] and opts.explicit("port"):
            raise ConfigError(opt("socket"), "uvicorn binds a socket or a port, not both", "remove one of them")

    def build_args(self, opts: OptionTable, ctx: LaunchContext) -> list[str]:
        asgi = opts["interface"] == "asgi"
        args = [self.app_path(opts, ctx), "--interface", "asgi3" if asgi else "wsgi", "--lifespan", "off"]
        if opts["socket"]:
            args += ["--uds", opts["socket"]]
        else:
            args += ["--host", opts["host"], "--port", str(opts["port"])]
        args += ["--workers", str(opts["workers"])]
        args += ["--timeout-graceful-shutdown", str(math.ceil(opts["graceful_timeout"]))]
        args += ["--timeout-keep-alive", str(opts["keepalive"])]
        if opts["max_requests"]:
            args += ["--limit-max-requests", str(opts["max_requests"])]
            if opts["max_requests_jitter"]:
                args += ["--limit-max-requests-jitter", str(opts["max_requests_jitter"])]
        if opts["limit_concurrency"]:
            args += ["--limit-concurrency", str(opts["limit_concurrency"])]
        if asgi:
            args += ["--ws", "auto" if opts["websockets"] else "none"]
        if opts["tls_cert"]:
            args += ["--ssl-certfile", opts["tls_cert"], "--ssl-keyfile", opts["tls_key"]]
        if opts["forwarded_allow_ips"]:
            args += ["--proxy-headers", "--forwarded-allow-ips", ",".join(opts["forwarded_allow_ips"])]
        else:
            args.append("--no-proxy-headers")
        json_logs = opts["log_format"] == "json"  # access lines come from prodserver's layer then
        args.append("--access-log" if opts["access_log"] and not json_logs else "--no-access-log")
        if json_logs:
            from django_prodserver.logs import SERVER_LOGGING_FILE

            args += ["--log-config", SERVER_LOGGING_FILE]
        args += ["--log-level", opts["log_level"], "--backlog", str(opts["backlog"])]
        return args

    def in_process(self, opts: OptionTable, ctx: LaunchContext) -> bool:
        return True

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

    def run_in_process(self, plan: LaunchPlan) -> NoReturn:
        from ._run import run_uvicorn

        run_uvicorn(plan)

    @classmethod
    def from_legacy(cls, config: ProcessConfig, legacy_options: Mapping[str, Any]) -> ProcessConfig:
        # Upstream 3.x passed ARGS straight to uvicorn's CLI, exactly as ARGS are used here.
        return super().from_legacy(config, legacy_options)
