"""The access line prodserver writes in JSON mode, the same fields whatever the server.

A request layer (``django_prodserver.logs.access:access_layer``) for WSGI and ASGI: one
``prodserver.access`` record per response, when its body is finished, with ``http.*``."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, MutableMapping
from json.encoder import encode_basestring
from typing import IO, Any

from django_prodserver.logs.lines import LINE_LIMIT, fit, timestamp
from django_prodserver.logs.requestid import RequestIdFilter, request_id

LOGGER = "prodserver.access"
logger = logging.getLogger(LOGGER)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]


def access_layer(app: Any, interface: str) -> Any:
    """Request layer factory; innermost of prodserver's layers (inside the request id)."""
    return _AsgiAccess(app) if interface == "asgi" else _WsgiAccess(app)


class AccessHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The handler JSON mode gives ``prodserver.access`` when the project's LOGGING has none.

    While it is that logger's only handler (and nothing else filters the logger), an access line
    skips the logging machinery (record, caller lookup, extras merge, formatter): it is written
    from one pre-built template in one ``write``, the same bytes the formatter would give."""

    def __init__(self, stream: IO[str], fmt: logging.Formatter) -> None:
        super().__init__(stream)
        self.setFormatter(fmt)
        self.addFilter(RequestIdFilter())
        # The direct write stands in for this formatter class only (JSON mode's configure() may
        # set a fresh instance of it on every stdout handler again: that one is as good).
        self.built_with: type[logging.Formatter] = type(fmt)


def access_handler(stream: IO[str], fmt: logging.Formatter) -> AccessHandler:
    return AccessHandler(stream, fmt)


def _direct() -> AccessHandler | None:
    """The access handler when the direct write gives what logging would, else None."""
    handlers = logger.handlers
    if len(handlers) != 1 or logger.filters or logger.propagate or logger.disabled:
        return None
    handler = handlers[0]
    if type(handler) is not AccessHandler or len(handler.filters) != 1 or handler.level > logging.INFO:
        return None
    if not logger.isEnabledFor(logging.INFO) or type(handler.formatter) is not handler.built_with:
        return None
    if not isinstance(getattr(handler.formatter, "process_name", None), str):
        return None
    return handler


def access_line(
    process: str,
    method: str,
    path: str,
    status: int,
    duration: float,
    sent: int,
    client: str,
    agent: str,
    rid: str,
    created: float,
) -> str:
    """The JSON access line (no newline), field for field what :class:`JsonFormatter` writes
    for the record :func:`log_access` would emit: strings escaped by the C JSON encoder."""
    enc = encode_basestring
    message = f"{method} {path} {status} {duration:.1f}ms"
    line = (
        f'{{"timestamp": "{timestamp(created)}", "level": "info", "logger": "{LOGGER}", '
        f'"message": {enc(message)}, "process": {enc(process)}, "pid": {os.getpid()}, '
        + (f'"request_id": {enc(rid)}, ' if rid else "")
        + f'"http.method": {enc(method)}, "http.path": {enc(path)}, "http.status": {status}, '
        f'"http.duration_ms": {duration!r}, "http.bytes": {sent}, "client.address": {enc(client)}, '
        f'"http.user_agent": {enc(agent)}}}'
    )
    if len(line) < LINE_LIMIT and (line.isascii() or len(line.encode("utf-8", "surrogatepass")) < LINE_LIMIT):
        return line
    record: dict[str, Any] = {
        "timestamp": timestamp(created),
        "level": "info",
        "logger": LOGGER,
        "message": message,
        "process": process,
        "pid": os.getpid(),
    }
    if rid:
        record["request_id"] = rid
    record.update(
        {
            "http.method": method,
            "http.path": path,
            "http.status": status,
            "http.duration_ms": duration,
            "http.bytes": sent,
            "client.address": client,
            "http.user_agent": agent,
        }
    )
    return fit(record)


def log_access(
    method: str, path: str, status: int, started: float, sent: int, client: str, agent: str, rid: str
) -> None:
    """Emit the access record (also used by servers whose own access hook has these facts)."""
    duration = round((time.perf_counter() - started) * 1000.0, 3)
    rid = rid or request_id.get()
    handler = _direct()
    if handler is not None:
        line = access_line(
            handler.formatter.process_name,  # type: ignore[union-attr]
            method,
            path,
            status,
            duration,
            sent,
            client,
            agent,
            rid,
            time.time(),
        )
        # One write of the whole line, newline included, keeps it whole among threads without
        # the handler's lock, which a server's threads otherwise queue on.
        stream = handler.stream
        stream.write(line + "\n")
        stream.flush()
        return
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
            "request_id": rid,
        },
    )


class _Recording:
    """One WSGI request's facts, for the ``start_response`` it wraps and the log at ``close()``."""

    __slots__ = ("environ", "start_response", "started", "status")

    def __init__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> None:
        self.environ = environ
        self.start_response = start_response
        self.started = time.perf_counter()
        self.status = 500

    def __call__(self, status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        self.status = int(status[:3])
        return self.start_response(status, headers, exc_info)

    def done(self, sent: int) -> None:
        environ = self.environ
        path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
        log_access(
            environ.get("REQUEST_METHOD", "-"),
            path or "/",
            self.status,
            self.started,
            sent,
            environ.get("REMOTE_ADDR", ""),
            environ.get("HTTP_USER_AGENT", ""),
            environ.get("prodserver.request_id", ""),
        )
        request_id.set("")  # the request is over: this thread's next lines are not its


class _WsgiAccess:
    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        recording = _Recording(environ, start_response)
        try:
            body = self.app(environ, recording)
        except BaseException:
            recording.done(0)
            raise
        return CountingBody(body, recording.done)


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


class _AsgiRecording:
    """One ASGI request's facts: status and bytes from the messages it passes on, logged once."""

    __slots__ = ("logged", "scope", "send", "sent", "started", "status")

    def __init__(self, scope: Scope, send: Callable[[Message], Awaitable[None]]) -> None:
        self.scope = scope
        self.send = send
        self.started = time.perf_counter()
        self.status = 500
        self.sent = 0
        self.logged = False

    async def __call__(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.body":
            self.sent += len(message.get("body", b""))
            await self.send(message)
            if not message.get("more_body", False):
                self.done()
            return
        if kind == "http.response.start":
            self.status = int(message["status"])
        await self.send(message)

    def done(self) -> None:
        if self.logged:
            return
        self.logged = True
        scope = self.scope
        agent = b""
        for name, value in scope.get("headers", ()):
            if name == b"user-agent":
                agent = value  # the last one, as dict(headers) gave
        client = scope.get("client") or ("", 0)
        log_access(
            scope.get("method", "-"),
            scope.get("root_path", "") + scope.get("path", ""),
            self.status,
            self.started,
            self.sent,
            str(client[0]),
            agent.decode("latin-1"),
            str(scope.get("prodserver.request_id", "")),
        )


class _AsgiAccess:
    def __init__(self, app: Callable[[Scope, Any, Any], Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Callable[[Message], Awaitable[None]]) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        recording = _AsgiRecording(scope, send)
        try:
            await self.app(scope, receive, recording)
        finally:
            recording.done()
