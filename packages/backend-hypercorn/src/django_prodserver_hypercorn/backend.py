"""The hypercorn backend: uniform web options mapped to hypercorn flags, behind a draining master.

Launch: in-process (the plan's ``python -m django_prodserver_hypercorn`` argv run through
hypercorn's parser inside ``manage.py``; our master loop forks hypercorn's workers from the
process that has Django set up). hypercorn's master stops its workers the instant SIGTERM
arrives and leaves the listen backlog to be reset; ours keeps serving for ``drain_delay`` first.
"""

from __future__ import annotations

from dataclasses import replace
from typing import ClassVar, NoReturn

from django_prodserver.argv import FlagSpec
from django_prodserver.backends.base import LaunchContext, WebBackend
from django_prodserver.conf import where
from django_prodserver.errors import ConfigError
from django_prodserver.options import WEB_OPTIONS, Option, OptionTable
from django_prodserver.plan import LaunchPlan, ReadyProbe

W = WEB_OPTIONS

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
    module = "django_prodserver_hypercorn"
    check_namespace = "prodserver_hypercorn"
    capabilities = frozenset({"http", "wsgi", "asgi", "workers", "tls", "http2", "websockets", "drain"})
    flags: ClassVar[FlagSpec] = FlagSpec(aliases=_ALIASES, switches=_SWITCHES, joined=False)

    options: ClassVar[tuple[Option, ...]] = (
        W["interface"].declare(native="APP prefix wsgi: / asgi:"),
        W["host"].declare(native="-b HOST:PORT"),
        W["port"].declare(native="-b HOST:PORT"),
        W["socket"].declare(native="-b unix:PATH"),
        W["workers"].declare(native="-w N", reason="2 x CPUs + 1, at most 12: Django views mostly run in threads"),
        W["graceful_timeout"].declare(native="--graceful-timeout N", reason="hypercorn's 3 s cuts ordinary requests"),
        W["drain_delay"].declare(native="(prodserver master: keep serving after SIGTERM, then an empty backlog)"),
        W["keepalive"].declare(native="--keep-alive N"),
        W["max_requests"].declare(
            native="--max-requests N",
            reason="off: a recycled worker is a freshly spawned interpreter that imports Django again",
        ),
        W["max_requests_jitter"].declare(native="--max-requests-jitter N (fixed: hypercorn's CLI drops it)"),
        W["tls_cert"].declare(native="--certfile"),
        W["tls_key"].declare(native="--keyfile"),
        W["http2"].declare(
            native="ALPN h2 with TLS (False: --no-http2, ALPN http/1.1 only)",
            default=True,
            reason="hypercorn negotiates HTTP/2 natively over TLS; it matters only with tls_cert",
        ),
        W["websockets"].declare(native="(built in for ASGI; cannot be turned off)"),
        W["access_log"].declare(native="--access-logfile -", reason="hypercorn's access log is off by default"),
        W["log_level"].declare(native="--log-level"),
        W["backlog"].declare(native="--backlog N", reason="hypercorn's 100 overflows under a burst"),
    )

    def validate(self, opts: OptionTable, ctx: LaunchContext) -> None:
        def opt(key: str) -> str:
            return where(self.config.name, "OPTIONS", key)

        if bool(opts["tls_cert"]) != bool(opts["tls_key"]):
            missing = "tls_key" if opts["tls_cert"] else "tls_cert"
            raise ConfigError(opt(missing), "tls_cert and tls_key go together", f"set {missing!r} as well")
        asgi = opts["interface"] == "asgi"
        if opts["websockets"] and not asgi:
            raise ConfigError(opt("websockets"), "websockets need the ASGI interface", "add 'interface': 'asgi'")
        if asgi and opts.explicit("websockets") and not opts["websockets"]:
            raise ConfigError(
                opt("websockets"),
                "hypercorn always serves websockets to an ASGI app; it cannot turn them off",
                "remove 'websockets' (your ASGI routing decides which websocket paths exist)",
            )
        if opts["socket"] and opts.explicit("port"):
            raise ConfigError(opt("socket"), "give 'socket' or 'port', not both", "remove one of them")

    def build_args(self, opts: OptionTable, ctx: LaunchContext) -> list[str]:
        if opts["socket"]:
            bind = f"unix:{opts['socket']}"
        else:
            host = opts["host"]
            host = f"[{host}]" if ":" in host and not host.startswith("[") else host
            bind = f"{host}:{opts['port']}"
        args = ["-b", bind, "-w", str(opts["workers"]), "-k", "asyncio"]
        args += ["--backlog", str(opts["backlog"]), "--graceful-timeout", f"{opts['graceful_timeout']:g}"]
        args += ["--keep-alive", str(opts["keepalive"])]
        if opts["max_requests"]:
            args += ["--max-requests", str(opts["max_requests"])]
            args += ["--max-requests-jitter", str(opts["max_requests_jitter"])]
        if opts["tls_cert"]:
            args += ["--certfile", opts["tls_cert"], "--keyfile", opts["tls_key"]]
        if not opts["http2"]:
            args.append("--no-http2")
        json_logs = opts["log_format"] == "json"  # access lines come from prodserver's layer then
        if opts["access_log"] and not json_logs:
            args += ["--access-logfile", "-"]
        args += ["--error-logfile", "-", "--log-level", opts["log_level"].upper()]
        if json_logs:
            from django_prodserver.logs import SERVER_LOGGING_FILE

            args += ["--log-config", f"json:{SERVER_LOGGING_FILE}"]
        args += ["--drain-delay", f"{opts['drain_delay']:g}"]
        args.append(f"{opts['interface']}:{_evaluable(self.app_path(opts, ctx))}")
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

    def in_process(self, opts: OptionTable, ctx: LaunchContext) -> bool:
        return True

    def run_in_process(self, plan: LaunchPlan) -> NoReturn:
        import multiprocessing
        import sys

        from .cli import main

        fork = "fork" in multiprocessing.get_all_start_methods()
        sys.exit(main(list(plan.args), "fork" if fork else "spawn"))


def _evaluable(app: str) -> str:
    """hypercorn finds the app with ``eval(attr, vars(module))``, which cannot see the lazy
    (PEP 562) ``django_prodserver.serving:wsgi``/``asgi``: spell those as a call it can eval."""
    module, _, attr = app.partition(":")
    if module == "django_prodserver.serving" and attr in ("wsgi", "asgi"):
        return f"{module}:__getattr__({attr!r})"
    return app
