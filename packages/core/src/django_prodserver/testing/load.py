"""The shutdown a load balancer produces: SIGTERM while clients keep sending, then count losses."""

from __future__ import annotations

import http.client
import socket
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


#: Seconds a client of :func:`load_past_deadline` waits after a refused connection.
REFUSED_PAUSE = 0.05


@dataclass
class StopCounts:
    """How each connection of :func:`load_past_deadline` ended."""

    answers: dict[int, int] = field(default_factory=dict)  # HTTP status -> count
    refused: int = 0  # never accepted: a refused or timed-out connect (a load balancer retries it)
    lost: list[str] = field(default_factory=list)  # accepted, then reset or closed without an answer
    signalled_at: float = 0.0
    sent_after_deadline: int = 0

    @property
    def total(self) -> int:
        return sum(self.answers.values()) + self.refused + len(self.lost)


def load_past_deadline(
    port: int,
    path: str,
    send_signal: Callable[[], None],
    *,
    deadline: float,
    past: float = 1.5,
    clients: int = 12,
    warmup: float = 0.5,
    max_requests: int = 3000,
    timeout: float = 15.0,
) -> StopCounts:
    """``clients`` threads each send ``path`` on a new connection, one after the other; the
    signal goes out after ``warmup`` and they keep sending until ``past`` seconds after
    ``deadline`` seconds from it (the stop's whole bound), so the server stops under load.

    Bounded in count (``max_requests``) and time (the sending window, then ``timeout`` per
    connection). A connection the server never accepted counts as refused; one it accepted
    and reset, or closed without a whole response, as lost."""
    counts = StopCounts()
    lock = threading.Lock()
    started = time.monotonic()
    stop_sending_at = [started + warmup + deadline + past]
    counter = [0]

    def one() -> None:
        try:
            conn = socket.create_connection(("127.0.0.1", port), timeout=3.0)
        except OSError:
            with lock:
                counts.refused += 1
            time.sleep(REFUSED_PAUSE)  # as a load balancer's retry would, not a tight loop
            return
        conn.settimeout(timeout)
        outcome = receive(conn, f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        with lock:
            if isinstance(outcome, int):
                counts.answers[outcome] = counts.answers.get(outcome, 0) + 1
            else:
                counts.lost.append(outcome)

    def client() -> None:
        while True:
            with lock:
                now = time.monotonic()
                if now >= stop_sending_at[0] or counter[0] >= max_requests:
                    return
                counter[0] += 1
                if counts.signalled_at and now >= counts.signalled_at + deadline:
                    counts.sent_after_deadline += 1
            one()

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for t in threads:
        t.start()
    time.sleep(warmup)
    with lock:
        counts.signalled_at = time.monotonic()
    send_signal()
    for t in threads:
        t.join(timeout=warmup + deadline + past + timeout + 5)
    return counts


def receive(conn: socket.socket, request: bytes = b"") -> int | str:
    """Send ``request`` (if any) and read the whole response, then close: its status, or what
    went wrong (a reset, no response, a cut body)."""
    data = b""
    try:
        if request:
            conn.sendall(request)
        while chunk := conn.recv(65536):
            data += chunk
    except OSError as e:
        return f"{type(e).__name__} after {len(data)} bytes"
    finally:
        conn.close()
    head, _, body = data.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1."):  # wsgiref answers HTTP/1.0
        return f"no response ({len(data)} bytes)"
    length = next(
        (int(v) for k, _, v in (h.partition(b":") for h in head.split(b"\r\n")[1:]) if k.lower() == b"content-length"),
        None,
    )
    if length is not None and len(body) < length:
        return f"body cut at {len(body)} of {length}"
    return int(head.split()[1])


@dataclass
class ReloadLoad:
    """What the keep-alive clients of :func:`reload_under_load` saw."""

    #: (sent at, answered at, body) of every 200, in no particular order.
    answers: list[tuple[float, float, bytes]] = field(default_factory=list)
    #: Requests that failed: a non-200, or a transport error on a new connection or on retry.
    failures: list[str] = field(default_factory=list)
    #: Requests sent again on a new connection after the reused one was closed before any byte of
    #: an answer came (what urllib3, requests and browsers do for an idempotent request).
    retried: int = 0
    #: When each reload began and returned (monotonic), and its exit status.
    reloads: list[tuple[float, float, int]] = field(default_factory=list)
    #: The slowest answer, in seconds.
    worst: float = 0.0

    @property
    def total(self) -> int:
        return len(self.answers) + len(self.failures)


def reload_under_load(
    port: int,
    path: str,
    reload: Callable[[int], int],
    *,
    reloads: int = 3,
    clients: int = 4,
    warmup: float = 0.5,
    between: float = 0.5,
    max_requests: int = 20000,
    max_seconds: float = 120.0,
    timeout: float = 15.0,
) -> ReloadLoad:
    """``clients`` threads send GET ``path`` over keep-alive connections while ``reload(n)`` runs
    ``reloads`` times in a row (n = 1, 2, ...; it returns an exit status), ``between`` seconds
    apart; every answer is kept with its times.

    Bounded in count (``max_requests``) and time (``max_seconds``). A reused connection closed
    before any byte of the answer is retried once on a new one (RFC 9112, 9.3.1), counted in
    ``retried``; any other error, or a retry that fails too, is a failure."""
    result = ReloadLoad()
    lock = threading.Lock()
    started = time.monotonic()
    stop = threading.Event()
    counter = [0]

    class BeforeAnswer(Exception):
        """The connection failed before the status line: nothing of an answer came."""

    def once(conn: http.client.HTTPConnection) -> bytes:
        try:
            conn.request("GET", path, headers={"Host": "127.0.0.1"})
            resp = conn.getresponse()
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as e:
            raise BeforeAnswer(f"{type(e).__name__}: {e}") from None
        body = resp.read()
        if resp.status != 200:
            raise ValueError(f"HTTP {resp.status}: {body[:200]!r}")
        return body

    def client() -> None:
        conn: http.client.HTTPConnection | None = None
        used = False
        while not stop.is_set():
            with lock:
                if counter[0] >= max_requests or time.monotonic() - started > max_seconds:
                    break
                counter[0] += 1
            if conn is None:
                conn, used = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout), False
            sent = time.monotonic()
            outcome: bytes | str
            try:
                outcome = once(conn)
            except BeforeAnswer as e:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
                if not used:  # a new connection that failed: no retry, a failure
                    outcome = str(e)
                else:
                    with lock:
                        result.retried += 1
                    try:
                        outcome = once(conn)
                    except (BeforeAnswer, OSError, http.client.HTTPException, ValueError) as again:
                        outcome = f"retry: {type(again).__name__}: {again}"
            except (OSError, http.client.HTTPException, ValueError) as e:
                outcome = f"{type(e).__name__}: {e}"
            done = time.monotonic()
            used = True
            with lock:
                result.worst = max(result.worst, done - sent)
                if isinstance(outcome, bytes):
                    result.answers.append((sent, done, outcome))
                else:
                    result.failures.append(outcome)
            if not isinstance(outcome, bytes) and conn is not None:
                conn.close()
                conn = None
        if conn is not None:
            conn.close()

    threads = [
        threading.Thread(target=client, name=f"prodserver-reload-client-{i}", daemon=True) for i in range(clients)
    ]
    for t in threads:
        t.start()
    try:
        time.sleep(warmup)
        for n in range(1, reloads + 1):
            began = time.monotonic()
            status = reload(n)
            result.reloads.append((began, time.monotonic(), status))
            if status != 0:
                break
            time.sleep(between)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=timeout + 5)
    return result
