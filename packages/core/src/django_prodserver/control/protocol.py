"""The control protocol: JSON lines over a Unix stream socket (docs/reference/control.md).

Each request is one JSON object on one line, ``{"command": "status"}``; each answer is one
object on one line, ``{"ok": true, ...}`` or ``{"ok": false, "error": "..."}``. ``logs`` with
``"follow": true`` answers once, then sends ``{"process": NAME, "line": TEXT}`` objects until
the client closes the connection or the supervisor stops."""

from __future__ import annotations

import json
from typing import Any

#: The protocol's version, in every status answer (a client may check it).
VERSION = 1
#: What the supervisor answers.
COMMANDS = ("status", "restart", "stop", "start", "logs", "reload")
#: Longest request line we read; a longer one is refused and the connection closed.
MAX_REQUEST = 64 * 1024


class ProtocolError(ValueError):
    """A request that is not one JSON object with a known ``command``."""


def encode(message: dict[str, Any]) -> bytes:
    """One message as one line (JSON escapes newlines inside strings)."""
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


def decode(line: bytes) -> dict[str, Any]:
    """One line as a message; ProtocolError when it is not a JSON object."""
    try:
        message = json.loads(line)
    except ValueError as e:
        raise ProtocolError(f"not JSON: {e}") from None
    if not isinstance(message, dict):
        raise ProtocolError(f"expected a JSON object, found {type(message).__name__}")
    return message


def error(text: str, **extra: Any) -> dict[str, Any]:
    return {"ok": False, "error": text, **extra}
