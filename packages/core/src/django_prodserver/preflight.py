"""Bounded start-up probes (is the broker there?) and the one way a backend reports them.

Every probe waits at most ``preflight_timeout`` seconds (a uniform worker option, 5 s), never
raises, and returns None or why not with passwords masked; ``unreachable`` builds the
:class:`ConfigError` a backend's ``preflight`` raises, so ``check``, ``--dry-run`` and a start
word it alike.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from django_prodserver.errors import ConfigError
from django_prodserver.masking import mask

#: Seconds a probe waits when ``preflight_timeout`` is not set.
DEFAULT_TIMEOUT = 5.0
#: The option that bounds (and, at 0, skips) a backend's start-up probe.
OPTION = "preflight_timeout"
#: Ports assumed when a URL names none.
DEFAULT_PORTS: Mapping[str, int] = {
    "redis": 6379,
    "rediss": 6380,
    "amqp": 5672,
    "amqps": 5671,
    "postgres": 5432,
    "postgresql": 5432,
    "http": 80,
    "https": 443,
}


def timeout_of(options: Any) -> float:
    """The plan's ``preflight_timeout`` (a backend that does not declare it gets the default)."""
    value = options.get(OPTION) if options is not None else None
    return DEFAULT_TIMEOUT if value is None else float(value)


def reason(error: BaseException) -> str:
    """``Type: text`` of an error, passwords masked, for one line of a start error."""
    text = str(error).strip()
    return mask(f"{type(error).__name__}: {text}" if text else type(error).__name__).rstrip(".")


def bounded(call: Callable[[], object], timeout: float, *, name: str = "prodserver-preflight") -> str | None:
    """Run ``call`` in a daemon thread for at most ``timeout`` seconds: None when it returned,
    else why not (its error, or "no answer within Ns"): a client that ignores its own timeouts
    (an unroutable host, a silent broker) cannot hang the start."""
    outcome: list[BaseException | None] = []

    def target() -> None:
        try:
            call()
            outcome.append(None)
        except BaseException as e:  # reported to the user, never swallowed
            outcome.append(e)

    thread = threading.Thread(target=target, name=name, daemon=True)
    thread.start()
    thread.join(timeout)
    if not outcome:
        return f"no answer within {timeout:g}s"
    error = outcome[0]
    return None if error is None else reason(error)


def probe_tcp(host: str, port: int, timeout: float = DEFAULT_TIMEOUT) -> str | None:
    """None when a TCP connection to ``host:port`` opens within ``timeout``, else why not."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except OSError as e:
        return reason(e)


def url_address(url: str) -> tuple[str, int] | None:
    """``(host, port)`` a URL points at (its scheme's default port), None when it has neither."""
    parts = urlsplit(url)
    port = parts.port or DEFAULT_PORTS.get(parts.scheme.lower())
    return None if port is None else (parts.hostname or "127.0.0.1", port)


def probe_url(url: str, timeout: float = DEFAULT_TIMEOUT) -> str | None:
    """None when the host and port of ``url`` accept a TCP connection within ``timeout``."""
    address = url_address(url)
    if address is None:
        return f"{mask(url)} names no port and its scheme has no default one"
    problem = probe_tcp(*address, timeout)
    return None if problem is None else f"{address[0]}:{address[1]} ({problem})"


def unreachable(
    where: str,
    what: str,
    target: str,
    problem: str,
    fix: str,
    *,
    timeout: float,
    check_id: str = "",
    option: str = OPTION,
) -> ConfigError:
    """The start error for a probe that failed: ``<where>: cannot reach <what> at <target>
    (waited up to Ns): <problem>. Fix: <fix>; OPTIONS['preflight_timeout'] = 0 skips this check.``"""
    return ConfigError(
        where,
        f"cannot reach {what} at {mask(target)} (waited up to {timeout:g}s): {mask(problem)}",
        f"{fix}; OPTIONS['{option}'] = 0 skips this check",
        **({"check_id": check_id} if check_id else {}),
    )


def check_reachable(
    url: str, where: str, timeout: float = DEFAULT_TIMEOUT, *, what: str = "the broker", fix: str = ""
) -> None:
    """Raise :class:`ConfigError` naming ``where`` unless ``url``'s host:port accepts a TCP
    connection within ``timeout`` (the password in ``url`` is masked in the message)."""
    problem = probe_url(url, timeout)
    if problem is not None:
        fix = fix or f"start it, or point {where} at one that runs"
        raise unreachable(where, what, url, problem, fix, timeout=timeout)


def check_resolvable(host: str, where: str, timeout: float = DEFAULT_TIMEOUT) -> None:
    """Raise :class:`ConfigError` naming ``where`` unless ``host`` is an IP address or a name this
    machine resolves within ``timeout``: the server would fail to bind at every start."""
    import ipaddress

    try:
        ipaddress.ip_address(host.strip("[]"))
        return
    except ValueError:
        pass
    problem = bounded(lambda: socket.getaddrinfo(host, None), timeout, name="prodserver-resolve")
    if problem is not None:
        raise ConfigError(
            where,
            f"the host name {host!r} does not resolve on this machine ({problem}), so the server cannot bind it",
            'write an IP address ("127.0.0.1", "0.0.0.0" for every interface), or a name in /etc/hosts or DNS',
        )
