"""The granian backend: uniform web options mapped to granian's CLI, hosted in-process."""

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

from . import proxies

W = WEB_OPTIONS
#: granian caps --workers-kill-timeout at 30 minutes.
MAX_KILL_TIMEOUT = 1800


def _flag_spec() -> FlagSpec:
    from granian.cli import cli

    return click_flag_spec(cli)


class GranianBackend(WebBackend):
    """granian for WSGI (blocking threads) and ASGI (``asginl``), run in-process so that
    SIGTERM can first keep serving for ``drain_delay`` (see ``docs/backends/granian.md``)."""

    name = "granian"
    module = "granian"
    check_namespace = "prodserver_granian"
    capabilities = frozenset({"http", "wsgi", "asgi", "workers", "threads", "tls", "http2", "websockets", "drain"})
    ambient_env = ("GRANIAN_",)
    flags: ClassVar[FlagSpec] = _flag_spec()

    options: ClassVar[tuple[Option, ...]] = (
        W["interface"].declare(
            native="--interface wsgi | asginl",
            reason="always explicit: granian's default 'rsgi' is not Django; 'asginl' because Django rejects lifespan",
        ),
        W["host"].declare(native="--host"),
        W["port"].declare(native="--port"),
        W["socket"].declare(native="--uds PATH"),
        W["workers"].declare(
            native="--workers N",
            default=one_per_cpu,
            reason="one process per CPU: granian's Rust runtime does the I/O, threads run the views",
        ),
        W["threads"].declare(
            native="--blocking-threads N (WSGI; ASGI always 1)",
            default=8,
            reason="granian's WSGI default is 512 threads, each may hold a DB connection",
        ),
        W["graceful_timeout"].declare(native="--workers-kill-timeout N (whole seconds, 1..1800)"),
        W["drain_delay"].declare(native="(prodserver: keeps serving after SIGTERM, then granian stops gracefully)"),
        W["keepalive"].declare(
            native="--http1-keep-alive / --no-http1-keep-alive (on/off: 0 = off)",
            reason="granian has no idle timeout for keep-alive connections, only on/off",
        ),
        W["max_requests"].declare(
            native="n/a (granian has none: use workers_lifetime / workers_max_rss)",
            reason="granian cannot recycle after N requests",
        ),
        W["tls_cert"].declare(native="--ssl-certificate"),
        W["tls_key"].declare(native="--ssl-keyfile (PKCS#8 preferred)"),
        W["http2"].declare(native="--http auto (h2 via ALPN, h2c prior knowledge) / --http 1"),
        W["websockets"].declare(native="--ws / --no-ws (ASGI only)"),
        W["access_log"].declare(native="--access-log", reason="granian's access log is off by default"),
        W["forwarded_allow_ips"].declare(
            native="(no flag: --factory wraps the app with granian.utils.proxies)",
        ),
        W["log_level"].declare(native="--log-level"),
        W["backlog"].declare(native="--backlog (granian's minimum is 128)", minimum=128),
        Option(
            "backpressure",
            "int",
            "Requests one worker handles at once; more wait in the listen queue for a free worker.",
            native="--backpressure N",
            minimum=1,
            reason="WSGI: equal to threads, so a busy worker leaves new requests to an idle one",
        ),
        Option(
            "respawn_failed_workers",
            "bool",
            "Replace a worker that dies unexpectedly instead of stopping the whole server.",
            default=True,
            native="--respawn-failed-workers",
            reason="granian's default stops every worker when one crashes",
        ),
        Option(
            "workers_lifetime",
            "int",
            "Respawn each worker after this many seconds (granian's answer to max_requests).",
            native="--workers-lifetime N (>= 60)",
            minimum=60,
        ),
        Option(
            "workers_max_rss",
            "int",
            "Respawn a worker whose memory exceeds this many MiB.",
            native="--workers-max-rss N",
            minimum=1,
        ),
        Option(
            "tls_min_version",
            "choice",
            "Oldest TLS version accepted when tls_cert is set.",
            default="tls1.2",
            choices=("tls1.2", "tls1.3"),
            native="--ssl-protocol-min",
            reason="granian defaults to TLS 1.3 only, which refuses many load balancers and older clients",
        ),
    )

    def _option_where(self, key: str) -> str:
        return where(self.config.name, "OPTIONS", key)

    def validate(self, opts: OptionTable, ctx: LaunchContext) -> None:
        opt = self._option_where
        if bool(opts["tls_cert"]) != bool(opts["tls_key"]):
            missing = "tls_key" if opts["tls_cert"] else "tls_cert"
            raise ConfigError(opt(missing), "granian needs tls_cert and tls_key together", f"set {missing!r} as well")
        asgi = opts["interface"] == "asgi"
        if asgi and opts.explicit("threads") and opts["threads"] > 1:
            raise ConfigError(
                opt("threads"),
                f"granian's ASGI interface runs views on its event loop and needs 1 blocking thread, "
                f"found threads={opts['threads']}",
                "remove 'threads', or use 'interface': 'wsgi' to serve with blocking threads",
            )
        if opts["websockets"] and not asgi:
            raise ConfigError(
                opt("websockets"),
                "granian serves websockets only through the ASGI interface",
                "add 'interface': 'asgi'",
            )
        if opts["max_requests"]:
            raise ConfigError(
                opt("max_requests"),
                "granian cannot recycle a worker after N requests",
                "remove 'max_requests' and use 'workers_lifetime' (seconds, >= 60) or "
                "'workers_max_rss' (MiB) to recycle workers",
            )
        if opts["graceful_timeout"] > MAX_KILL_TIMEOUT:
            raise ConfigError(
                opt("graceful_timeout"),
                f"granian waits at most {MAX_KILL_TIMEOUT} s for workers, found {opts['graceful_timeout']:g}",
                f"set it to {MAX_KILL_TIMEOUT} or less",
            )
        if opts["socket"] and opts.explicit("port"):
            raise ConfigError(opt("socket"), "granian binds a socket or a port, not both", "remove one of them")

    def build_args(self, opts: OptionTable, ctx: LaunchContext) -> list[str]:
        asgi = opts["interface"] == "asgi"
        args = [self._target(opts, ctx), "--interface", "asginl" if asgi else "wsgi"]
        if opts["forwarded_allow_ips"]:
            args.append("--factory")
        if opts["socket"]:
            args += ["--uds", opts["socket"]]
        else:
            args += ["--host", opts["host"], "--port", str(opts["port"])]
        workers = opts["workers"]
        threads = 1 if asgi else opts["threads"]
        backpressure = opts["backpressure"] or (max(1, opts["backlog"] // workers) if asgi else threads)
        args += ["--workers", str(workers), "--blocking-threads", str(threads), "--backpressure", str(backpressure)]
        kill_timeout = min(MAX_KILL_TIMEOUT, max(1, math.ceil(opts["graceful_timeout"])))
        args += ["--workers-kill-timeout", str(kill_timeout)]
        args.append("--respawn-failed-workers" if opts["respawn_failed_workers"] else "--no-respawn-failed-workers")
        if opts["workers_lifetime"]:
            args += ["--workers-lifetime", str(opts["workers_lifetime"])]
        if opts["workers_max_rss"]:
            args += ["--workers-max-rss", str(opts["workers_max_rss"])]
        args.append("--http1-keep-alive" if opts["keepalive"] else "--no-http1-keep-alive")
        args += ["--http", "auto" if opts["http2"] else "1"]
        if asgi:
            args.append("--ws" if opts["websockets"] else "--no-ws")
        if opts["tls_cert"]:
            args += ["--ssl-certificate", opts["tls_cert"], "--ssl-keyfile", opts["tls_key"]]
            args += ["--ssl-protocol-min", opts["tls_min_version"]]
        json_logs = opts["log_format"] == "json"  # access lines come from prodserver's layer then
        args.append("--access-log" if opts["access_log"] and not json_logs else "--no-access-log")
        if json_logs:
            from django_prodserver.logs import SERVER_LOGGING_FILE

            args += ["--log-config", SERVER_LOGGING_FILE]
        args += ["--log-level", opts["log_level"], "--backlog", str(opts["backlog"])]
        return args

    def _target(self, opts: OptionTable, ctx: LaunchContext) -> str:
        """The app, or our factory that wraps it with granian's proxy-header middleware."""
        if opts["forwarded_allow_ips"]:
            return proxies.FACTORIES[opts["interface"]]
        return self.app_path(opts, ctx)

    def environment(self, opts: OptionTable, ctx: LaunchContext) -> dict[str, str]:
        env = super().environment(opts, ctx)
        if opts["forwarded_allow_ips"]:
            env[proxies.ENV_APP] = self.app_path(opts, ctx)
            env[proxies.ENV_TRUSTED] = ",".join(opts["forwarded_allow_ips"])
        return env

    def in_process(self, opts: OptionTable, ctx: LaunchContext) -> bool:
        return True

    def notes(self, opts: OptionTable, ctx: LaunchContext) -> list[str]:
        notes = [
            "runs in-process: granian's main process is this manage.py process (Django set up once; "
            "on Linux workers fork from it, so SIGHUP respawns workers without reloading code the main "
            "process already imported)",
        ]
        if opts["drain_delay"]:
            notes.append(
                f"on SIGTERM prodserver keeps serving for {opts['drain_delay']:g}s, then granian stops "
                f"gracefully (workers killed after {opts['graceful_timeout']:g}s); no granian flag does this"
            )
        if opts["keepalive"] and opts.explicit("keepalive"):
            notes.append(
                f"granian has no keep-alive idle timeout: keepalive={opts['keepalive']} only switches "
                "HTTP/1 keep-alive on (0 switches it off)"
            )
        if opts["forwarded_allow_ips"]:
            notes.append(
                "granian has no proxy-header flag: the app is wrapped with granian.utils.proxies through "
                f"--factory {proxies.FACTORIES[opts['interface']]} (app and trusted proxies in "
                "the environment shown above)"
            )
        if opts["interface"] == "asgi" and opts["threads"] != 1:
            notes.append("ASGI: 1 blocking thread per worker (granian requires it); 'threads' applies to WSGI")
        if opts["http2"] and not opts["tls_cert"]:
            notes.append("HTTP/2 without TLS: only clients with prior knowledge (h2c upgrade is not supported)")
        return notes

    def run_in_process(self, plan: LaunchPlan) -> NoReturn:
        from ._run import run_granian

        run_granian(plan)

    @classmethod
    def from_legacy(cls, config: ProcessConfig, legacy_options: Mapping[str, Any]) -> ProcessConfig:
        """Upstream 3.x ARGS were ``Granian()`` keyword arguments, not CLI flags: translate them."""
        from ._legacy import translate_legacy

        return translate_legacy(config, legacy_options)
