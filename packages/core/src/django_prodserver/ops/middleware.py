"""Request metrics of a web process: a WSGI/ASGI layer prodserver puts around the app.

Installed through ``Backend.request_layers`` when the ops endpoint and metrics are on; counts
requests by status class and observes their duration into prometheus-client's multiprocess
files (``PROMETHEUS_MULTIPROC_DIR``, one directory per process, set by the supervisor). Without
that directory or without prometheus-client the app is returned untouched."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from typing import Any

from .watch import PROBE_HEADER

LAYER = "django_prodserver.ops.middleware:metrics_layer"
_WSGI_PROBE = "HTTP_" + PROBE_HEADER.upper().replace("-", "_")
_ASGI_PROBE = PROBE_HEADER.lower().encode()
_CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx")
_metrics: tuple[dict[str, Any], Any] | None = None


def _instruments() -> tuple[dict[str, Any], Any]:
    """One counter and one histogram per process (created once; not in any registry)."""
    global _metrics
    if _metrics is None:
        from prometheus_client import Counter, Histogram, values

        # The value store is picked when prometheus-client is first imported; if the project
        # imported it before PROMETHEUS_MULTIPROC_DIR applied (a forked child), pick again.
        values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]

        requests = Counter(
            "prodserver_http_requests",
            "HTTP requests answered by this web process, by status class.",
            ["status_class"],
            registry=None,
        )
        duration = Histogram(
            "prodserver_http_request_duration_seconds",
            "Time from the request reaching the app to its response (seconds).",
            registry=None,
        )
        _metrics = ({c: requests.labels(c) for c in _CLASSES}, duration)
    return _metrics


def metrics_layer(app: Any, interface: str) -> Any:
    """``factory(app, interface)`` for :mod:`django_prodserver.serving`."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return app
    try:
        counters, duration = _instruments()
    except ImportError:
        return app
    if interface == "asgi":
        return _asgi(app, counters, duration)
    return _wsgi(app, counters, duration)


def _wsgi(app: Any, counters: dict[str, Any], duration: Any) -> Callable[..., Iterable[bytes]]:
    clock = time.perf_counter
    observe = duration.observe

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
            counter = counters.get(status[0])
            if counter is not None:
                counter.inc()
            observe(clock() - began)

    return metered


def _asgi(app: Any, counters: dict[str, Any], duration: Any) -> Callable[..., Any]:
    clock = time.perf_counter
    observe = duration.observe

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
            counter = counters.get(status[0])
            if counter is not None:
                counter.inc()
            observe(clock() - began)

    return metered
