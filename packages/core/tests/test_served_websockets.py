"""``websockets: False``: the layer refuses websocket handshakes (403) and passes HTTP on."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from django_prodserver.backends.options import WEB_OPTIONS, resolve_options
from django_prodserver.served import websockets


async def _app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await send({"type": "app saw", "scope": scope["type"]})


def _run(layer: Any, scope: dict[str, Any]) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(layer(scope, receive, send))
    return sent


def test_websocket_scopes_are_closed_before_accept_and_http_passes(caplog: pytest.LogCaptureFixture) -> None:
    layer = websockets.refuse_layer(_app, "asgi")
    with caplog.at_level(logging.WARNING, "django_prodserver.websockets"):
        assert _run(layer, {"type": "websocket", "path": "/ws/echo/"}) == [{"type": "websocket.close", "code": 1008}]
        _run(layer, {"type": "websocket", "path": "/ws/other/"})
    assert _run(layer, {"type": "http", "path": "/"}) == [{"type": "app saw", "scope": "http"}]
    # One line names the path, the cause and the fix; later refusals do not flood the log.
    assert [r.getMessage() for r in caplog.records] == [
        "refused a websocket handshake to /ws/echo/ with 403: this process runs with 'websockets': False "
        "(remove it from OPTIONS to serve websockets); further refusals are not logged"
    ]
    assert websockets.refuse_layer(_app, "wsgi") is _app


@pytest.mark.parametrize(
    ("configured", "serving", "refusing"),
    [
        ({"interface": "asgi"}, True, False),
        ({"interface": "asgi", "websockets": True}, True, False),
        ({"interface": "asgi", "websockets": False}, False, True),
        ({"interface": "wsgi"}, False, False),
        ({"interface": "wsgi", "websockets": False}, False, False),
    ],
)
def test_unset_means_on_with_asgi(configured: dict[str, Any], serving: bool, refusing: bool) -> None:
    declared = [WEB_OPTIONS["interface"], WEB_OPTIONS["websockets"]]
    opts = resolve_options(declared, WEB_OPTIONS, configured, {}, {}, where="x", backend="x")
    assert (websockets.serving(opts), websockets.refusing(opts)) == (serving, refusing)
