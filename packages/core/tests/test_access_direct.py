"""The access line written directly (no log record) is, byte for byte, the line the JSON
formatter writes for the same request through logging; anything else on the logger (another
handler, a filter, a replaced formatter, a level) sends the line through logging again."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from types import SimpleNamespace

import pytest

from django_prodserver.logs import access
from django_prodserver.logs.formatter import JsonFormatter
from django_prodserver.logs.lines import LINE_LIMIT
from django_prodserver.logs.requestid import RequestIdFilter, request_id

NOW = 1_765_000_000.25
CASES = [
    ("GET", "/log/", 200, 12, "127.0.0.1", "wrk/4.2", "rid-1"),
    ("POST", '/caf\u00e9/"q"\\', 500, 0, "::1", "Mozilla/5.0 \u2603 \x01", ""),
    ("GET", "/", 204, 7, "", "", ""),
    ("GET", "/long/", 200, 3, "10.0.0.1", "a" * (LINE_LIMIT + 100), "rid-long"),
]


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Both paths see the same instant: wall clock NOW, a request of 1001.5 ms."""
    fake = SimpleNamespace(time=lambda: NOW, perf_counter=lambda: 101.0015)
    monkeypatch.setattr(access, "time", fake)
    monkeypatch.setattr(logging, "time", SimpleNamespace(time=lambda: NOW, time_ns=lambda: int(NOW * 1e9)))


@pytest.fixture
def logger() -> Iterator[logging.Logger]:
    log = logging.getLogger(access.LOGGER)
    saved = (log.handlers[:], log.propagate, log.level, log.filters[:])
    log.handlers, log.propagate = [], False
    log.setLevel(logging.INFO)
    yield log
    log.handlers, log.propagate, log.level, log.filters = saved[0], saved[1], saved[2], saved[3]


def through_logging(log: logging.Logger, case: tuple[object, ...]) -> str:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter(process="web"))
    handler.addFilter(RequestIdFilter())
    log.handlers = [handler]
    access.log_access(*case[:3], 100.0, *case[3:])  # type: ignore[arg-type]
    return out.getvalue()


def direct(log: logging.Logger, case: tuple[object, ...]) -> str:
    out = io.StringIO()
    log.handlers = [access.access_handler(out, JsonFormatter(process="web"))]
    assert access._direct() is log.handlers[0]
    access.log_access(*case[:3], 100.0, *case[3:])  # type: ignore[arg-type]
    return out.getvalue()


@pytest.mark.parametrize("case", CASES, ids=["plain", "escapes", "empty", "too-long"])
def test_direct_line_is_the_formatters_line(clock: None, logger: logging.Logger, case: tuple[object, ...]) -> None:
    expected = through_logging(logger, case)
    got = direct(logger, case)
    assert got == expected
    assert got.endswith("\n") and got.count("\n") == 1
    record = json.loads(got)
    assert record["timestamp"] == "2025-12-06T05:46:40.250Z" and record["http.duration_ms"] == 1001.5
    assert len(got.encode()) <= LINE_LIMIT


def test_request_id_from_the_context_when_the_layer_has_none(clock: None, logger: logging.Logger) -> None:
    token = request_id.set("from-context")
    try:
        case = ("GET", "/", 200, 1, "127.0.0.1", "ua", "")
        assert json.loads(direct(logger, case))["request_id"] == "from-context"
        assert direct(logger, case) == through_logging(logger, case)
    finally:
        request_id.reset(token)


def test_json_mode_configured_twice_still_writes_directly(logger: logging.Logger) -> None:
    """configure() runs again after a server's own logging setup (gunicorn's logger class,
    Django's ready()) and gives every stdout handler a new JSON formatter."""
    import sys

    from django_prodserver.logs import setup

    handler = access.access_handler(sys.stdout, JsonFormatter(process="web"))
    logger.handlers = [handler]
    first = handler.formatter
    setup.jsonify([logger], JsonFormatter(process="web"))
    assert handler.formatter is not first  # what made every JSON access line take the slow path
    assert access._direct() is handler


def test_anything_else_on_the_logger_goes_through_logging(logger: logging.Logger) -> None:
    out = io.StringIO()
    handler = access.access_handler(out, JsonFormatter(process="web"))
    logger.handlers = [handler]
    assert access._direct() is handler
    logger.handlers = [handler, logging.StreamHandler(io.StringIO())]
    assert access._direct() is None
    logger.handlers = [handler]
    logger.propagate = True
    assert access._direct() is None
    logger.propagate = False
    handler.setFormatter(JsonFormatter(process="other"))  # JSON mode set up again: still direct
    assert access._direct() is handler
    handler.setFormatter(logging.Formatter("%(message)s"))  # a project's own format
    assert access._direct() is None
    handler.setFormatter(JsonFormatter(process="web"))
    handler.addFilter(logging.Filter("x"))
    assert access._direct() is None
    handler.filters = handler.filters[:1]
    logger.setLevel(logging.WARNING)
    assert access._direct() is None
    logger.setLevel(logging.INFO)
    assert access._direct() is handler


def test_lines_stay_whole_among_threads(logger: logging.Logger) -> None:
    """Without the handler's lock, one write per line keeps every line whole on a real pipe."""
    import os
    import threading

    read_fd, write_fd = os.pipe()
    stream = os.fdopen(write_fd, "w", buffering=1)
    logger.handlers = [access.access_handler(stream, JsonFormatter(process="web"))]
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(os.fdopen(read_fd)))
    reader.start()

    def serve(i: int) -> None:
        for k in range(1000):
            access.log_access("GET", f"/t{i}/{k}/" + "p" * 200, 200, 0.0, 12, "127.0.0.1", "ua", f"rid-{i}-{k}")

    threads = [threading.Thread(target=serve, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    stream.close()
    reader.join(60)
    assert len(lines) == 8000
    assert len({json.loads(line)["request_id"] for line in lines}) == 8000
