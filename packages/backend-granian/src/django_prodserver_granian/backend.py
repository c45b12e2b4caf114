"""The granian backend: uniform web options mapped to granian's CLI, hosted in-process."""

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
)

from . import proxies

W = WEB_OPTIONS
#: granian caps --workers-kill-timeout at 30 minutes.
MAX_KILL_TIMEOUT = 1800
#: ``--workers-kill-timeout`` takes whole seconds, 1 to :data:`MAX_KILL_TIMEOUT`.
KILL_TIMEOUT = (lambda value: str(min(MAX_KILL_TIMEOUT, max(1, math.ceil(value)))), float)
#: ``--interface``: granian's ``asginl`` (ASGI without lifespan, which Django rejects) is ``asgi``;
#: granian's ``asgi`` reads back as ``asgi`` too; ``rsgi`` is not Django (an error naming ARGS).
_INTERFACE_BACK = {"asginl": "asgi", "asgi": "asgi", "wsgi": "wsgi"}
INTERFACE = (lambda value: "asginl" if value == "asgi" else "wsgi", lambda text: _INTERFACE_BACK[text.lower()])


def _command() -> Any:
    from granian.cli import cli

    return cli


class GranianBackend(WebBackend):
    """granian for WSGI (blocking threads) and ASGI (``asginl``), run in-process so that
    SIGTERM can first keep serving for ``drain_delay`` (see ``docs/backends/granian.md``)."""

    name = "granian"
    launch = "in-process"
    host = "django_prodserver_granian.host:run"
    module = "granian"
    check_namespace = "prodserver_granian"
    capabilities = frozenset({"http", "wsgi", "asgi", "workers", "tls", "http2", "websockets"})
    ambient_env = ("GRANIAN_",)
    # prodserver's host runs granian's click CLI with auto_envvar_prefix="GRANIAN", as granian does.
    env_names: ClassVar[frozenset[str] | None] = click_env_names(_command(), "GRANIAN")
    flags: ClassVar[FlagSpec] = click_flag_spec(_command())

    options: ClassVar[tuple[Option, ...]] = (
        W["interface"].declare(
            flag="--interface",
            convert=INTERFACE,
            native="--interface wsgi | asginl",
            reason="always explicit: granian's default 'rsgi' is not Django; 'asginl' because Django rejects lifespan",
        ),
        W["host"].declare(flag="--host"),
        W["port"].declare(flag="--port"),
        W["socket"].declare(flag="--uds"),
        W["workers"].declare(
            flag="--workers",
            default=one_per_cpu,
            reason="one process per CPU: granian's Rust runtime does the I/O, threads run the views",
        ),
        W["threads"].declare(
            flag="--blocking-threads",
            native="--blocking-threads N (WSGI; ASGI always 1)",
            default=8,
            reason="granian's WSGI default is 512 threads, each may hold a DB connection",
        ),
        request_deadline("granian"),
        W["graceful_timeout"].declare(
            flag="--workers-kill-timeout",
            convert=KILL_TIMEOUT,
            native="--workers-kill-timeout N (whole seconds, 1..1800)",
        ),
        W["drain_delay"].declare(
            native="(prodserver: keeps serving after SIGTERM, then granian stops gracefully)",
            support="prodserver",
            instead="on SIGTERM prodserver keeps serving this long, then granian stops gracefully",
        ),
        W["keepalive"].declare(
            switch=("--http1-keep-alive", "--no-http1-keep-alive"),
            support="approximated",
            instead="granian has no keep-alive idle timeout, only on/off: HTTP/1 keep-alive switched on",
            reason="granian has no idle timeout for keep-alive connections, only on/off",
        ),
        W["max_requests"].declare(
            support="ignored",
            instead="granian cannot recycle a worker after N requests; recycle with workers_lifetime (s) "
            "or workers_max_rss (MiB)",
        ),
        W["max_requests_jitter"].declare(support="ignored", instead="granian has no max_requests"),
        W["tls_cert"].declare(flag="--ssl-certificate"),
        W["tls_key"].declare(flag="--ssl-keyfile", native="--ssl-keyfile (PKCS#8 preferred)"),
        W["http2"].declare(
            switch=("--http auto", "--http 1"),
            reads=(("--http", lambda version: {"http2": version != "1"}),),
            native="--http auto (h2 via ALPN, h2c prior knowledge) / --http 1",
        ),
        W["websockets"].declare(
            switch=("--ws", "--no-ws"), native="--ws (False: prodserver answers each handshake 403)"
        ),
        W["access_log"].declare(
            switch=("--access-log", "--no-access-log"), reason="granian's access log is off by default"
        ),
        W["forwarded_allow_ips"].declare(
            native="(no flag: --factory wraps the app with granian.utils.proxies)",
            support="prodserver",
            instead="granian has no proxy-header flag: prodserver serves the app wrapped in "
            "granian.utils.proxies through --factory",
        ),
        W["log_level"].declare(flag="--log-level"),
        W["backlog"].declare(flag="--backlog", native="--backlog (granian's minimum is 128)"),
        Option(
            "backpressure",
            "int",
            "Requests one worker handles at once; more wait in the listen queue for a free worker.",
            flag="--backpressure",
            native="--backpressure N",
            minimum=1,
            reason="WSGI: equal to threads, so a busy worker leaves new requests to an idle one",
        ),
        Option(
            "respawn_failed_workers",
            "bool",
            "Replace a worker that dies unexpectedly instead of stopping the whole server.",
            default=True,
            switch=("--respawn-failed-workers", "--no-respawn-failed-workers"),
            native="--respawn-failed-workers",
            reason="granian's default stops every worker when one crashes",
        ),
        Option(
            "workers_lifetime",
            "int",
            "Respawn each worker after this many seconds (granian's answer to max_requests).",
            flag="--workers-lifetime",
            native="--workers-lifetime N (>= 60)",
            minimum=60,
        ),
        Option(
            "workers_max_rss",
            "int",
            "Respawn a worker whose memory exceeds this many MiB.",
            flag="--workers-max-rss",
            native="--workers-max-rss N",
            minimum=1,
        ),
        Option(
            "tls_min_version",
            "choice",
            "Oldest TLS version accepted when tls_cert is set.",
            default="tls1.2",
            choices=("tls1.2", "tls1.3"),
            flag="--ssl-protocol-min",
            native="--ssl-protocol-min",
            reason="granian defaults to TLS 1.3 only, which refuses many load balancers and older clients",
        ),
    )

    def warnings(self, opts: OptionTable, ctx: LaunchContext) -> list[str]:
        found = super().warnings(opts, ctx)
        if opts["interface"] == "asgi" and opts.explicit("threads") and opts["threads"] > 1:
            found.append(
                f"granian ignores threads={opts['threads']} with ASGI: views run on its event loop with 1 "
                "blocking thread per worker ('threads' applies to WSGI)"
            )
        if opts["graceful_timeout"] > MAX_KILL_TIMEOUT:
            found.append(
                f"granian approximates graceful_timeout={opts['graceful_timeout']:g}: it waits at most "
                f"{MAX_KILL_TIMEOUT} s for workers"
            )
        if opts["backlog"] < 128:
            found.append(f"granian approximates backlog={opts['backlog']}: its minimum is 128")
        return found

    def build_args(self, opts: OptionTable, ctx: LaunchContext) -> list[str]:
        asgi = opts["interface"] == "asgi"
        args = [self._target(opts, ctx), *self.native_args(opts, "interface")]
        if opts["forwarded_allow_ips"]:
            args.append("--factory")
        args += self.native_args(opts, "socket") if opts["socket"] else self.native_args(opts, "host", "port")
        # ASGI views run on the event loop with one blocking thread; backpressure defaults to the
        # threads (WSGI) or the worker's share of the backlog (ASGI).
        threads = 1 if asgi else opts["threads"]
        backpressure = opts["backpressure"] or (max(1, opts["backlog"] // opts["workers"]) if asgi else threads)
        computed = opts.with_value("threads", threads, "interface").with_value("backpressure", backpressure, "computed")
        args += self.native_args(
            computed,
            "workers",
            "threads",
            "backpressure",
            "graceful_timeout",
            "respawn_failed_workers",
            "workers_lifetime",
            "workers_max_rss",
            "keepalive",
            "http2",
        )
        if asgi:  # websockets False: --no-ws would pass upgrades on as HTTP; prodserver refuses them
            args.append("--ws")
        if opts["tls_cert"]:
            args += self.native_args(opts, "tls_cert", "tls_key", "tls_min_version")
        json_logs = opts["log_format"] == "json"  # access lines come from prodserver's layer then
        native = opts.with_value("access_log", False, "log_format json") if json_logs else opts
        args += self.native_args(native, "access_log", "log_level")
        if json_logs:
            from django_prodserver.api import SERVER_LOGGING_FILE

            args += ["--log-config", SERVER_LOGGING_FILE]
        args += ["--backlog", str(max(128, opts["backlog"]))]
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
        if opts["forwarded_allow_ips"]:
            notes.append(
                "granian has no proxy-header flag: the app is wrapped with granian.utils.proxies through "
                f"--factory {proxies.FACTORIES[opts['interface']]} (app and trusted proxies in "
                "the environment shown above)"
            )
        if opts["http2"] and not opts["tls_cert"]:
            notes.append("HTTP/2 without TLS: only clients with prior knowledge (h2c upgrade is not supported)")
        return notes

    @classmethod
    def from_legacy(cls, config: ProcessConfig, legacy_options: Mapping[str, Any]) -> ProcessConfig:
        """Upstream 3.x ARGS were ``Granian()`` keyword arguments, not CLI flags: translate them."""
        from .legacy import translate_legacy

        return translate_legacy(config, legacy_options)
