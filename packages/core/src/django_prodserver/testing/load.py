"""The shutdown a load balancer produces: SIGTERM while clients keep sending, then count losses."""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django_prodserver.testing.processes import Response, http_get


@dataclass
class LoadResult:
    """What every request of a load run ended as."""

    ok: int = 0
    failures: list[str] = field(default_factory=list)
    sent_after_signal: int = 0

    @property
    def total(self) -> int:
        return self.ok + len(self.failures)


def shutdown_under_load(
    port: int,
    send_signal: Callable[[], None],
    *,
    clients: int = 8,
    warmup: float = 0.5,
    keep_sending: float = 1.0,
    slow_every: int = 4,
    slow_seconds: float = 0.5,
    max_requests: int = 4000,
    max_seconds: float = 30.0,
) -> LoadResult:
    """Run ``clients`` threads sending GETs (every ``slow_every``-th one slow), signal after
    ``warmup``, keep sending for ``keep_sending`` more seconds, then wait for every answer.

    Bounded in count (``max_requests``) and time (``max_seconds``). Each request uses a new
    connection, as a load balancer's health-checked pool would after a reset.
    """
    result = LoadResult()
    lock = threading.Lock()
    started = time.monotonic()
    signalled_at: list[float] = []
    stop_sending_at = [started + max_seconds]
    counter = [0]

    def client(index: int) -> None:
        n = 0
        while True:
            now = time.monotonic()
            with lock:
                if now >= stop_sending_at[0] or counter[0] >= max_requests:
                    return
                counter[0] += 1
                after = bool(signalled_at)
            n += 1
            path = f"/slow/?seconds={slow_seconds}" if slow_every and n % slow_every == 0 else "/"
            try:
                resp = http_get(port, path, timeout=max_seconds)
                outcome = None if resp.status == 200 else f"{path}: HTTP {resp.status}"
            except (OSError, http.client.HTTPException) as e:
                outcome = f"{path}: {type(e).__name__}: {e}"
            with lock:
                if outcome is None:
                    result.ok += 1
                else:
                    result.failures.append(outcome)
                if after:
                    result.sent_after_signal += 1

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    time.sleep(warmup)
    with lock:
        signalled_at.append(time.monotonic())
        stop_sending_at[0] = signalled_at[0] + keep_sending
    send_signal()
    for t in threads:
        t.join(timeout=max_seconds)
    return result


def request_across_signal(
    port: int, path: str, send_signal: Callable[[], None], *, after: float = 1.0, timeout: float = 30.0
) -> Response | Exception:
    """One request to ``path`` (a slow view) with ``send_signal()`` called ``after`` seconds
    into it: the response, or the error the client got (a reset, a refused connection)."""
    results: list[Response | Exception] = []

    def request() -> None:
        try:
            results.append(http_get(port, path, timeout=timeout))
        except (OSError, http.client.HTTPException) as e:
            results.append(e)

    client = threading.Thread(target=request, name="prodserver-slow-request")
    client.start()
    time.sleep(after)
    send_signal()
    client.join(timeout=timeout)
    if not results:
        raise AssertionError(f"GET {path} got no answer and no error within {timeout:g}s")
    return results[0]
