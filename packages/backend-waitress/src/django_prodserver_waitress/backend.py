"""The waitress backend: uniform web options mapped to waitress flags, hosted in-process.

Launch: in-process (``python -m django_prodserver_waitress`` is the same code as a
standalone command). waitress installs no SIGTERM handler: it dies mid-request on SIGTERM
and ignores SIGTERM as PID 1. Hosting it lets us install a handler that drains instead.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, ClassVar

from django_prodserver.api import (
    WEB_OPTIONS,
    ConfigError,
    FlagSpec,
    HostPlan,
    LaunchContext,
    Option,
    OptionTable,
    ProcessConfig,
    ReadyProbe,
    WebBackend,
    bind_reader,
    host_port,
    parse,
    request_deadline,
    where,
)

W = WEB_OPTIONS

_read_bind = bind_reader(8080)


def _read_listen(text: str) -> Mapping[str, Any]:
    """``--listen=HOST:PORT``: host and port (no port: waitress' 8080; ``*``: every interface)."""
    found = dict(_read_bind(text))
    if found.get("host") == "*":
        found["host"] = "0.0.0.0"
    return found


#: ``--listen=HOST:PORT`` sets host and port.
LISTEN = (("--listen", _read_listen),)
#: ``--channel-timeout`` takes whole seconds, at least 1.
WHOLE_SECONDS = (lambda value: str(max(1, int(value))), float)
#: Headers trusted from ``forwarded_allow_ips`` (waitress wants them space-separated).
TRUSTED_PROXY_HEADERS = "x-forwarded-for x-forwarded-proto"


def _flag_spec() -> FlagSpec:
    """waitress' option table gives every flag; booleans are switches with a ``--no-`` form."""
    from waitress.adjustments import Adjustments, asbool

    switches = {"--call", "--help"}
    negations: dict[str, str] = {}
    names = [(name.replace("_", "-"), cast is asbool) for name, cast in Adjustments._params]
    names += [("access-log", True)]  # prodserver's, read from ARGS into the plan
    for flag, is_switch in names:
        if is_switch:
            switches.add(f"--{flag}")
            negations[f"--no-{flag}"] = f"--{flag}"
    return FlagSpec(switches=frozenset(switches), negations=negations, joined=True)


class WaitressBackend(WebBackend):
    """waitress: pure-Python WSGI, one process with threads, Windows-friendly."""

    name = "waitress"
    launch = "in-process"
    host = "django_prodserver_waitress.host:run"
    inherits_listener = True
    module = "django_prodserver_waitress"
    check_namespace = "prodserver_waitress"
    capabilities = frozenset({"http", "wsgi", "workers"})
    flags: ClassVar[FlagSpec] = _flag_spec()
    host_options: ClassVar[tuple[str, ...]] = (
        "drain_delay",
        "graceful_timeout",
        "access_log",
        "log_level",
        "workers",
        "max_requests",
        "max_requests_jitter",
    )
    refused: ClassVar[Mapping[str, str]] = {
        "tls_cert": "waitress has no TLS: terminate TLS at a proxy, or use gunicorn/granian/uvicorn",
        "tls_key": "waitress has no TLS: terminate TLS at a proxy, or use gunicorn/granian/uvicorn",
        "http2": "waitress speaks HTTP/1.1 only: use granian, hypercorn or gunicorn for HTTP/2",
        "websockets": (
            "waitress is a WSGI server and websockets need ASGI "
            "(gunicorn with the uvicorn worker, uvicorn, granian, hypercorn, daphne)"
        ),
    }

    options: ClassVar[tuple[Option, ...]] = (
        W["interface"].declare(
            native="(WSGI only)",
            support="prodserver",
            instead="prodserver passes the WSGI application (waitress serves WSGI only)",
        ),
        W["host"].declare(native="--listen=HOST:PORT", reads=LISTEN, reason="never waitress' own 0.0.0.0:8080 default"),
        W["port"].declare(native="--listen=HOST:PORT", reads=LISTEN),
        W["socket"].declare(flag="--unix-socket={}", native="--unix-socket=PATH"),
        W["workers"].declare(
            flag="--workers={}",
            native="(prodserver: N copies of waitress sharing one socket, supervised)",
            support="prodserver",
            default=1,
            reason="one waitress process with threads unless you ask for copies",
        ),
        W["threads"].declare(
            flag="--threads={}",
            default=8,
            reason="threads are waitress' only concurrency; its own 4 queue slow views sooner",
        ),
        request_deadline(
            "waitress", native="(prodserver: 504 after N s; the view's thread finishes in the background)"
        ),
        W["graceful_timeout"].declare(
            flag="--graceful-timeout={}", native="(prodserver drain; waitress' own stop waits a fixed 5 s)"
        ),
        W["drain_delay"].declare(flag="--drain-delay={}", native="(prodserver: keep accepting after SIGTERM)"),
        W["keepalive"].declare(
            flag="--channel-timeout={}",
            convert=WHOLE_SECONDS,
            native="--channel-timeout=N (+ --cleanup-interval)",
            reason="idle connections close after this; waitress' own 120 s holds threads' sockets",
        ),
        W["max_requests"].declare(
            flag="--max-requests={}",
            native="(prodserver: a copy stops after N requests and is replaced)",
            support="prodserver",
        ),
        W["max_requests_jitter"].declare(flag="--max-requests-jitter={}", support="prodserver"),
        W["access_log"].declare(
            switch=("--access-log", "--no-access-log"),
            native="(prodserver WSGI access log on stdout; waitress has none)",
            reason="one line per request on stdout, like every other backend",
        ),
        W["forwarded_allow_ips"].declare(
            flag="--trusted-proxy={}",
            native=f'--trusted-proxy=IP --trusted-proxy-headers="{TRUSTED_PROXY_HEADERS}"',
        ),
        W["log_level"].declare(flag="--log-level={}", native="(level of the 'waitress' logger)"),
        W["backlog"].declare(flag="--backlog={}"),
        Option(
            "connection_limit",
            "int",
            "Open connections before waitress stops accepting (waitress' default is 100).",
            default=100,
            minimum=1,
            flag="--connection-limit={}",
            native="--connection-limit=N",
            reason="waitress' own default; raise it behind a connection-pooling proxy",
        ),
    )

    def validate(self, opts: OptionTable, ctx: LaunchContext) -> None:
        opt = self.option_key
        if opts["interface"] != "wsgi":
            raise ConfigError(
                opt("interface"),
                f"waitress is a WSGI server; it cannot serve {opts['interface']!r}",
                "use interface 'wsgi', or an ASGI backend (hypercorn, daphne, uvicorn, granian)",
            )
        ips = opts["forwarded_allow_ips"] or []
        if len(ips) > 1:
            raise ConfigError(
                opt("forwarded_allow_ips"),
                f"waitress trusts one proxy address or '*', found {ips!r}",
                'give one address, or ["*"] if only your proxies can reach waitress',
            )
        for source, layer in (("ARGS", self.config.args), ("command line", ctx.native_args)):
            for arg in parse(layer, self.flags):
                if arg.flag in ("--host", "--port"):
                    raise ConfigError(
                        where(self.config.name, "ARGS") if source == "ARGS" else "arguments after --",
                        f"waitress refuses {arg.flag} together with the --listen prodserver passes",
                        "set OPTIONS 'host'/'port', or give --listen=HOST:PORT",
                    )

    def build_args(self, opts: OptionTable, ctx: LaunchContext) -> list[str]:
        # --listen is HOST:PORT composed from two options (read back by LISTEN).
        args = self.native_args(opts, "socket") or [f"--listen={host_port(opts['host'], opts['port'])}"]
        args += self.native_args(opts, "threads", "backlog", "connection_limit", "keepalive")
        # waitress checks idle channels every cleanup interval: at most 30 s, never longer than the timeout.
        args.append(f"--cleanup-interval={min(30, int(WHOLE_SECONDS[0](opts['keepalive'])))}")
        if opts["forwarded_allow_ips"]:
            args += [*self.native_args(opts, "forwarded_allow_ips"), f"--trusted-proxy-headers={TRUSTED_PROXY_HEADERS}"]
        args.append(self.app_path(opts, ctx))
        return args

    def host_plan(self, opts: OptionTable, ctx: LaunchContext) -> HostPlan:
        # JSON mode: prodserver's request layer writes the access line (the same on every server).
        json_logs = opts["log_format"] == "json"
        return super().host_plan(opts.with_value("access_log", False, "log_format json") if json_logs else opts, ctx)

    def ready_probe(self, opts: OptionTable, ctx: LaunchContext) -> ReadyProbe:
        probe = super().ready_probe(opts, ctx)
        return replace(probe, log_line="Serving on")

    def notes(self, opts: OptionTable, ctx: LaunchContext) -> list[str]:
        notes = [
            "runs in-process with a SIGTERM handler: waitress alone dies on SIGTERM (dropping "
            "in-flight requests) and ignores SIGTERM as PID 1",
            f"on SIGTERM it keeps accepting for {opts['drain_delay']:g}s, then stops listening and lets "
            f"in-flight requests finish within {opts['graceful_timeout']:g}s (waitress' own stop "
            "waits a fixed 5 s); SIGINT skips the drain delay",
        ]
        if opts["access_log"]:
            notes.append("the access log comes from a prodserver WSGI wrapper (waitress has none)")
        if opts["workers"] > 1:
            notes.append(
                f"workers={opts['workers']}: prodserver binds the socket once and forks {opts['workers']} waitress "
                "copies that accept from it, replaces a copy that dies, and forwards SIGTERM to all (they drain "
                "together)"
            )
        if opts["max_requests"]:
            notes.append(
                f"max_requests={opts['max_requests']}: each copy stops gracefully after that many requests "
                f"(+ up to {opts['max_requests_jitter']}) and prodserver starts a new one on the same socket"
            )
        return notes

    @classmethod
    def from_legacy(cls, config: ProcessConfig, legacy_options: Mapping[str, Any]) -> ProcessConfig:
        """Upstream's ``WaitressServer`` passed ARGS to ``waitress-serve`` as written, so it
        listened on waitress' 0.0.0.0:8080 unless ARGS said otherwise. Keep that bind (an
        upgrade must not move the port) by turning ``--host``/``--port`` into options."""
        config = super().from_legacy(config, legacy_options)
        kept: list[str] = []
        found: dict[str, Any] = {}
        for arg in parse(config.args, cls.flags):
            if arg.flag in ("--host", "--port"):
                value = arg.tokens[0].split("=", 1)[1] if "=" in arg.tokens[0] else arg.tokens[-1]
                found[arg.flag[2:]] = int(value) if arg.flag == "--port" and value.isdigit() else value
            else:
                kept.extend(arg.tokens)
        has_listen = any(a.flag == "--listen" for a in parse(kept, cls.flags))
        options = dict(config.options)
        if not has_listen and "socket" not in options:
            options.setdefault("host", found.get("host", "0.0.0.0"))
            options.setdefault("port", found.get("port", 8080))
            warnings.warn(
                f"{config.where}: upstream's WaitressServer listened on {options['host']}:{options['port']}; "
                f'kept. With "BACKEND": "waitress" write "OPTIONS": {{"host": {options["host"]!r}, '
                f'"port": {options["port"]!r}}} to keep it (the default is 127.0.0.1:8000, or 0.0.0.0:$PORT).',
                DeprecationWarning,
                stacklevel=2,
            )
        return replace(config, args=tuple(kept), options=options)
