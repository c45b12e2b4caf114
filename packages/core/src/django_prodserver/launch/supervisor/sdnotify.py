"""systemd's notify protocol for the supervisor: READY, RELOADING, STOPPING, STATUS and the
watchdog, as datagrams to ``NOTIFY_SOCKET`` (no dependency: a Unix datagram socket and sendto).

Under ``Type=notify`` systemd counts the service as started once we say ``READY=1``: every
long-running process is running, and each one that can say it is ready (prodserver's own
in-process launch) said so. A reload says ``RELOADING=1`` and ``READY=1`` again once every new
generation took over; a stop says ``STOPPING=1``. ``WATCHDOG=1`` comes from the loop's tick, so
a supervisor stuck anywhere is restarted by systemd (``WatchdogSec=``).
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Mapping, MutableMapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from django_prodserver.launch.supervisor.child import Child

#: How long a state change (READY, RELOADING, STOPPING) may wait for room in systemd's queue; a
#: ping or a STATUS line is dropped at once instead: the loop must never hang on a busy manager.
SEND_PATIENCE = 1.0
#: What systemd sets for a notifying service; never passed on to the children (a gunicorn that
#: saw them would say READY=1 for the whole service itself, and a watchdog ping from a child is
#: no proof that the supervisor's loop turns).
NOTIFY_ENV = ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")


def strip(environ: MutableMapping[str, str]) -> None:
    """Remove the notify variables from ``environ`` (what the children inherit)."""
    for key in NOTIFY_ENV:
        environ.pop(key, None)


def monotonic_usec() -> int:
    """CLOCK_MONOTONIC in microseconds, the clock systemd compares ``MONOTONIC_USEC=`` with."""
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000


class Notifier:
    """One service's line to systemd: messages, and when the watchdog wants its next ping."""

    def __init__(self, address: str | bytes, watchdog_usec: int = 0) -> None:
        self.address = address
        #: Seconds between pings (half of ``WATCHDOG_USEC``); 0 when the watchdog is off.
        self.interval = watchdog_usec / 2_000_000 if watchdog_usec > 0 else 0.0
        self.next_ping = 0.0
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.set_inheritable(False)
        self.sock.setblocking(False)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Notifier | None:
        """The notifier systemd asked for (``NOTIFY_SOCKET``), or None when not run as a notify
        service; ``@name`` is an abstract-namespace address."""
        path = environ.get("NOTIFY_SOCKET", "")
        if not path or path[0] not in "/@":
            return None
        address: str | bytes = "\0" + path[1:] if path.startswith("@") else path
        usec = 0
        watchdog_pid = environ.get("WATCHDOG_PID", "").strip()
        if not watchdog_pid or watchdog_pid == str(os.getpid()):  # the watchdog is someone else's
            text = environ.get("WATCHDOG_USEC", "").strip()
            usec = int(text) if text.isdigit() else 0
        return cls(address, usec)

    def send(self, *lines: str, patience: float = 0.0) -> bool:
        """One datagram of ``KEY=value`` lines; False when systemd is not listening (any more),
        or its queue stayed full for ``patience`` seconds."""
        data = "\n".join(lines).encode(errors="replace")
        deadline = time.monotonic() + patience
        while True:
            try:
                self.sock.sendto(data, self.address)
                return True
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    return False
                time.sleep(0.01)  # the manager's queue is full: it reads it within moments
            except OSError:
                return False

    def ready(self, status: str = "") -> bool:
        return self.send("READY=1", *([f"STATUS={status}"] if status else []), patience=SEND_PATIENCE)

    def reloading(self) -> bool:
        return self.send("RELOADING=1", f"MONOTONIC_USEC={monotonic_usec()}", patience=SEND_PATIENCE)

    def stopping(self) -> bool:
        return self.send("STOPPING=1", patience=SEND_PATIENCE)

    def status(self, text: str) -> bool:
        return self.send(f"STATUS={' '.join(text.split())}")

    def due(self, now: float) -> bool:
        """True when a watchdog ping is due at ``now`` (monotonic seconds)."""
        return self.interval > 0 and now >= self.next_ping

    def wait(self, now: float) -> float:
        """Seconds until the next ping is due (the loop sleeps no longer); a day when off."""
        return max(0.0, self.next_ping - now) if self.interval > 0 else 86400.0

    def ping(self, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        self.next_ping = now + self.interval
        return self.send("WATCHDOG=1")

    def close(self) -> None:
        self.sock.close()


def child_state(child: Child) -> str:
    """``ready``, ``starting`` (running, has not said it is ready yet) or ``not running``."""
    if not child.alive:
        return "not running"
    if child.spec.announces and child.announced_at is None:
        return "starting"
    return "ready"


class Herald:
    """What the supervisor tells systemd, and when: READY once every long-running process is
    ready (again after a reload), STATUS when a process' state changes, the watchdog's pings."""

    def __init__(self, notifier: Notifier) -> None:
        self.notifier = notifier
        self.told_ready = False
        self.in_reload = False
        self.said_status = ""
        self.stopped = False

    def tick(self, children: Sequence[Child], now: float, stopping: bool = False) -> None:
        """On every turn of the loop: the watchdog, READY the first time all are ready, STATUS;
        STOPPING for a stop that began without a graceful one (SIGQUIT kills at once)."""
        if self.notifier.due(now):
            self.notifier.ping(now)
        if stopping:
            self.stopping()
        if self.stopped:
            return
        services = [c for c in children if not c.policy.oneshot]
        text = ", ".join(f"{c.name}: {child_state(c)}" for c in services)
        if not self.told_ready and services and all(child_state(c) == "ready" for c in services):
            self.told_ready = True
            self.said_status = text
            self.notifier.ready(text)
        elif text != self.said_status and services:
            self.said_status = text
            self.notifier.status(text)

    def reloading(self) -> None:
        """A reload starts (before READY it is part of the start: nothing to say)."""
        if self.told_ready and not self.stopped and not self.in_reload:
            self.in_reload = True
            self.notifier.reloading()

    def reloaded(self) -> None:
        if self.in_reload and not self.stopped:
            self.in_reload = False
            self.notifier.ready()

    def stopping(self) -> None:
        if not self.stopped:
            self.stopped = True
            self.notifier.stopping()

    def wait(self, now: float) -> float:
        return self.notifier.wait(now)
