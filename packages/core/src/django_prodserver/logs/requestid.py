"""Request ids: taken from the request header (``X-Request-ID`` unless configured) or made,
kept in a contextvar while the request runs, added to every record and to the response.

The layer is a request layer (see :mod:`django_prodserver.served.layers`): ``request_id_layer``
wraps WSGI and ASGI apps alike; :class:`RequestIdFilter` puts the id on log records."""

from __future__ import annotations

import contextvars
import logging
import os
import uuid
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

from django_prodserver.logs import DEFAULT_REQUEST_ID_HEADER, REQUEST_ID_HEADER_ENV

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("prodserver_request_id", default="")
#: Longest incoming id accepted as is; longer or non-printable ones are replaced by a new id.
MAX_LENGTH = 200

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to each record emitted while a request runs (never drops one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            value = request_id.get()
            if value:
                record.request_id = value
        return True


def header_name(environ: MutableMapping[str, str] | None = None) -> str:
    """The configured header (``PRODSERVER_REQUEST_ID_HEADER``), default ``X-Request-ID``."""
    env = os.environ if environ is None else environ
    return env.get(REQUEST_ID_HEADER_ENV) or DEFAULT_REQUEST_ID_HEADER


def accept(value: str | None) -> str:
    """The incoming id when it is sane, else a fresh one (32 hex digits)."""
    if value and len(value) <= MAX_LENGTH and value.isprintable() and value.isascii():
        return value
    return uuid.uuid4().hex


def request_id_layer(app: Any, interface: str) -> Any:
    """Request layer factory: ``django_prodserver.logs.requestid:request_id_layer``
    (JSON logging itself is applied by ``served.layers.build`` once the app is imported)."""
    name = header_name()
    if interface == "asgi":
        return _AsgiRequestId(app, name)
    return _WsgiRequestId(app, name)


class _WsgiRequestId:
    def __init__(self, app: Callable[..., Iterable[bytes]], name: str) -> None:
        self.app = app
        self.header = name
        self.key = "HTTP_" + name.upper().replace("-", "_")

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        rid = accept(environ.get(self.key))
        request_id.set(rid)
        environ["prodserver.request_id"] = rid

        def with_id(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            lowered = self.header.lower()
            if not any(k.lower() == lowered for k, _ in headers):
                headers.append((self.header, rid))
            return start_response(status, headers, exc_info)

        return self.app(environ, with_id)


class _AsgiRequestId:
    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]], name: str) -> None:
        self.app = app
        self.header = name.encode("latin-1")
        self.lowered = self.header.lower()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        incoming = next((v for k, v in scope.get("headers", ()) if k.lower() == self.lowered), None)
        rid = accept(incoming.decode("latin-1") if incoming is not None else None)
        token = request_id.set(rid)
        scope["prodserver.request_id"] = rid

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                if not any(k.lower() == self.lowered for k, _ in headers):
                    headers.append((self.header, rid.encode("latin-1")))
                    message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id.reset(token)
