"""A reload: the next generation of a process starts beside the running one, from a fresh
interpreter (the code and settings on disk now), and the old one stops only once the new one is
ready, so nothing is refused and nothing half-started takes work.

A web process whose host serves on the supervisor's socket (``inherits_listener``) shares one
accept queue with its successor: a connection that arrives during the handover waits there
until either generation accepts it. The new generation is ready when it said so on its ready
pipe (code imported, warm-up answered 200) and is still running ``SETTLE`` seconds later; then
the old one gets its graceful stop (its drain). A new generation that exits first, or is not
ready within ``READY_TIMEOUT``, is stopped and the old one keeps serving: the reload fails with
the reason, and its last output lines are in the log.

A process that cannot share its address (a web server that binds its own) is restarted
instead (stop, then start), and the reload says so.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django_prodserver.launch.supervisor.child import Child

#: Seconds the new generation must keep running after its ready line before the old one stops
#: (a crash in its first moments rolls back instead of leaving nothing).
SETTLE = float(os.environ.get("PRODSERVER_RELOAD_SETTLE", "1.0"))
#: Seconds the new generation has to become ready before the reload gives up on it.
READY_TIMEOUT = float(os.environ.get("PRODSERVER_RELOAD_TIMEOUT", "120"))
#: Lines of a failed new generation's output that ``prodserver reload`` shows.
TAIL_LINES = 12
#: Seconds between two checks of the recycling limits (each reads /proc for every process).
LIMITS_EVERY = 1.0


@dataclass
class Handover:
    """One process' reload in progress: ``old`` serves until ``new`` is ready and settled."""

    old: Child
    new: Child
    began: float
    deadline: float
    #: The batch (one ``reload`` request) this handover belongs to.
    batch: Batch
    #: The new generation's last output lines (both streams), for the reload's error message.
    tail: deque[str] = field(default_factory=lambda: deque(maxlen=TAIL_LINES))


@dataclass
class Outcome:
    name: str
    ok: bool
    seconds: float
    message: str

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "seconds": round(self.seconds, 3), "message": self.message}


@dataclass
class Batch:
    """Every handover one ``reload`` asked for; answered once all ended."""

    reason: str
    began: float
    pending: int = 0
    outcomes: list[Outcome] = field(default_factory=list)
    #: Called with the answer (``prodserver reload`` waits for it); None for SIGHUP.
    reply: Callable[[dict[str, Any]], None] | None = None

    def answer(self) -> dict[str, Any]:
        ok = all(o.ok for o in self.outcomes)
        failed = [o for o in self.outcomes if not o.ok]
        if not self.outcomes:
            message = "nothing to reload"
        elif ok:
            message = "reloaded " + ", ".join(f"{o.name} ({o.seconds:.1f}s)" for o in self.outcomes)
        else:
            message = "; ".join(f"{o.name}: {o.message}" for o in failed)
        return {
            "ok": ok,
            "processes": [o.name for o in self.outcomes],
            "results": [o.as_json() for o in self.outcomes],
            "message": message,
            "seconds": round(time.monotonic() - self.began, 3),
        }


def successor(old: Child) -> Child:
    """The next generation of ``old``: the same spec, always spawned from its argv (a fresh
    interpreter; a fork of the supervisor would carry the code it imported at start)."""
    from django_prodserver.launch.supervisor.child import Child

    spec = old.spec if old.spec.first_run is None else replace(old.spec, first_run=None)
    new = Child(spec)
    new.starts = old.starts  # its restarts count on from the old one's in `prodserver status`
    return new


def over_limit(child: Child, age: float) -> tuple[str, str] | None:
    """``(reason, what happened)`` when ``child`` reached its ``max_lifetime`` or one of its
    processes uses more than ``max_memory``; None otherwise."""
    spec = child.spec
    if spec.max_lifetime and age >= spec.max_lifetime:
        return "max_lifetime", f"running for {age:.0f}s, max_lifetime is {spec.max_lifetime:g}s"
    if spec.max_memory:
        from django_prodserver.ops.procfs import rss_bytes, tree

        for pid in tree(child.pid):
            used = rss_bytes([pid])
            if used > spec.max_memory:
                mib = 1024 * 1024
                return (
                    "max_memory",
                    f"pid {pid} uses {used / mib:.0f} MiB, max_memory is {spec.max_memory / mib:.0f} MiB",
                )
    return None


def overlaps(child: Child) -> str | None:
    """None when the next generation can run beside ``child`` (a worker, or a server on the
    supervisor's socket); otherwise why it cannot, said when the reload restarts it instead."""
    if child.spec.single:
        return "it is a scheduler: two at once would send every task twice"
    if child.spec.binds and not child.spec.inherit:
        return "it binds its own address, so no second one can start beside it"
    return None


def failure(handover: Handover, why: str) -> str:
    """``why``, with the new generation's last lines (what a user of ``reload`` needs to fix it)."""
    lines = [line for line in handover.tail if line.strip()]
    if not lines:
        return why
    return why + "; its last lines:\n    " + "\n    ".join(lines)


def state(handover: Handover, now: float) -> str | None:
    """What the handover waits for: ``None`` while waiting, ``"ready"`` once the old one may
    stop, or why it failed."""
    new = handover.new
    at = new.announced_at
    if not new.alive:
        if at is not None:
            return (
                f"the new generation {new.describe_exit()} {max(0.0, now - at):.1f}s after it said it was ready "
                f"(it must keep running {SETTLE:g}s)"
            )
        return f"the new generation {new.describe_exit()} before it was ready"
    if not new.spec.announces and not new.spec.ready_line:  # running for SETTLE seconds is all we know
        at = handover.began
    if at is not None and now - at >= SETTLE:
        return "ready"
    if now >= handover.deadline:
        return f"the new generation was not ready within {READY_TIMEOUT:g}s"
    return None
