"""The access line prodserver writes in JSON mode, the same fields whatever the server.

A request layer (``django_prodserver.logs.access:access_layer``) for WSGI and ASGI: one
``prodserver.access`` record per response, when its body is finished, with ``http.*``."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, MutableMapping
from typing import Any

from django_prodserver.logs.requestid import request_id

LOGGER = "prodserver.access"
logger = logging.getLogger(LOGGER)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]


def access_layer(app: Any, interface: str) -> Any:
    """Request layer factory; innermost of prodserver's layers (inside the request id)."""
    return _AsgiAccess(app) if interface == "asgi" else _WsgiAccess(app)


def log_access(
    method: str, path: str, status: int, started: float, sent: int, client: str, agent: str, rid: str
) -> None:
    """Emit the access record (also used by servers whose own access hook has these facts)."""
    duration = round((time.perf_counter() - started) * 1000.0, 3)
    logger.info(
        "%s %s %s %.1fms",
        method,
        path,
        status,
        duration,
        extra={
            "http.method": method,
            "http.path": path,
            "http.status": status,
            "http.duration_ms": duration,
            "http.bytes": sent,
            "client.address": client,
            "http.user_agent": agent,
            "request_id": rid or request_id.get(),
        },
    )


class _WsgiAccess:
    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        started = time.perf_counter()
        state = {"status": 500}

        def recording(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            state["status"] = int(status.split(" ", 1)[0])
            return start_response(status, headers, exc_info)

        rid = environ.get("prodserver.request_id", "")

        def done(sent: int) -> None:
            path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
            log_access(
                environ.get("REQUEST_METHOD", "-"),
                path or "/",
                state["status"],
                started,
                sent,
                environ.get("REMOTE_ADDR", ""),
                environ.get("HTTP_USER_AGENT", ""),
                rid,
            )
            request_id.set("")  # the request is over: this thread's next lines are not its

        try:
            body = self.app(environ, recording)
        except BaseException:
            done(0)
            raise
        return CountingBody(body, done)


class CountingBody:
    """Pass the body through, count bytes, log once on ``close()`` (which WSGI guarantees).
    Keeps ``wsgi.file_wrapper`` bodies' ``fileno``/``filelike`` so sendfile paths stay."""

    def __init__(self, body: Iterable[bytes], done: Callable[[int], None]) -> None:
        self.body = body
        self.done = done
        self.sent = 0
        self.logged = False

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.body:
            self.sent += len(chunk)
            yield chunk

    def close(self) -> None:
        try:
            close = getattr(self.body, "close", None)
            if close is not None:
                close()
        finally:
            if not self.logged:
                self.logged = True
                self.done(self.sent)


class _AsgiAccess:
    def __init__(self, app: Callable[[Scope, Any, Any], Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Callable[[Message], Awaitable[None]]) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        state = {"status": 500, "sent": 0, "logged": False}

        def done() -> None:
            if state["logged"]:
                return
            state["logged"] = True
            headers = dict(scope.get("headers", ()))
            client = scope.get("client") or ("", 0)
            log_access(
                scope.get("method", "-"),
                scope.get("root_path", "") + scope.get("path", ""),
                int(state["status"]),
                started,
                int(state["sent"]),
                str(client[0]),
                headers.get(b"user-agent", b"").decode("latin-1"),
                str(scope.get("prodserver.request_id", "")),
            )

        async def recording(message: Message) -> None:
            kind = message["type"]
            if kind == "http.response.start":
                state["status"] = message["status"]
            elif kind == "http.response.body":
                state["sent"] = int(state["sent"]) + len(message.get("body", b""))
            await send(message)
            if kind == "http.response.body" and not message.get("more_body", False):
                done()

        try:
            await self.app(scope, receive, recording)
        finally:
            done()
