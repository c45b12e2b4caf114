"""Request metrics of a web process: a WSGI/ASGI layer prodserver puts around the app.

Installed through ``Backend.request_layers`` when the ops endpoint and metrics are on; counts
requests by status class and observes their duration into prometheus-client's multiprocess
files (``PROMETHEUS_MULTIPROC_DIR``, one directory per process, set by the supervisor). Without
that directory or without prometheus-client the app is returned untouched."""

from __future__ import annotations

import bisect
import contextlib
import os
import time
from collections.abc import Callable, Iterable
from typing import Any

from django_prodserver.ops.buffered import BufferedMetrics
from django_prodserver.ops.watch import PROBE_HEADER

LAYER = "django_prodserver.ops.middleware:metrics_layer"
_WSGI_PROBE = "HTTP_" + PROBE_HEADER.upper().replace("-", "_")
_ASGI_PROBE = PROBE_HEADER.lower().encode()
_CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx")


class Recorder(BufferedMetrics):
    """Counts requests by status class and their durations in plain numbers, per process."""

    def __init__(self) -> None:
        from prometheus_client import Counter, Histogram, values

        # The value store is picked when prometheus-client is first imported; if the project
        # imported it before PROMETHEUS_MULTIPROC_DIR applied (a forked child), pick again.
        values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]
        self.requests = Counter(
            "prodserver_http_requests",
            "HTTP requests answered by this web process, by status class.",
            ["status_class"],
            registry=None,
        )
        self.duration = Histogram(
            "prodserver_http_request_duration_seconds",
            "Time from the request reaching the app to its response (seconds).",
            registry=None,
        )
        self.bounds: list[float] = list(self.duration._upper_bounds)
        super().__init__()

    def _reset(self) -> None:
        self.counts = dict.fromkeys(_CLASSES, 0)
        self.buckets = [0] * len(self.bounds)
        self.total = 0.0

    def record(self, status_class: str, seconds: float) -> None:
        with self.lock:
            self._ensure_writer()
            if status_class in self.counts:
                self.counts[status_class] += 1
            self.buckets[min(bisect.bisect_left(self.bounds, seconds), len(self.bounds) - 1)] += 1
            self.total += seconds

    def _take(self) -> tuple[dict[str, int], list[int], float]:
        return self.counts, self.buckets, self.total

    def _write(self, taken: Any) -> None:
        counts, buckets, total = taken
        for cls, n in counts.items():
            if n:
                self.requests.labels(cls).inc(n)
        for i, n in enumerate(buckets):
            if n:
                self.duration._buckets[i].inc(n)
        if any(buckets):
            self.duration._sum.inc(total)


_recorder: Recorder | None = None


def _instruments() -> Recorder:
    global _recorder
    if _recorder is None:
        _recorder = Recorder()
    return _recorder


def preload() -> None:
    """Import prometheus-client before a server forks its workers (see ``served.layers.preload``);
    the value store is still picked per process, in ``Recorder``."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        with contextlib.suppress(ImportError):
            import prometheus_client.metrics  # noqa: F401


def metrics_layer(app: Any, interface: str) -> Any:
    """``factory(app, interface)`` for :mod:`django_prodserver.served.layers`."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return app
    try:
        recorder = _instruments()
    except ImportError:
        return app
    if interface == "asgi":
        return _asgi(app, recorder.record)
    return _wsgi(app, recorder.record)


def _wsgi(app: Any, record: Callable[[str, float], None]) -> Callable[..., Iterable[bytes]]:
    clock = time.perf_counter

    def metered(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if _WSGI_PROBE in environ:
            return app(environ, start_response)  # type: ignore[no-any-return]
        began = clock()
        status = ["5xx"]

        def start(code: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            status[0] = code[:1] + "xx"
            return start_response(code, headers, exc_info)

        try:
            return app(environ, start)  # type: ignore[no-any-return]
        finally:
            record(status[0], clock() - began)

    return metered


def _asgi(app: Any, record: Callable[[str, float], None]) -> Callable[..., Any]:
    clock = time.perf_counter

    async def metered(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope.get("type") != "http" or any(k == _ASGI_PROBE for k, _ in scope.get("headers") or ()):
            await app(scope, receive, send)
            return
        began = clock()
        status = ["5xx"]

        async def sending(message: dict[str, Any]) -> None:
            if message.get("type") == "http.response.start":
                status[0] = f"{int(message.get('status', 500)) // 100}xx"
            await send(message)

        try:
            await app(scope, receive, sending)
        finally:
            record(status[0], clock() - began)

    return metered
