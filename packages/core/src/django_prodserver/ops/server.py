"""The ops HTTP server: stdlib, in a thread of the supervisor, never a Django view.

A Django view would queue behind busy workers, be refused by ALLOWED_HOSTS for the pod IP and
be redirected by SECURE_SSL_REDIRECT; this answers from the supervisor's own state at once."""

from __future__ import annotations

import errno
import json
import socket
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from django_prodserver.errors import ConfigError
from django_prodserver.ops.config import OpsConfig

if TYPE_CHECKING:
    from django_prodserver.ops.runtime import OpsRuntime

PIP_LINE = 'pip install "django-prodserver-core[metrics]"'


class OpsHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    runtime: OpsRuntime


class OpsHandler(BaseHTTPRequestHandler):
    """GET /livez, /readyz, /readyz/<name>, /startupz, /metrics (``?verbose`` for JSON)."""

    server: OpsHTTPServer
    protocol_version = "HTTP/1.1"
    server_version = "prodserver-ops"

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        verbose = "verbose" in parse_qs(url.query, keep_blank_values=True)
        runtime = self.server.runtime
        path = url.path.rstrip("/") or "/"
        if path == "/livez":
            self._judged(*runtime.live(), verbose=verbose)
        elif path == "/readyz":
            self._judged(*runtime.ready(), verbose=verbose)  # type: ignore[misc]
        elif path.startswith("/readyz/"):
            answer = runtime.ready(path[len("/readyz/") :])
            if answer is None:
                known = ", ".join(sorted(n for n, w in runtime.watches.items() if w.service))
                self._send(404, f"no long-running process named {path[8:]!r}; known: {known}\n")
            else:
                self._judged(*answer, verbose=verbose)
        elif path == "/startupz":
            self._judged(*runtime.startup(), verbose=verbose)
        elif path == "/metrics":
            self._metrics()
        else:
            self._send(404, "ops endpoint paths: /livez /readyz /readyz/<name> /startupz /metrics (?verbose)\n")

    do_HEAD = do_GET

    def _judged(self, ok: bool, body: dict[str, Any], *, verbose: bool) -> None:
        status = 200 if ok else 503
        if verbose:
            self._send(status, json.dumps(body, indent=2) + "\n", "application/json")
        else:
            self._send(status, ("ok" if ok else str(body.get("detail", "failing"))) + "\n")

    def _metrics(self) -> None:
        runtime = self.server.runtime
        if not runtime.config.metrics:
            self._send(404, "metrics are off (PRODSERVER_OPS['METRICS'] = False)\n")
            return
        try:
            from django_prodserver.ops.metrics import CONTENT_TYPE, render
        except ImportError:
            self._send(501, f"prometheus-client is not installed; to serve /metrics: {PIP_LINE}\n")
            return
        self._send(200, render(runtime), CONTENT_TYPE)

    def _send(self, status: int, body: str | bytes, content_type: str = "text/plain; charset=utf-8") -> None:
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        """Probes every few seconds would drown the logs: say nothing."""


def bind(config: OpsConfig, runtime: OpsRuntime) -> OpsHTTPServer:
    """Listen on the configured address now (before any child starts); ConfigError names the key."""
    family = socket.AF_INET6 if ":" in config.host else socket.AF_INET

    class Server(OpsHTTPServer):
        address_family = family

    try:
        server = Server((config.host, config.port), OpsHandler, bind_and_activate=False)
        server.allow_reuse_address = True
        try:
            server.server_bind()
            server.server_activate()
        except BaseException:
            server.server_close()
            raise
    except OSError as e:
        busy = e.errno == errno.EADDRINUSE
        raise ConfigError(
            config.source,
            f"the ops endpoint cannot listen on {config.host}:{config.port}: "
            + ("the port is in use" if busy else (e.strerror or str(e))),
            "pick a free port for the ops endpoint (another process, or a web process, already uses it)"
            if busy
            else "give an address of this host, e.g. 127.0.0.1 or 0.0.0.0",
            check_id="prodserver.E010",
        ) from None
    server.runtime = runtime
    return server
