"""``PRODSERVER_PROFILE_REQUESTS``: profile one request that carries the secret token.

A request whose ``X-Prodserver-Profile`` header equals the token (compared in constant time) is
profiled, with pyinstrument when it is installed (an HTML report) or cProfile (a speedscope JSON
file). The report is the response, or, with ``DIR``, a file (mode 0600) named by the response
header ``X-Prodserver-Profile-File`` while the app's own response is sent. Every other request
costs one header lookup; with the setting off the layer is not in the chain at all. The header
is removed before the app sees it, so the token never reaches a view, a log or an error report.
"""

from __future__ import annotations

import hmac
import logging
import os
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from django_prodserver.served._profilers import Session, pyinstrument_available, session_factory
from django_prodserver.settings.profiling import (
    FILE_HEADER,
    HEADER,
    ProfileConfig,
    load_profile_config,
    prepare_directory,
    read_token,
)

LAYER = "django_prodserver.served.profiling:profile_layer"
_WSGI_KEY = "HTTP_" + HEADER.upper().replace("-", "_")
_ASGI_KEY = HEADER.lower().encode("latin-1")
_STATUS_HEADER = "X-Prodserver-Profile-Status"

logger = logging.getLogger("django_prodserver.profile")


def preload() -> None:
    """Import the profiler in a server's master before it forks (see ``layers.preload``)."""
    pyinstrument_available()


def profile_layer(app: Any, interface: str) -> Any:
    """Layer factory (see :mod:`django_prodserver.served.layers`). The token is read now: a
    missing, empty or short one is a ConfigError naming the key, and the worker does not start."""
    config = load_profile_config()
    if config is None:
        return app
    token = read_token(config)
    store = Store(config) if config.directory else None
    make = session_factory(interface)
    if interface == "asgi":
        return AsgiProfile(app, token, make, store)
    return WsgiProfile(app, token, make, store)


class Store:
    """Profiles written into one directory (mode 0700), each file mode 0600, never overwritten."""

    def __init__(self, config: ProfileConfig) -> None:
        prepare_directory(config)
        self.directory = config.directory or "."

    def name(self, method: str, path: str, suffix: str) -> str:
        # Both come from the client: only letters and digits reach the file name.
        slug = re.sub(r"[^A-Za-z0-9]+", "-", path).strip("-")[:60] or "root"
        verb = re.sub(r"[^a-z]", "", method.lower())[:10] or "request"
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        return f"{stamp}-{os.getpid()}-{verb}-{slug}-{secrets.token_hex(3)}{suffix}"

    def write(self, name: str, data: bytes, what: str) -> bool:
        """Write one profile; False (and the error logged) when it cannot be: the request is
        answered normally all the same."""
        path = os.path.join(self.directory, name)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        try:
            fd = os.open(path, flags, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
        except OSError:
            logger.exception("profile of %s could not be stored in %s", what, path)
            return False
        logger.warning("profile of %s stored in %s", what, path)
        return True


def _matches(given: bytes, token: bytes) -> bool:
    return hmac.compare_digest(given, token)


class WsgiProfile:
    """WSGI: the whole request (the app call and its body) runs under the profiler."""

    def __init__(
        self, app: Callable[..., Iterable[bytes]], token: bytes, make: Callable[[], Session], store: Store | None
    ):
        self.app = app
        self.token = token
        self.make = make
        self.store = store
        self.lock = threading.Lock()  # one profile at a time per process

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        given = environ.pop(_WSGI_KEY, None)
        if given is None or not _matches(given.encode("latin-1", "replace"), self.token):
            return self.app(environ, start_response)
        if not self.lock.acquire(blocking=False):
            logger.warning("a profile is already being taken in this process: request served unprofiled")
            return self.app(environ, start_response)
        try:
            return self.profiled(environ, start_response)
        finally:
            self.lock.release()

    def profiled(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        method, path = environ.get("REQUEST_METHOD", "GET"), environ.get("PATH_INFO", "/")
        body: list[bytes] = []
        started: list[tuple[str, list[tuple[str, str]], Any]] = []

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
            started[:] = [(status, list(headers), exc_info)]
            return body.append

        session = self.make()
        session.start()
        try:
            result = self.app(environ, capture)
            try:
                body.extend(result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        finally:
            session.stop()
        status, headers, exc_info = started[0] if started else ("500 Internal Server Error", [], None)
        report = session.render(f"{method} {path}")
        if self.store is not None:
            name = self.store.name(method, path, session.suffix)
            if self.store.write(name, report, f"{method} {path}"):
                headers = [*headers, (FILE_HEADER, name)]
            start_response(status, headers, exc_info)
            return body
        start_response("200 OK", _report_headers(session, report, status))
        return [report]


def _report_headers(session: Session, report: bytes, status: str) -> list[tuple[str, str]]:
    return [
        ("Content-Type", session.content_type),
        ("Content-Length", str(len(report))),
        ("Cache-Control", "no-store"),
        (_STATUS_HEADER, status),
    ]


class AsgiProfile:
    """ASGI: the request's task runs under the profiler (pyinstrument follows its awaits)."""

    def __init__(self, app: Any, token: bytes, make: Callable[[], Session], store: Store | None) -> None:
        self.app = app
        self.token = token
        self.make = make
        self.store = store
        self.busy = False  # one profile at a time per event loop

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return
        given = next((v for k, v in scope.get("headers", ()) if k == _ASGI_KEY), None)
        if given is None:
            await self.app(scope, receive, send)
            return
        scope = dict(scope, headers=[(k, v) for k, v in scope["headers"] if k != _ASGI_KEY])
        if not _matches(given, self.token):
            await self.app(scope, receive, send)
            return
        if self.busy:
            logger.warning("a profile is already being taken in this process: request served unprofiled")
            await self.app(scope, receive, send)
            return
        self.busy = True
        try:
            await self.profiled(scope, receive, send)
        finally:
            self.busy = False

    async def profiled(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        method, path = str(scope.get("method", "GET")), str(scope.get("path", "/"))
        session = self.make()
        name = self.store.name(method, path, session.suffix) if self.store is not None else ""
        status = 500
        held: list[dict[str, Any]] = []

        async def guarded_send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message.get("status", 200))
                if self.store is not None:
                    message = dict(
                        message, headers=[*message.get("headers", ()), (FILE_HEADER.lower().encode(), name.encode())]
                    )
            if self.store is None or (message["type"] == "http.response.body" and not message.get("more_body")):
                held.append(message)  # the report is the response / the last chunk waits for the file
                return
            await send(message)

        session.start()
        try:
            await self.app(scope, receive, guarded_send)
        finally:
            session.stop()
        report = session.render(f"{method} {path}")
        if self.store is not None:
            self.store.write(name, report, f"{method} {path}")  # the header already named it
            for message in held:
                await send(message)
            return
        headers = _report_headers(session, report, str(status))
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers],
            }
        )
        await send({"type": "http.response.body", "body": report})
