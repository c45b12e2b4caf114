"""waitress' access line written straight to its stdout handler is exactly the line logging
writes; a project's own handler or filter on ``waitress.access`` gets it through logging."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from django_prodserver_waitress import _accesslog

ENVIRON = {
    "REQUEST_METHOD": "GET",
    "PATH_INFO": "/db/",
    "QUERY_STRING": "x=1",
    "SERVER_PROTOCOL": "HTTP/1.1",
    "REMOTE_ADDR": "10.1.2.3",
    "HTTP_USER_AGENT": "curl/8",
}


def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", "5")])
    return [b"no", b"pe"]


@pytest.fixture
def logger(monkeypatch: pytest.MonkeyPatch) -> Iterator[logging.Logger]:
    ticks = iter([50.0, 50.0123])
    fake = SimpleNamespace(
        monotonic=lambda: next(ticks),
        time=lambda: 1_765_000_000.9,
        localtime=lambda s: s,
        strftime=lambda fmt, t: "06/Dec/2025:05:46:40 +0000",
    )
    monkeypatch.setattr(_accesslog, "time", fake)
    monkeypatch.setattr(_accesslog, "_second", (-1, ""))
    log = logging.getLogger("prodserver-test.waitress.access")
    log.handlers, log.propagate = [], False
    log.setLevel(logging.INFO)
    yield log
    log.handlers = []


def serve(log: logging.Logger) -> None:
    body = _accesslog.AccessLogMiddleware(app, log)(dict(ENVIRON), lambda *a: None)
    assert b"".join(body) == b"nope"
    body.close()  # type: ignore[attr-defined]


LINE = '10.1.2.3 - - [06/Dec/2025:05:46:40 +0000] "GET /db/?x=1 HTTP/1.1" 404 4 "-" "curl/8" 0.012\n'


def test_direct_line(logger: logging.Logger) -> None:
    out = io.StringIO()
    logger.handlers = [_accesslog.StdoutHandler(out)]
    mw = _accesslog.AccessLogMiddleware(app, logger)
    assert mw.direct() is logger.handlers[0]
    serve(logger)
    assert out.getvalue() == LINE


def test_through_logging_the_same_line(logger: logging.Logger) -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.handlers = [handler]
    assert _accesslog.AccessLogMiddleware(app, logger).direct() is None
    serve(logger)
    assert out.getvalue() == LINE


def test_a_filter_sends_it_through_logging(logger: logging.Logger) -> None:
    out = io.StringIO()
    handler = _accesslog.StdoutHandler(out)
    logger.handlers = [handler]
    handler.addFilter(lambda record: False)
    assert _accesslog.AccessLogMiddleware(app, logger).direct() is None
    serve(logger)
    assert out.getvalue() == ""
