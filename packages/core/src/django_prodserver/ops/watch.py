"""Per-process health as the ops endpoint sees it: ready, live, stopped, restarts, exits.

One :class:`Watch` per supervised process, updated by the supervisor (starts, exits, output)
and by its own checker thread (warm-up request, broker connection, SIGSTOP); read by the
HTTP thread. Readiness rules live here, in one place."""

from __future__ import annotations

import http.client
import ssl
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django_prodserver.ops import procfs
from django_prodserver.plan import ReadyProbe

#: Header on prodserver's own readiness requests: the metrics middleware does not count them.
PROBE_HEADER = "X-Prodserver-Probe"
#: Seconds between checks while a process is not ready yet (warm-up).
FAST = 0.1
#: Seconds between checks once it is ready (one /proc read: stopped? broker connection?).
SLOW = 1.0
#: Seconds between two readiness requests through the app once it is ready (each is one
#: access-log line; a wedged server shows within this plus REQUEST_TIMEOUT).
HTTP_RECHECK = 5.0
#: Timeout of one readiness request; a server that takes longer is not ready.
REQUEST_TIMEOUT = 3.0


@dataclass
class Facts:
    """A consistent copy of one process' state, for one answer of the endpoint."""

    name: str
    kind: str
    service: bool
    alive: bool
    pid: int
    ready: bool
    ever_ready: bool
    restarts: int
    started_wall: float
    started_at: float
    last_exit_code: int | None
    stopped_for: float
    why: str

    def as_json(self, now: float) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "pid": self.pid or None,
            "alive": self.alive,
            "ready": self.ready,
            "ever_ready": self.ever_ready,
            "restarts": self.restarts,
            "uptime_seconds": round(now - self.started_at, 3) if self.alive else 0.0,
            "last_exit_code": self.last_exit_code,
            "stopped_seconds": round(self.stopped_for, 3),
            "detail": self.why,
        }


class Watch:
    """The ops endpoint's view of one process."""

    def __init__(self, name: str, kind: str, probe: ReadyProbe | None, *, service: bool) -> None:
        self.name = name
        self.kind = kind
        self.probe = probe or ReadyProbe()
        self.service = service
        self.lock = threading.Lock()
        self.pid = 0
        self.alive = False
        self.starts = 0
        self.started_at = 0.0
        self.started_wall = 0.0
        self.last_exit_code: int | None = None
        self.log_seen = False
        self.ready = False
        self.ever_ready = False
        self.stopped_since: float | None = None
        self.why = "not started"
        self.draining = False
        self._generation = 0
        self._http_ok_at = 0.0
        self._broker = self._broker_addresses()

    def _broker_addresses(self) -> set[tuple[str, int]]:
        if not self.probe.broker:
            return set()
        host, _, port = self.probe.broker.rpartition(":")
        return procfs.resolve(host.strip("[]"), int(port))

    # -- from the supervisor (main thread) ------------------------------------------

    def started(self, pid: int) -> None:
        with self.lock:
            self.pid = pid
            self.alive = True
            self.starts += 1
            self.started_at = time.monotonic()
            self.started_wall = time.time()
            self.log_seen = False
            self.ready = False
            self.stopped_since = None
            self.why = "starting"
            self._generation += 1

    def handed_over(self, pid: int) -> None:
        """A reload's next generation, ready, replaced the process: readiness carries on (no
        "starting" flap), now about the new pid."""
        with self.lock:
            self.pid = pid
            self.alive = True
            self.log_seen = True
            self.stopped_since = None
            self._generation += 1

    def exited(self, code: int) -> None:
        with self.lock:
            self.alive = False
            self.ready = False
            self.last_exit_code = code
            self.stopped_since = None
            self.why = f"exited with code {code}"
            self._generation += 1

    def held(self, why: str) -> None:
        with self.lock:
            self.why = why

    def output(self, data: bytes) -> None:
        """A chunk of the process' output: the ready log line may be in it."""
        line = self.probe.log_line
        if line and not self.log_seen and line.encode() in data:
            with self.lock:
                self.log_seen = True

    def drain(self) -> None:
        with self.lock:
            self.draining = True
            self.ready = False
            self.why = "draining: a stop was requested"

    # -- from the checker thread ----------------------------------------------------

    def check(self) -> float:
        """Re-evaluate readiness and the stopped state once; returns seconds until the next check.
        (How long a stop may last before liveness fails is the runtime's call.)"""
        with self.lock:
            if not self.alive or self.draining:
                return FAST
            pid, generation = self.pid, self._generation
        pids = procfs.tree(pid)
        stopped = any(procfs.state(p) in ("T", "t") for p in pids)
        ready, why = self._evaluate(pids)
        now = time.monotonic()
        with self.lock:
            if generation != self._generation or self.draining:
                return FAST  # it restarted or a stop came while we looked: throw the answer away
            if stopped:
                self.stopped_since = self.stopped_since or now
                ready, why = False, f"stopped (SIGSTOP) for {now - self.stopped_since:.1f}s"
            else:
                self.stopped_since = None
            self.ready = ready
            self.ever_ready = self.ever_ready or ready
            self.why = why
        return SLOW if ready else FAST

    def _evaluate(self, pids: list[int]) -> tuple[bool, str]:
        probe = self.probe
        if probe.http_url:
            now = time.monotonic()
            if self.ready and now - self._http_ok_at < HTTP_RECHECK:
                return True, self.why
            ok, why = _http_ready(probe.http_url)
            if ok:
                self._http_ok_at = now
            return ok, why
        if probe.log_line and not self.log_seen:
            return False, f"waiting for the log line {probe.log_line!r}"
        if self._broker:
            connected = procfs.established(pids[0], procfs.socket_inodes(pids))
            if not connected & self._broker:
                return False, f"no established connection to the broker {probe.broker}"
            return True, f"consuming: connected to {probe.broker}"
        return True, "running" + (" (ready line seen)" if probe.log_line else "")

    # -- from the HTTP thread -------------------------------------------------------

    def facts(self, now: float) -> Facts:
        with self.lock:
            return Facts(
                name=self.name,
                kind=self.kind,
                service=self.service,
                alive=self.alive,
                pid=self.pid if self.alive else 0,
                ready=self.ready and self.alive and not self.draining,
                ever_ready=self.ever_ready,
                restarts=max(0, self.starts - 1),
                started_wall=self.started_wall,
                started_at=self.started_at,
                last_exit_code=self.last_exit_code,
                stopped_for=(now - self.stopped_since) if self.stopped_since else 0.0,
                why=self.why,
            )


def _http_ready(url: str) -> tuple[bool, str]:
    """One real request through the app: any status below 500 means it serves."""
    parts = urlsplit(url)
    conn: http.client.HTTPConnection
    host, port = parts.hostname or "127.0.0.1", parts.port
    if parts.scheme == "https":
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # our own server on loopback, often a private cert
        conn = http.client.HTTPSConnection(host, port, timeout=REQUEST_TIMEOUT, context=context)
    else:
        conn = http.client.HTTPConnection(host, port, timeout=REQUEST_TIMEOUT)
    try:
        conn.request("GET", parts.path or "/", headers={PROBE_HEADER: "ready", "Connection": "close"})
        resp = conn.getresponse()
        resp.read()
    except (OSError, http.client.HTTPException) as e:
        return False, f"GET {url}: {type(e).__name__}: {e}"
    finally:
        conn.close()
    if resp.status >= 500:
        return False, f"GET {url} answered {resp.status}"
    return True, f"GET {url} answered {resp.status}"
