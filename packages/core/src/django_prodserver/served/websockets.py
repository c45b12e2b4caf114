"""``websockets: False``: every websocket handshake refused with 403, the same on every ASGI server.

Of the ASGI servers only uvicorn and granian can switch websockets off, and then they hand the
upgrade to the app as a plain HTTP request (uvicorn also logs that a websocket library is
missing, which is not the cause). hypercorn and daphne cannot switch them off at all. This
layer gives ``websockets: False`` one meaning: the app never sees a websocket scope, the client
gets ``403 Forbidden`` to its handshake, and the log names the option that did it.
"""

from __future__ import annotations

import logging
from typing import Any

LAYER = "django_prodserver.served.websockets:refuse_layer"

logger = logging.getLogger("django_prodserver.websockets")

#: The packages uvicorn (and gunicorn's uvicorn worker) serve websockets with, in its order.
UVICORN_LIBRARIES = ("websockets", "wsproto")


def serving(opts: Any) -> bool:
    """True when this process serves websockets: ASGI, and ``websockets`` not set to False."""
    return bool(opts.get("interface") == "asgi" and opts.get("websockets") is not False)


def refusing(opts: Any) -> bool:
    """True when prodserver refuses websocket handshakes: ASGI with ``websockets: False``."""
    return bool(opts.get("interface") == "asgi" and opts.get("websockets") is False)


def uvicorn_library() -> str | None:
    """The websocket package uvicorn's ``--ws auto`` would use, or None when none imports."""
    for name in UVICORN_LIBRARIES:
        try:
            __import__(name)
        except ImportError:
            continue
        return name
    return None


def refuse_layer(app: Any, interface: str) -> Any:
    """Layer factory (see :mod:`django_prodserver.served.layers`): refuse websocket scopes."""
    if interface != "asgi":
        return app
    told = False

    async def refuse_websockets(scope: dict[str, Any], receive: Any, send: Any) -> None:
        nonlocal told
        if scope.get("type") != "websocket":
            await app(scope, receive, send)
            return
        await receive()  # websocket.connect
        # A close before the accept: every ASGI server answers the handshake with 403.
        await send({"type": "websocket.close", "code": 1008})
        if not told:
            told = True
            logger.warning(
                "refused a websocket handshake to %s with 403: this process runs with "
                "'websockets': False (remove it from OPTIONS to serve websockets); "
                "further refusals are not logged",
                scope.get("path", "?"),
            )

    return refuse_websockets


def require_uvicorn_library(opts: Any, where: str, server: str, install: str) -> None:
    """Refuse websockets on (set or by default) when uvicorn has no package to serve them with:
    uvicorn would answer every upgrade as plain HTTP and advise ``uvicorn[standard]``."""
    if not serving(opts) or uvicorn_library() is not None:
        return
    from django_prodserver.errors import ConfigError

    why = "'websockets' is True" if opts.explicit("websockets") else "websockets are on (the ASGI default)"
    raise ConfigError(
        where,
        f"{why}, but {server} serves them with the 'websockets' or 'wsproto' package and neither is installed",
        f"pip install {install}, or set 'websockets': False to refuse websocket handshakes",
    )
