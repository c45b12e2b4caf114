"""The request deadline prodserver provides to servers that have none: 504 after ``timeout``.

uvicorn, hypercorn, granian, daphne and waitress cannot cut a request that runs too long
(gunicorn's ``--timeout`` is a worker heartbeat, and only its sync worker kills a slow request).
This layer gives ``timeout`` one meaning everywhere: when no response has *started* within
``timeout`` seconds the client gets ``504 Gateway Timeout`` and the request is abandoned.

- ASGI: the app's task is cancelled (``CancelledError`` inside an async view). A sync view that
  Django runs in a thread cannot be interrupted: its thread finishes in the background and what
  it sends is dropped.
- WSGI: the app runs in a thread of its own while the server's thread waits; at the deadline
  the server's thread answers 504 and is free again, the view's thread finishes in the
  background (Python cannot stop a thread) and its response is closed and dropped.

A response that has started (headers sent, e.g. a stream) is never cut: the deadline is on the
time to first byte, like a proxy's ``proxy_read_timeout`` or daphne's ``--http-timeout``.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import os
import sys
import threading
from collections.abc import Callable, Iterable
from typing import Any

#: Seconds before a request without a started response gets 504 (set by the plan).
TIMEOUT_ENV = "PRODSERVER_REQUEST_TIMEOUT"
LAYER = "django_prodserver.served.deadline:deadline_layer"

logger = logging.getLogger("django_prodserver.deadline")  # the name users configure: unchanged by the move
_BODY = b"Gateway Timeout: the application did not answer in time.\n"
_HEADERS = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(_BODY)).encode())]


def deadline_layer(app: Any, interface: str) -> Any:
    """Layer factory (see :mod:`django_prodserver.served.layers`): wrap ``app`` in the deadline."""
    seconds = float(os.environ.get(TIMEOUT_ENV) or 0)
    if seconds <= 0:
        return app
    return AsgiDeadline(app, seconds) if interface == "asgi" else WsgiDeadline(app, seconds)


class AsgiDeadline:
    """ASGI: cancel the app's task and answer 504 when no response started in time."""

    def __init__(self, app: Any, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return
        started = False
        abandoned = False

        async def guarded_send(message: dict[str, Any]) -> None:
            nonlocal started
            if abandoned:
                return
            if message.get("type") == "http.response.start":
                started = True
            await send(message)

        task = asyncio.ensure_future(self.app(scope, receive, guarded_send))
        try:
            done, _ = await asyncio.wait({task}, timeout=self.seconds)
        except asyncio.CancelledError:
            task.cancel()
            raise
        if task in done or started:
            await task
            return
        abandoned = True
        task.cancel()
        logger.warning("%s %s: no response after %gs: 504, request cancelled", *_what(scope), self.seconds)
        await send({"type": "http.response.start", "status": 504, "headers": _HEADERS})
        await send({"type": "http.response.body", "body": _BODY})
        await asyncio.wait({task}, timeout=1.0)  # let the cancellation run its finally blocks
        if task.done() and not task.cancelled() and task.exception() is not None:
            logger.debug("abandoned request raised", exc_info=task.exception())


def _what(scope: dict[str, Any]) -> tuple[str, str]:
    return str(scope.get("method", "")), str(scope.get("path", ""))


class WsgiDeadline:
    """WSGI: run the app in its own thread; answer 504 from the server's thread at the deadline."""

    def __init__(self, app: Callable[..., Iterable[bytes]], seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        call = _Call(self.app, environ)
        # The view's thread sees the request's context (request id, anything a layer set).
        context = contextvars.copy_context()
        thread = threading.Thread(target=context.run, args=(call.run,), name="prodserver-request", daemon=True)
        thread.start()
        if not call.done.wait(self.seconds) and call.abandon():
            logger.warning(
                "%s %s: no response after %gs: 504 (the view's thread finishes in the background)",
                environ.get("REQUEST_METHOD", ""),
                environ.get("PATH_INFO", ""),
                self.seconds,
            )
            start_response("504 Gateway Timeout", [(k.decode(), v.decode()) for k, v in _HEADERS])
            return [_BODY]
        if call.error is not None:
            raise call.error
        status, headers, exc_info = call.start
        write = start_response(status, headers, exc_info) if exc_info else start_response(status, headers)
        for chunk in call.written:
            write(chunk)
        return call.result


class _Call:
    """One request run in its own thread; ``abandon`` and completion race under one lock."""

    def __init__(self, app: Callable[..., Iterable[bytes]], environ: dict[str, Any]) -> None:
        self.app = app
        self.environ = environ
        self.done = threading.Event()
        self.lock = threading.Lock()
        self.abandoned = False
        self.start: tuple[str, list[tuple[str, str]], Any] = ("500 Internal Server Error", [], None)
        self.written: list[bytes] = []
        self.result: Iterable[bytes] = []
        self.error: BaseException | None = None

    def start_response(self, status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        self.start = (status, headers, exc_info)
        return self.written.append

    def run(self) -> None:
        try:
            result = self.app(self.environ, self.start_response)
            if not getattr(result, "streaming", False):
                # Consume here so that Django's request_finished (closing this thread's DB
                # connections) runs in the thread that opened them.
                body = list(result)
                _close(result)
                result = body
            self.result = result
        except BaseException as e:  # handed to the server's thread, which re-raises it
            self.error = e
        finally:
            _close_thread_connections()
            with self.lock:
                self.done.set()
                abandoned = self.abandoned
            if abandoned:
                _close(self.result)

    def abandon(self) -> bool:
        """Mark abandoned unless it finished meanwhile; True when the 504 must be sent."""
        with self.lock:
            if self.done.is_set():
                return False
            self.abandoned = True
            return True


def _close(result: Any) -> None:
    close = getattr(result, "close", None)
    if close is not None:
        try:
            close()
        except Exception:
            logger.exception("closing an abandoned response failed")


def _close_thread_connections() -> None:
    """Close the database connections this thread opened (a request thread does not live on)."""
    db = sys.modules.get("django.db")
    if db is not None:
        db.connections.close_all()
