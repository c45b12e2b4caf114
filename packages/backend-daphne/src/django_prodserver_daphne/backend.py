"""The daphne backend: uniform web options mapped to daphne flags and endpoints, in-process.

Launch: in-process (``python -m django_prodserver_daphne`` is the same code standalone).
daphne cancels every pending request on SIGTERM; hosting it lets a drain come first.
"""

from __future__ import annotations

import os
import re
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
    ReadyProbe,
    WebBackend,
    request_deadline,
)

W = WEB_OPTIONS

_ALIASES = {
    "-p": "--port",
    "-b": "--bind",
    "-u": "--unix-socket",
    "-e": "--endpoint",
    "-v": "--verbosity",
    "-t": "--http-timeout",
    "-s": "--server-name",
}
#: ``-v 0..2`` (3 is daphne's most verbose): Python's levels fold onto daphne's verbosity.
_VERBOSITY = {"critical": "0", "error": "0", "warning": "0", "info": "1", "debug": "2"}
_LEVEL = {"0": "warning", "1": "info", "2": "debug", "3": "debug"}
VERBOSITY = (lambda level: _VERBOSITY[level], lambda text: _LEVEL[text])
#: The endpoint key each option of a ``-e`` endpoint string sets.
_ENDPOINT_KEYS = {
    "port": "port",
    "interface": "host",
    "backlog": "backlog",
    "privateKey": "tls_key",
    "certKey": "tls_cert",
}


def _unescape(value: str) -> str:
    return re.sub(r"\\(.)", r"\1", value)


def read_endpoint(text: str) -> Mapping[str, Any]:
    """``-e tcp:port=8000:interface=127.0.0.1:backlog=N`` (or ``ssl:...:privateKey=K:certKey=C``,
    ``unix:path=P``): the options the endpoint string sets, as prodserver composes it."""
    kind, *parts = re.split(r"(?<!\\):", text.strip())
    # Twisted listens on every IPv4 interface when the endpoint names none.
    found: dict[str, Any] = {} if kind == "unix" else {"host": "0.0.0.0"}
    for position, part in enumerate(parts):
        key, sep, value = part.partition("=")
        if not sep and position == 0:  # positional: tcp:8000, unix:/path
            key, value = ("path" if kind == "unix" else "port"), part
        if kind == "unix" and key == "path":
            found["socket"] = _unescape(value)
        elif key in _ENDPOINT_KEYS:
            found[_ENDPOINT_KEYS[key]] = _unescape(value)
    return found


#: ``-e/--endpoint`` sets the bind, backlog and TLS files it names.
ENDPOINT = (("-e", read_endpoint),)


def _escape(value: str) -> str:
    """Twisted endpoint strings split on ':' and '='; escape them inside values."""
    return value.replace("\\", "\\\\").replace(":", "\\:").replace("=", "\\=")


def _h2_enabled() -> bool:
    from twisted.web.http import H2_ENABLED

    return bool(H2_ENABLED)


class DaphneBackend(WebBackend):
    """daphne: Channels' ASGI server; HTTP/1.1, HTTP/2 over TLS and websockets, one process."""

    name = "daphne"
    launch = "in-process"
    host = "django_prodserver_daphne.host:run"
    inherits_listener = True
    module = "django_prodserver_daphne"
    check_namespace = "prodserver_daphne"
    capabilities = frozenset({"http", "asgi", "workers", "tls", "http2", "websockets"})
    flags: ClassVar[FlagSpec] = FlagSpec(
        aliases=_ALIASES, switches=frozenset({"--proxy-headers", "--no-server-name", "-h", "--help"}), joined=False
    )
    host_options: ClassVar[tuple[str, ...]] = (
        "drain_delay",
        "graceful_timeout",
        "workers",
        "max_requests",
        "max_requests_jitter",
    )

    options: ClassVar[tuple[Option, ...]] = (
        W["interface"].declare(
            native="(ASGI only)",
            default="asgi",
            reason="daphne serves ASGI only",
            support="prodserver",
            instead="prodserver passes the ASGI application (daphne serves ASGI only)",
        ),
        W["host"].declare(native="-e tcp:port=P:interface=HOST", reads=ENDPOINT),
        W["port"].declare(native="-e tcp:port=P:interface=HOST", reads=ENDPOINT),
        W["socket"].declare(flag="-u", native="-u PATH", reads=ENDPOINT),
        W["workers"].declare(
            flag="--workers",
            native="(prodserver: N copies of daphne sharing one socket, supervised; TLS: one process)",
            support="prodserver",
            default=1,
            reason="one daphne process unless you ask for copies",
        ),
        W["threads"].declare(
            support="ignored",
            instead="daphne runs one event loop (Django runs each sync view in a thread of its own)",
        ),
        request_deadline(
            "daphne",
            native="(prodserver: 504 after N s, request cancelled; not daphne's -t 503)",
            reason="off unless set; then every ASGI server answers 504 the same way",
        ),
        W["graceful_timeout"].declare(flag="--graceful-timeout", native="(prodserver drain; daphne has none)"),
        W["drain_delay"].declare(flag="--drain-delay", native="(prodserver: keep serving after SIGTERM)"),
        W["keepalive"].declare(
            support="ignored",
            instead="daphne has no keep-alive idle timeout (Twisted closes idle connections after 12 h)",
        ),
        W["max_requests"].declare(
            flag="--max-requests",
            native="(prodserver: a copy stops after N requests and is replaced; TLS: ignored)",
            support="prodserver",
        ),
        W["max_requests_jitter"].declare(flag="--max-requests-jitter", support="prodserver"),
        W["tls_cert"].declare(native="-e ssl:...:certKey=FILE", reads=ENDPOINT),
        W["tls_key"].declare(native="-e ssl:...:privateKey=FILE", reads=ENDPOINT),
        W["http2"].declare(
            native="automatic on TLS with twisted[http2,tls]",
            default=True,
            reason="daphne negotiates HTTP/2 on TLS whenever h2 is installed; it cannot be turned off",
        ),
        W["websockets"].declare(
            native="(built in; False: prodserver answers each handshake 403)",
            support="prodserver",
            instead="daphne serves them; False: prodserver answers each handshake 403",
        ),
        W["access_log"].declare(
            switch=("--access-log -", f"--access-log {os.devnull}"),
            reads=(("--access-log", lambda path: {"access_log": path != os.devnull}),),
            native="--access-log - (False: --access-log to the null device)",
        ),
        W["forwarded_allow_ips"].declare(
            native='--proxy-headers (only ["*"]: daphne has no allow-list)',
            reads=(("--proxy-headers", lambda _: {"forwarded_allow_ips": ["*"]}),),
        ),
        W["log_level"].declare(flag="-v", convert=VERBOSITY, native="-v 0..2"),
        W["backlog"].declare(
            native="-e tcp:...:backlog=N", reads=ENDPOINT, reason="Twisted's 50 overflows under a burst"
        ),
    )

    def validate(self, opts: OptionTable, ctx: LaunchContext) -> None:
        opt = self.option_key
        if opts["interface"] != "asgi":
            raise ConfigError(
                opt("interface"),
                "daphne is an ASGI server; it cannot serve 'wsgi'",
                "remove 'interface' (daphne uses ASGI_APPLICATION), or use a WSGI backend",
            )
        if opts.explicit("http2"):
            if opts["http2"] and not opts["tls_cert"]:
                raise ConfigError(opt("http2"), "daphne serves HTTP/2 only over TLS", "set 'tls_cert' and 'tls_key'")
            if not opts["http2"] and opts["tls_cert"]:
                raise ConfigError(
                    opt("http2"),
                    "daphne negotiates HTTP/2 on TLS whenever h2 is installed; it cannot be turned off",
                    "remove 'http2', or terminate TLS at a proxy",
                )
        if opts["tls_cert"] and opts["http2"] and not _h2_enabled():
            raise ConfigError(
                opt("http2"),
                "HTTP/2 in daphne needs Twisted's http2 and tls extras, which are not installed",
                'pip install "twisted[http2,tls]"',
            )
        ips = opts["forwarded_allow_ips"]
        if ips and ips != ["*"]:
            raise ConfigError(
                opt("forwarded_allow_ips"),
                f"daphne trusts X-Forwarded-* from every peer or from none; it has no allow-list (found {ips!r})",
                'write ["*"] if only your proxy can reach daphne, or leave it unset',
            )
        if opts["socket"] and (opts.explicit("port") or opts["tls_cert"]):
            raise ConfigError(opt("socket"), "give 'socket' or 'port'/TLS, not both", "remove one of them")

    def build_args(self, opts: OptionTable, ctx: LaunchContext) -> list[str]:
        # One Twisted endpoint string holds host, port, backlog and the TLS files (read back by ENDPOINT).
        if opts["socket"]:
            args = self.native_args(opts, "socket")
        else:
            kind = "ssl" if opts["tls_cert"] else "tcp"
            endpoint = f"{kind}:port={opts['port']}:interface={_escape(opts['host'])}:backlog={opts['backlog']}"
            if opts["tls_cert"]:
                endpoint += f":privateKey={_escape(opts['tls_key'])}:certKey={_escape(opts['tls_cert'])}"
            args = ["-e", endpoint]
        # JSON mode: daphne writes its access lines straight to a stream; prodserver's layer logs them.
        json_logs = opts["log_format"] == "json"
        native = opts.with_value("access_log", False, "log_format json") if json_logs else opts
        args += self.native_args(native, "log_level", "access_log")
        if opts["forwarded_allow_ips"]:  # a switch: daphne trusts every peer's headers or none
            args.append("--proxy-headers")
        args.append(self.app_path(opts, ctx))
        return args

    def host_plan(self, opts: OptionTable, ctx: LaunchContext) -> HostPlan:
        # Copies share a plain socket only: with TLS, one process that never recycles (warned).
        if opts["tls_cert"]:
            opts = opts.with_value("workers", 1, "tls_cert").with_value("max_requests", 0, "tls_cert")
        return super().host_plan(opts, ctx)

    def warnings(self, opts: OptionTable, ctx: LaunchContext) -> list[str]:
        found = super().warnings(opts, ctx)
        if opts["workers"] > 1 and opts["tls_cert"]:
            found.append(
                f"daphne approximates workers={opts['workers']} with TLS as one process: copies share a plain "
                "socket only (terminate TLS at a proxy to run copies)"
            )
        if opts["max_requests"] and opts["tls_cert"]:
            found.append(
                f"daphne ignores max_requests={opts['max_requests']} with TLS: recycling needs prodserver's "
                "copies, which share a plain socket only"
            )
        return found

    def ready_probe(self, opts: OptionTable, ctx: LaunchContext) -> ReadyProbe:
        return replace(super().ready_probe(opts, ctx), log_line="Listening on TCP address")

    def notes(self, opts: OptionTable, ctx: LaunchContext) -> list[str]:
        notes = [
            "daphne itself has no drain: on SIGTERM it cancels every pending request. prodserver hosts it "
            f"in-process and drains first: it keeps serving for {opts['drain_delay']:g}s, stops listening, "
            f"closes websockets (1001) and lets HTTP requests finish within {opts['graceful_timeout']:g}s; "
            "whatever still runs after that is cancelled",
        ]
        if opts["workers"] > 1 and not opts["tls_cert"]:
            notes.append(
                f"workers={opts['workers']}: prodserver binds the socket once and forks {opts['workers']} daphne "
                "copies that adopt it, replaces a copy that dies, and forwards SIGTERM to all (they drain together)"
            )
        if opts["max_requests"] and not opts["tls_cert"]:
            notes.append(
                f"max_requests={opts['max_requests']}: each copy stops gracefully after that many requests "
                f"(+ up to {opts['max_requests_jitter']}) and prodserver starts a new one on the same socket"
            )
        if opts["forwarded_allow_ips"]:
            notes.append("--proxy-headers trusts X-Forwarded-* from every peer: only a proxy may reach daphne")
        return notes
