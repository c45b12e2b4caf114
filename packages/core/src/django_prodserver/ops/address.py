"""``host:port``: how servers, URLs and logs write an address (IPv6 bracketed once), and a
broker's from its URL or connection dict, for ``ReadyProbe.broker``.

Only the address is kept (never the password). Embedded brokers (memory, filesystem, SQLite,
a unix socket) have no TCP address: None, and readiness then rests on the ready log line."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit


def host_port(host: str, port: int | str) -> str:
    """``127.0.0.1:8000``, ``[::1]:8000`` (also from ``"[::1]"``, bracketed once), ``web-1:8000``."""
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    return f"[{bare}]:{port}" if ":" in bare else f"{bare}:{port}"


DEFAULT_PORTS = {
    "redis": 6379,
    "rediss": 6379,
    "valkey": 6379,
    "amqp": 5672,
    "pyamqp": 5672,
    "amqps": 5671,
    "postgres": 5432,
    "postgresql": 5432,
    "mysql": 3306,
}


def from_url(url: Any) -> str | None:
    """``redis://:pw@10.0.0.5:6380/0`` -> ``10.0.0.5:6380``; None when it is not a TCP broker."""
    if not isinstance(url, str) or "://" not in url:
        return None
    first = url.split(";")[0].strip()  # celery's failover list: the first broker
    try:
        parts = urlsplit(first)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.split("+")[-1].lower()
    if scheme not in DEFAULT_PORTS:
        return None
    host = parts.hostname or "localhost"
    return host_port(host, port or DEFAULT_PORTS[scheme])


def from_params(params: Mapping[str, Any], scheme: str = "redis") -> str | None:
    """A ``{"URL": ...}`` or ``{"HOST": ..., "PORT": ...}`` dict (RQ_QUEUES, DATABASES, Q_CLUSTER)."""
    lowered = {str(k).lower(): v for k, v in params.items()}
    if lowered.get("url"):
        return from_url(lowered["url"])
    if lowered.get("unix_socket_path") or lowered.get("path"):
        return None
    host = lowered.get("host")
    if not host:
        return None if scheme not in ("redis",) else host_port("localhost", DEFAULT_PORTS[scheme])
    if str(host).startswith("/"):
        return None  # a unix socket directory (PostgreSQL)
    port = lowered.get("port") or DEFAULT_PORTS.get(scheme)
    try:
        return host_port(str(host), int(port)) if port else None
    except (TypeError, ValueError):
        return None
