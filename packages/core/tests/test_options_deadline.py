"""The request deadline layer on its own: 504 in time, the request abandoned, fast ones untouched."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

from django_prodserver.served.deadline import AsgiDeadline, WsgiDeadline, deadline_layer


class Body(list[bytes]):
    closed = False

    def close(self) -> None:
        self.closed = True


def run_wsgi(app: Any) -> tuple[str, bytes]:
    seen: list[str] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        seen.append(status)
        return lambda chunk: None

    body = b"".join(app({"REQUEST_METHOD": "GET", "PATH_INFO": "/x"}, start_response))
    return seen[0], body


def test_wsgi_answers_504_and_closes_the_abandoned_response() -> None:
    finished = threading.Event()
    body = Body([b"late"])

    def slow(environ: dict[str, Any], start_response: Any) -> Body:
        time.sleep(0.6)
        start_response("200 OK", [])
        finished.set()
        return body

    began = time.monotonic()
    status, text = run_wsgi(WsgiDeadline(slow, 0.2))
    assert status.startswith("504") and b"Gateway Timeout" in text and time.monotonic() - began < 0.5
    assert finished.wait(2) and _eventually(lambda: body.closed)  # finished in the background, closed


def test_wsgi_fast_response_passes_through_including_streams() -> None:
    def fast(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        start_response("201 Created", [("X", "1")])
        yield b"a"
        yield b"b"

    assert run_wsgi(WsgiDeadline(fast, 1.0)) == ("201 Created", b"ab")


def test_asgi_cancels_the_task_and_answers_504() -> None:
    cancelled = asyncio.Event()
    sent: list[dict[str, Any]] = []

    async def slow(scope: dict[str, Any], receive: Any, send: Any) -> None:
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    async def main() -> None:
        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await AsgiDeadline(slow, 0.1)({"type": "http", "method": "GET", "path": "/"}, None, send)

    asyncio.run(asyncio.wait_for(main(), 3))
    assert cancelled.is_set() and sent[0]["status"] == 504 and sent[1]["body"].startswith(b"Gateway")


def test_asgi_started_response_and_websockets_are_not_cut() -> None:
    sent: list[dict[str, Any]] = []

    async def streaming(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await asyncio.sleep(0.3)
        await send({"type": "http.response.body", "body": b"done"})

    async def main() -> None:
        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        app = AsgiDeadline(streaming, 0.1)
        await app({"type": "http"}, None, send)
        await app({"type": "websocket"}, None, send)

    asyncio.run(main())
    assert [m.get("status") or m.get("body") for m in sent] == [200, b"done", 200, b"done"]


def test_layer_is_a_no_op_without_a_timeout(monkeypatch: Any) -> None:
    app = object()
    monkeypatch.delenv("PRODSERVER_REQUEST_TIMEOUT", raising=False)
    assert deadline_layer(app, "wsgi") is app
    monkeypatch.setenv("PRODSERVER_REQUEST_TIMEOUT", "3")
    assert isinstance(deadline_layer(app, "asgi"), AsgiDeadline)


def _eventually(check: Any, seconds: float = 2.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return False
