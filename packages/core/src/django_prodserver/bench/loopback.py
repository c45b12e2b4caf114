"""What ``prodserver bench`` may load: a loopback address and paths on the local server.

A benchmark is a flood of requests; pointed at another machine it is an attack. So the host
must be a loopback address and every path a path, never a URL.
"""

from __future__ import annotations

import ipaddress
import socket


class NotLoopback(ValueError):
    """A target that is not this machine's loopback interface."""


def check_host(host: str) -> str:
    """``host`` when it is a loopback address (or ``localhost``); else :class:`NotLoopback`."""
    name = host.strip().strip("[]")
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        if name.lower() != "localhost":
            raise NotLoopback(
                f"--host {host!r} is not a loopback address: bench only loads this machine "
                "(use --host 127.0.0.1 or ::1)"
            ) from None
        return socket.gethostbyname("localhost")
    if not address.is_loopback:
        raise NotLoopback(
            f"--host {host!r} is not a loopback address: bench only loads this machine (use --host 127.0.0.1)"
        )
    return str(address)


def check_path(path: str) -> str:
    """``path`` when it is a path on the local server (``/api/items/?page=2``)."""
    if not path.startswith("/") or path.startswith("//") or "://" in path.split("?", 1)[0]:
        raise NotLoopback(
            f"--path {path!r}: give a path on the local server such as /api/items/, not a URL "
            "(bench only loads the servers it starts on loopback)"
        )
    if any(c.isspace() for c in path):
        raise NotLoopback(f"--path {path!r}: percent-encode spaces (%20)")
    return path
