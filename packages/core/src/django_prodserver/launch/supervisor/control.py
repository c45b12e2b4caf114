"""What the supervisor answers on its control socket (docs/reference/control.md): a status row
per process, restart / stop / start by name, and each process' recent output lines, kept in a
bounded ring per process so ``prodserver logs`` works without a log file."""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Protocol

from django_prodserver.control.protocol import COMMANDS, VERSION, error
from django_prodserver.ops.procfs import cpu_seconds, rss_bytes, tree

if TYPE_CHECKING:
    from django_prodserver.control.server import ControlServer
    from django_prodserver.launch.supervisor.child import Child
    from django_prodserver.launch.supervisor.reload import Handover

#: Lines kept per process, and the longest line kept whole: at most ~2 MiB per process.
LOG_LINES = 1000
LINE_CAP = 2048
#: States that count as up for ``prodserver status``'s exit code.
UP = frozenset({"ready", "running", "done", "reloading"})


class Readiness(Protocol):
    def readiness(self, name: str) -> bool | None: ...


class Loop(Protocol):
    """What the commands need of the supervisor (``core.Supervisor``; no import: core imports us)."""

    stopping: bool
    handovers: list[Handover]

    @property
    def children(self) -> list[Child]: ...
    @property
    def hooks(self) -> Readiness | None: ...

    def _say(self, text: str) -> None: ...
    def _start(self, child: Child) -> bool: ...
    def _restart(self, child: Child, reason: str) -> None: ...
    def reload(
        self, children: list[Child] | None, reason: str, reply: Callable[[dict[str, Any]], None] | None = None
    ) -> None: ...


class Ring:
    """The last LOG_LINES lines of one process (both streams), without our prefix."""

    def __init__(self, name: str, publish: Callable[[str, str], None] | None) -> None:
        self.name = name
        self.lines: deque[str] = deque(maxlen=LOG_LINES)
        self.publish = publish

    def reader(self, prefix: bytes) -> Callable[[bytes], None]:
        """A Tap's callback for one stream whose lines carry ``prefix``."""

        def seen(data: bytes) -> None:
            for raw in data.split(b"\n")[:-1] if data.endswith(b"\n") else data.split(b"\n"):
                if prefix and raw.startswith(prefix):
                    raw = raw[len(prefix) :]
                line = raw[:LINE_CAP].decode("utf-8", "replace")
                self.lines.append(line)
                if self.publish is not None:
                    self.publish(self.name, line)

        return seen


class Controls:
    """The supervisor's side of the control protocol; runs in the supervisor's loop."""

    def __init__(self, supervisor: Loop, server: ControlServer | None) -> None:
        self.supervisor = supervisor
        self.server = server
        self.started_at = time.monotonic()
        self.rings: dict[str, Ring] = {}
        self.since: dict[str, float] = {}
        self.last_exit: dict[str, str] = {}
        #: Stopped with ``prodserver stop NAME``: not restarted until ``start``/``restart``.
        self.stopped: set[str] = set()
        self._cpu: dict[str, tuple[int, float, float]] = {}
        if server is not None:
            server.handler = self.handle

    def ring(self, name: str) -> Ring:
        if name not in self.rings:
            self.rings[name] = Ring(name, self.server.publish if self.server is not None else None)
        return self.rings[name]

    def started(self, child: Child) -> None:
        self.since[child.name] = time.monotonic()
        self.stopped.discard(child.name)

    def exited(self, child: Child) -> None:
        self.last_exit[child.name] = child.describe_exit()

    # -- requests ------------------------------------------------------------------------------

    def handle(self, request: dict[str, Any]) -> tuple[dict[str, Any] | None, Iterable[str]]:
        command = request.get("command")
        if command == "status":
            return self.status(), ()
        if command not in COMMANDS:
            return error(f"unknown command {command!r}; commands: {', '.join(COMMANDS)}"), ()
        if command == "reload":
            return self.reload(request)
        name = request.get("name")
        children = self._named(name)
        if isinstance(children, dict):
            return children, ()
        if command == "logs":
            return self.logs(children, request)
        sup = self.supervisor
        if sup.stopping:
            return error("the supervisor is stopping: it starts nothing any more"), ()
        done: list[str] = []
        for child in children:
            if command == "stop":
                if child.alive or child.restart_at is not None:
                    self.stopped.add(child.name)
                    child.restart_at = None
                    child.restart_requested = False
                    child.request_stop(time.monotonic())
                    sup._say(f"stop requested over the control socket: stopping {child.name!r}")
                    done.append(child.name)
            elif child.policy.oneshot:
                return error(
                    f"{child.name!r} is a one-shot: it ran once before the others and is not started again"
                ), ()
            elif command == "start":
                if not child.alive and child.restart_at is None:
                    self.stopped.discard(child.name)
                    sup._start(child)
                    done.append(child.name)
            else:  # restart
                self.stopped.discard(child.name)
                if child.alive:
                    sup._restart(child, "restart requested over the control socket")
                else:
                    sup._start(child)
                done.append(child.name)
        verb = {"stop": "stopping", "start": "started", "restart": "restarting"}[command]
        nothing = {"stop": "not running", "start": "already running", "restart": ""}[command]
        message = f"{verb} {', '.join(done)}" if done else f"{', '.join(c.name for c in children)}: {nothing}"
        return {"ok": True, "processes": done, "message": message}, ()

    def reload(self, request: dict[str, Any]) -> tuple[dict[str, Any] | None, Iterable[str]]:
        """Reload one process (by name) or every long-running one; answered when it is done."""
        sup = self.supervisor
        if sup.stopping:
            return error("the supervisor is stopping: it starts nothing any more"), ()
        children: list[Child] | None = None
        if request.get("name"):
            named = self._named(request["name"])
            if isinstance(named, dict):
                return named, ()
            if any(c.policy.oneshot for c in named):
                return error(
                    f"{request['name']!r} is a one-shot: it ran once before the others and is not reloaded"
                ), ()
            children = named
        assert self.server is not None
        sup.reload(children, "reload requested over the control socket", self.server.defer())
        return None, ()

    def _named(self, name: object) -> list[Child] | dict[str, Any]:
        """The children ``name`` means: one by its name, or every copy of a copied process."""
        children = self.supervisor.children
        known = [c.name for c in children]
        if not isinstance(name, str) or not name:
            return error("this command needs a process name", known=known)
        chosen = [c for c in children if c.name == name] or [c for c in children if c.spec.name == name]
        if not chosen:
            return error(f"no process named {name!r} here; known: {', '.join(known)}", known=known)
        return chosen

    def logs(self, children: list[Child], request: dict[str, Any]) -> tuple[dict[str, Any], Iterable[str]]:
        count = request.get("lines", 100)
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            return error(f"'lines' must be a whole number >= 0, found {count!r}"), ()
        lines = []
        for child in children:
            ring = self.rings.get(child.name)
            kept = list(ring.lines) if ring else []
            picked = kept[max(0, len(kept) - count) :] if count else []
            lines += [{"process": child.name, "line": line} for line in picked]
        follows = [c.name for c in children] if request.get("follow") else []
        names = [c.name for c in children]
        return {"ok": True, "processes": names, "lines": lines, "kept": LOG_LINES}, follows

    def status(self) -> dict[str, Any]:
        now = time.monotonic()
        rows = [self.row(child, now) for child in self.supervisor.children]
        return {
            "ok": True,
            "version": VERSION,
            "supervisor": {
                "pid": os.getpid(),
                "uptime": round(now - self.started_at, 3),
                "stopping": self.supervisor.stopping,
            },
            "processes": rows,
            "all_up": all(r["state"] in UP for r in rows),
        }

    def row(self, child: Child, now: float) -> dict[str, Any]:
        state = self.state(child)
        pids = tree(child.pid) if child.alive else []
        uptime = round(now - self.since.get(child.name, now), 3) if child.alive else None
        return {
            "name": child.name,
            "backend": child.spec.backend,
            "pid": child.pid if child.alive else None,
            "state": state,
            "uptime": uptime,
            "restarts": max(0, child.starts - 1),
            "cpu_percent": self._cpu_percent(child, pids, now) if pids else None,
            "rss_bytes": rss_bytes(pids) if pids else None,
            "last_exit": self.last_exit.get(child.name),
        }

    def state(self, child: Child) -> str:
        sup = self.supervisor
        if child.alive:
            if child.stop_sent:
                return "restarting" if child.restart_requested else "draining"
            if any(h.old is child for h in sup.handovers):
                return "reloading"
            ready = sup.hooks.readiness(child.name) if sup.hooks is not None else None
            return "running" if ready is None else ("ready" if ready else "starting")
        if child.pid == 0:
            return "waiting"
        if child.restart_at is not None:
            return "restarting" if child.restart_requested else "backoff"
        if child.name in self.stopped:
            return "stopped"
        if child.policy.oneshot and child.clean:
            return "done"
        return "exited"

    def _cpu_percent(self, child: Child, pids: list[int], now: float) -> float:
        """CPU % of the process tree since the previous status request (or since its start)."""
        used = cpu_seconds(pids)
        pid, then, before = self._cpu.get(child.name, (0, self.since.get(child.name, now), 0.0))
        if pid != child.pid:
            then, before = self.since.get(child.name, now), 0.0
        self._cpu[child.name] = (child.pid, now, used)
        elapsed = now - then
        return round(max(0.0, used - before) / elapsed * 100, 1) if elapsed > 0.05 else 0.0
