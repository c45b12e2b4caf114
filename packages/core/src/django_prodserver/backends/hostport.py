"""``HOST:PORT`` as servers, URLs and logs write it: an IPv6 address in brackets, once."""

from __future__ import annotations


def host_port(host: str, port: int | str) -> str:
    """``127.0.0.1:8000``, ``[::1]:8000`` (also from ``"[::1]"``, bracketed once), ``web-1:8000``."""
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    return f"[{bare}]:{port}" if ":" in bare else f"{bare}:{port}"
