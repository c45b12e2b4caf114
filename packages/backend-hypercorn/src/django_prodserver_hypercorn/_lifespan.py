"""Lifespan off for hypercorn, as prodserver runs uvicorn (``--lifespan off``) and gunicorn's worker.

hypercorn has no switch for it: each worker sends the app a ``lifespan`` scope, Django's ASGI
handler raises on it, and every worker logs "ASGI Framework Lifespan error, continuing without
Lifespan support". This outermost request layer returns from the lifespan scope at once, which
hypercorn takes as an app without lifespan (what its own WSGI wrapper does), without a warning.
"""

from __future__ import annotations

from typing import Any

LAYER = "django_prodserver_hypercorn._lifespan:lifespan_off_layer"


def lifespan_off_layer(app: Any, interface: str) -> Any:
    """Layer factory (see :mod:`django_prodserver.served.layers`): the app never sees ``lifespan``."""
    if interface != "asgi":
        return app

    async def without_lifespan(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope.get("type") == "lifespan":
            return
        await app(scope, receive, send)

    return without_lifespan
