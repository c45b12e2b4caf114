"""Test helpers for the ops endpoint: ask it, parse /metrics, a TCP proxy in front of a broker to close."""

from __future__ import annotations

import http.client
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from django_prodserver.testing.processes import RunningProcess, http_get


def status(port: int, path: str, timeout: float = 2.0) -> int:
    """The status of GET path on the ops port; 0 when nothing answers."""
    try:
        return http_get(port, path, timeout=timeout).status
    except (OSError, http.client.HTTPException):
        return 0


def wait_status(proc: RunningProcess, port: int, path: str, want: int, timeout: float) -> float:
    """Poll until ``path`` answers ``want``; returns the seconds it took (fails with the output)."""
    began = time.monotonic()
    last = -1
    while time.monotonic() - began < timeout:
        if proc.popen.poll() is not None:
            raise AssertionError(f"exited {proc.popen.returncode} before {path} gave {want}:\n{proc.output()[-4000:]}")
        last = status(port, path)
        if last == want:
            return time.monotonic() - began
        time.sleep(0.05)
    body = ""
    try:
        body = http_get(port, path + "?verbose", timeout=2).body.decode()
    except (OSError, http.client.HTTPException):
        pass
    raise AssertionError(f"{path} never answered {want} in {timeout}s (last {last}) {body}\n{proc.output()[-4000:]}")


def metric_samples(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """/metrics parsed by prometheus-client's own parser: {(sample name, labels): value}."""
    from prometheus_client.parser import text_string_to_metric_families

    resp = http_get(port, "/metrics")
    assert resp.status == 200, resp.body
    out: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(resp.body.decode()):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def metric(samples: dict[Any, float], name: str, **labels: str) -> float:
    """Sum of the samples called ``name`` whose labels include ``labels``."""
    return sum(v for (n, ls), v in samples.items() if n == name and set(labels.items()) <= set(ls))


def queue_depth_now(process: str = "worker") -> dict[str, int] | None:
    """In a process with Django set up: ``process``'s queue depth read as the ops endpoint reads
    it at a scrape (its plan's ``QueueDepth``); None when the plan carries none."""
    from django_prodserver.backends.base import LaunchContext
    from django_prodserver.backends.loading import plan_process
    from django_prodserver.ops.depth import load_reader
    from django_prodserver.settings.config import load_processes

    _, plan = plan_process(load_processes()[process], LaunchContext.from_django())
    if plan.queue_depth is None:
        return None
    return {queue: int(n) for queue, n in load_reader(plan.queue_depth)().items()}


class Proxy:
    """A TCP proxy in a thread in front of a real broker; ``close()`` drops it and every connection."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            with self.lock:
                if self.closed:
                    client.close()
                    server.close()
                    return
                self.sockets += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while chunk := src.recv(65536):
                dst.sendall(chunk)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        with self.lock:
            self.closed = True
            socks, self.sockets = self.sockets, []
        self.listener.close()
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()


def until(predicate: Callable[[], bool], timeout: float, what: str | Callable[[], str]) -> None:
    """Poll ``predicate`` every 0.1 s; fail naming ``what`` (text, or a callable computing it
    then, e.g. with the process' output) when it is not true within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"{what() if callable(what) else what} not within {timeout}s")
