"""A WSGI access log for waitress, which has none: one combined-format line per response.

While ``waitress.access`` has only the handler :func:`access_logger` gave it, a line is written
straight to that handler's stream in one ``write`` (the same text as through logging, without a
log record per request); a project's LOGGING for that logger gets the line through logging."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Iterable
from typing import IO, Any

from waitress.buffers import ReadOnlyFileBasedBuffer

from django_prodserver.api import CountingBody

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]

LOGGER_NAME = "waitress.access"
FORMAT = '%s - - [%s] "%s" %s %s "%s" "%s" %.3f'


class StdoutHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The handler :func:`access_logger` installs: the message alone, on stdout."""

    def __init__(self, stream: IO[str]) -> None:
        super().__init__(stream)
        self.setFormatter(logging.Formatter("%(message)s"))


def access_logger() -> logging.Logger:
    """``waitress.access`` on stdout, unless the project's LOGGING already configured it."""
    logger = logging.getLogger(LOGGER_NAME)
    if not logger.handlers:
        logger.addHandler(StdoutHandler(sys.stdout))
        logger.propagate = False
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)
    return logger


_second: tuple[int, str] = (-1, "")  # a whole second and its "%d/%b/%Y:%H:%M:%S %z" text


def clock(now: float) -> str:
    """Local time as the line shows it, formatted once per second (``time.strftime`` is slow)."""
    global _second
    whole = int(now)
    cached = _second
    if cached[0] != whole:
        cached = _second = (whole, time.strftime("%d/%b/%Y:%H:%M:%S %z", time.localtime(whole)))
    return cached[1]


class _Request:
    """One request's status and Content-Length, recorded by the ``start_response`` it wraps."""

    __slots__ = ("length", "start_response", "started", "status")

    def __init__(self, start_response: StartResponse) -> None:
        self.start_response = start_response
        self.started = time.monotonic()
        self.status = "-"
        self.length: str | None = None

    def __call__(self, status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        self.status = status.split(" ", 1)[0]
        for name, value in headers:
            if len(name) == 14 and name.lower() == "content-length":
                self.length = value
        return self.start_response(status, headers, exc_info)


class AccessLogMiddleware:
    """Log ``host - - [time] "request" status bytes "referer" "agent" seconds`` when the
    response body is finished (its ``close()``), so the line reflects what was sent."""

    def __init__(self, app: WSGIApp, logger: logging.Logger) -> None:
        self.app = app
        self.logger = logger

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        request = _Request(start_response)
        body = self.app(environ, request)
        if isinstance(body, ReadOnlyFileBasedBuffer):
            # waitress sends file wrappers with sendfile-like buffering: keep that fast path.
            self.log(environ, request, request.length)
            return body  # type: ignore[no-any-return]
        return CountingBody(body, lambda sent: self.log(environ, request, sent))

    def log(self, environ: Environ, request: _Request, sent: Any) -> None:
        args = (
            environ.get("REMOTE_ADDR", "-"),
            clock(time.time()),
            f"{environ.get('REQUEST_METHOD', '-')} {_uri(environ)} {environ.get('SERVER_PROTOCOL', '-')}",
            request.status,
            sent if sent is not None else "-",
            environ.get("HTTP_REFERER", "-"),
            environ.get("HTTP_USER_AGENT", "-"),
            time.monotonic() - request.started,
        )
        handler = self.direct()
        if handler is None:
            self.logger.info(FORMAT, *args)
            return
        # One write of the whole line, newline included, keeps it whole among threads without
        # the handler's lock (py-spy: waitress' 8 threads queued on that lock for most of the
        # line's time; the buffered stream has its own).
        stream = handler.stream
        stream.write(FORMAT % args + "\n")
        stream.flush()

    def direct(self) -> StdoutHandler | None:
        """Our own stdout handler while it alone would get the record, unfiltered."""
        logger = self.logger
        handlers = logger.handlers
        if len(handlers) != 1 or logger.filters or logger.propagate or logger.disabled:
            return None
        handler = handlers[0]
        if type(handler) is not StdoutHandler or handler.filters or handler.level > logging.INFO:
            return None
        return handler if logger.isEnabledFor(logging.INFO) else None


def _uri(environ: Environ) -> str:
    path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
    query = environ.get("QUERY_STRING")
    return f"{path}?{query}" if query else path or "/"
