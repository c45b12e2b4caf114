"""ASGI entry point of the contract project: Django plus a websocket echo at /ws/echo/."""

from __future__ import annotations

import os
from typing import Any

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "django_prodserver.testing.project.settings")
django_application = get_asgi_application()


async def websocket_echo(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Accept, echo every text/bytes frame back, close when the client does."""
    while True:
        event = await receive()
        if event["type"] == "websocket.connect":
            await send({"type": "websocket.accept"})
        elif event["type"] == "websocket.receive":
            if event.get("text") is not None:
                await send({"type": "websocket.send", "text": event["text"]})
            else:
                await send({"type": "websocket.send", "bytes": event.get("bytes") or b""})
        elif event["type"] == "websocket.disconnect":
            return


async def application(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "websocket" and scope.get("path") == "/ws/echo/":
        await websocket_echo(scope, receive, send)
        return
    await django_application(scope, receive, send)
