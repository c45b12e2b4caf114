"""A WSGI access log for waitress, which has none: one combined-format line per response."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any

from waitress.buffers import ReadOnlyFileBasedBuffer

from django_prodserver.api import CountingBody

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]

LOGGER_NAME = "waitress.access"


def access_logger() -> logging.Logger:
    """``waitress.access`` on stdout, unless the project's LOGGING already configured it."""
    logger = logging.getLogger(LOGGER_NAME)
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
        logger.propagate = False
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)
    return logger


class AccessLogMiddleware:
    """Log ``host - - [time] "request" status bytes "referer" "agent" seconds`` when the
    response body is finished (its ``close()``), so the line reflects what was sent."""

    def __init__(self, app: WSGIApp, logger: logging.Logger) -> None:
        self.app = app
        self.logger = logger

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        started = time.monotonic()
        state: dict[str, Any] = {"status": "-", "length": None}

        def logging_start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            state["status"] = status.split(" ", 1)[0]
            for name, value in headers:
                if name.lower() == "content-length":
                    state["length"] = value
            return start_response(status, headers, exc_info)

        body = self.app(environ, logging_start_response)
        if isinstance(body, ReadOnlyFileBasedBuffer):
            # waitress sends file wrappers with sendfile-like buffering: keep that fast path.
            self.log(environ, state, state["length"], started)
            return body  # type: ignore[no-any-return]
        return CountingBody(body, lambda sent: self.log(environ, state, sent, started))

    def log(self, environ: Environ, state: dict[str, Any], sent: Any, started: float) -> None:
        request = f"{environ.get('REQUEST_METHOD', '-')} {_uri(environ)} {environ.get('SERVER_PROTOCOL', '-')}"
        self.logger.info(
            '%s - - [%s] "%s" %s %s "%s" "%s" %.3f',
            environ.get("REMOTE_ADDR", "-"),
            time.strftime("%d/%b/%Y:%H:%M:%S %z"),
            request,
            state["status"],
            sent if sent is not None else "-",
            environ.get("HTTP_REFERER", "-"),
            environ.get("HTTP_USER_AGENT", "-"),
            time.monotonic() - started,
        )


def _uri(environ: Environ) -> str:
    path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
    query = environ.get("QUERY_STRING")
    return f"{path}?{query}" if query else path or "/"
