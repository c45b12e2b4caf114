"""The supervisor's event loop: one-shots in order, then the long-running processes; signals,
output, reaping (also of orphans when we are PID 1), restart requests, and the exit code, in one
thread. What an exit means is each child's policy's call (``policies.py``)."""

from __future__ import annotations

import os
import select
import signal
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Protocol

from django_prodserver.launch.supervisor import reload as reloading
from django_prodserver.launch.supervisor.child import EXIT_GRACE, Child, ChildSpec, expand
from django_prodserver.launch.supervisor.control import Controls, Ring
from django_prodserver.launch.supervisor.output import JsonWrap, Prefixer, Sink, Tap, json_line
from django_prodserver.launch.supervisor.policies import Held, Restart, RestartRequests, StopAll
from django_prodserver.launch.supervisor.signals import AGAIN_KILLS, FORWARD, KILL_NOW, STOP, SignalInbox

if TYPE_CHECKING:
    from django_prodserver.control.server import ControlServer
    from django_prodserver.launch.supervisor.sdnotify import Herald  # systemd

#: Our own lines carry this name in the prefix column.
SELF = "prodserver"
#: Longest sleep of the loop: reaping also happens on this tick if a SIGCHLD wake-up was lost.
TICK = 1.0
#: How to stop at once, said whenever a stop starts or a stop signal repeats.
NOW_HINT = "Ctrl-C twice or SIGQUIT stops at once"
#: After everything was killed, how long we wait for the kernel to hand back the statuses.
REAP_GRACE = 5.0
#: At exit, how long what is queued for a slow reader of our output may take to go out.
FLUSH_GRACE = 2.0


class Hooks(Protocol):
    """Who hears of the supervisor's events (the ops endpoint); called from the loop's thread."""

    def output_reader(self, name: str) -> Callable[[bytes], None] | None: ...
    def started(self, name: str, pid: int) -> None: ...
    def handed_over(self, name: str, pid: int) -> None: ...
    def recycled(self, name: str, reason: str) -> None: ...
    def exited(self, name: str, code: int) -> None: ...
    def stopping(self) -> None: ...
    def fail(self) -> None: ...
    def held(self, name: str, why: str) -> None: ...
    def in_fork(self) -> None: ...
    def tick(self, dropped: Mapping[str, int]) -> None: ...
    def readiness(self, name: str) -> bool | None: ...


class Supervisor:
    """Run ``specs`` as children in the foreground until they finish or we are told to stop."""

    def __init__(
        self,
        specs: Sequence[ChildSpec],
        *,
        prefix: bool = True,
        colour: tuple[bool, bool] = (False, False),
        verbosity: int = 1,
        fds: tuple[int, int] = (1, 2),
        json_logs: bool = False,
        hooks: Hooks | None = None,
        label: str = SELF,
        control: ControlServer | None = None,
        reload_on_hup: bool = False,
    ) -> None:
        self.children = [Child(c) for s in specs for c in expand(s)]
        self.out, self.err = Sink(fds[0]), Sink(fds[1])
        #: The name on our own lines (``devserver`` when it runs one reloaded process).
        self.label = label
        names = [label, *(c.name for c in self.children)]
        width = max((len(c.name) for c in self.children), default=0)  # ours may stick out
        # log_format json: children's lines carry their process name, so no prefix (issue 10).
        self.json_logs = json_logs
        enabled = prefix and not json_logs
        self.prefixers = tuple(Prefixer(names, enabled=enabled, colour=c, width=width) for c in colour)
        self.verbosity = verbosity
        self.hooks = hooks
        self.inbox = SignalInbox()
        self.by_pid: dict[int, Child] = {}
        self.stopping = False
        #: Exit code decided by a failure (first one wins); None while nothing failed.
        self.result: int | None = None
        #: Codes of children that did not stop cleanly after we asked them to.
        self.stop_failures: list[int] = []
        #: Children left stopped after a configuration exit, with their exit codes (in order).
        self.held: dict[str, int] = {}
        #: Stop signals received so far (a second SIGINT stops at once, SIGTERM never does).
        self.stop_signals_seen: set[int] = set()
        #: The control socket's listener (None when off) and what it answers (status, logs...).
        self.control = control
        self.controls = Controls(self, control)
        #: SIGHUP reloads (the top-level supervisor) instead of being forwarded to each child.
        self.reload_on_hup = reload_on_hup
        #: Reloads in progress, and old generations draining after one.
        self.handovers: list[reloading.Handover] = []
        self.retiring: list[Child] = []
        #: When the recycling limits (max_lifetime, max_memory) were last checked.
        self._limits_checked = 0.0
        #: systemd: what we tell a Type=notify service manager (set by supervision._supervise).
        self.systemd: Herald | None = None

    # -- public --------------------------------------------------------------------------

    def run(self) -> int:
        """Supervise until done; returns the exit code (0 only after a clean requested stop)."""
        self.inbox.install()
        try:
            for source in self._sources():
                source.open()
            if self._run_oneshots():
                services = [c for c in self.children if not c.policy.oneshot]
                for child in services:
                    if not self.stopping:
                        self._start(child)
                if services:  # only one-shots, all done: nothing left to supervise
                    self._loop(lambda: self.stopping and not any(c.alive for c in self._everyone()))
            return self._exit_code()
        finally:
            self._shutdown()

    # -- phases --------------------------------------------------------------------------

    def _run_oneshots(self) -> bool:
        """Run one-shot processes one after another; True when all succeeded and no stop came."""
        for child in (c for c in self.children if c.policy.oneshot):
            if self.stopping or not self._start(child):
                return False
            self._loop(lambda c=child: not c.alive)  # type: ignore[misc]
            if self.stopping:
                return False
            if not child.clean:
                waiting = ", ".join(c.name for c in self.children if c.status is None and c is not child)
                self._say(f"one-shot {child.name!r} {child.describe_exit()}: not starting {waiting or 'anything'}")
                self.result = child.exit_code
                self.stopping = True
                return False
        return True

    def _start(self, child: Child) -> bool:
        requested = child.restart_requested  # a restart someone asked for is announced
        if child.spec.listeners or child.spec.inherit:
            from django_prodserver.served.turnaway import release

            for sock in (*child.spec.listeners, *child.spec.inherit):
                release(sock)  # a copy (or generation) that stopped held the queue at its stop
        seen = self.hooks.output_reader(child.name) if self.hooks else None
        failed = self._launch(child, readers=() if seen is None else (seen,))
        if failed is not None:
            self._say(f"cannot start {child.name!r} ({' '.join(child.spec.argv[:3])} ...): {failed}")
            self._fail(127)
            return False
        self.held.pop(child.name, None)  # a restart request started it again
        self.controls.started(child)
        if self.hooks:
            self.hooks.started(child.name, child.pid)
        if self.verbosity >= 2 or (self.verbosity >= 1 and (child.starts == 1 or requested)):
            where = f": {child.spec.what}" if child.spec.what else ""
            self._say(f"started {child.name!r} (pid {child.pid}){where}")
        return True

    def _launch(
        self, child: Child, rings: Sequence[Ring] = (), readers: Sequence[Callable[[bytes], None]] = ()
    ) -> OSError | None:
        """Start ``child``: its output prefixed, its recent lines kept for ``prodserver logs`` (and
        in ``rings``), each chunk shown to ``readers``; the error when it could not be started."""
        out, err = self.out, self.err
        if not child.spec.share_stdio:
            for ring in (self.controls.ring(child.name), *rings):
                out = Tap(out, ring.reader(self.prefixers[0][child.name]))
                err = Tap(err, ring.reader(self.prefixers[1][child.name]))
        for seen in readers:
            out, err = Tap(out, seen), Tap(err, seen)
        try:
            child.start((self.prefixers[0][child.name], self.prefixers[1][child.name]), out, err, self._in_fork)
        except OSError as e:
            return e
        self.by_pid[child.pid] = child
        if self.json_logs:  # each line of its pipes one JSON object, whatever it printed
            for pipe, stream in zip(child.pipes, ("stdout", "stderr"), strict=False):
                pipe.stream.json = JsonWrap(child.spec.name, stream, child.pid)
        return None

    def _in_fork(self) -> None:
        """In a forked child (first_run): drop the supervisor's signal handlers, fds and hooks."""
        self.inbox.restore()
        self.out.close()
        self.err.close()
        for child in self._everyone():
            for pipe in child.pipes:
                if not pipe.closed:
                    os.close(pipe.fd)
            if child.ready_fd is not None:
                os.close(child.ready_fd)
        if self.control is not None:
            self.control.close_in_fork()
        if self.hooks:
            self.hooks.in_fork()

    def _loop(self, done: Callable[[], bool]) -> None:
        while not done():
            now = time.monotonic()
            timeout = TICK
            for child in self._everyone():
                for at in (child.stop_deadline if child.alive else None, child.restart_at):
                    if at is not None:
                        timeout = min(timeout, max(0.0, at - now))
            if self.handovers:
                timeout = min(timeout, 0.05)
            if self.systemd:  # systemd: wake for the watchdog's next ping
                timeout = min(timeout, self.systemd.wait(now))
            everyone = self._everyone()
            fds = [self.inbox.fd] + [p.fd for c in everyone for p in c.open_pipes()]
            fds += [c.ready_fd for c in everyone if c.ready_fd is not None]
            fds += [s.fd for s in self._sources()]
            # Output waits in the sinks' queues, never here: select for room, write what fits.
            writable = [sink.fileno() for sink in (self.out, self.err) if sink.pending]
            if self.control is not None:
                fds += self.control.read_fds()
                writable += self.control.write_fds()
            try:
                readable, room, _ = select.select(fds, writable, [], timeout)
            except InterruptedError:  # pragma: no cover - PEP 475 retries select
                readable, room = [], []
            self._signals()
            ready = set(readable)
            for child in self._everyone():
                for pipe in child.open_pipes():
                    if pipe.fd in ready:
                        pipe.read()
                if child.ready_fd is not None and child.ready_fd in ready:
                    child.read_ready(time.monotonic())
            for child in self.children:
                source = child.policy.requests
                if source is not None and source.fd in ready:
                    reason = source.take()
                    if reason:
                        self._restart(child, reason)
            if self.control is not None:
                self.control.serve(ready, set(room))
            self._reap()
            self._timers(time.monotonic())
            self._handovers(time.monotonic())
            if self.systemd:  # systemd: READY, STATUS, WATCHDOG
                self.systemd.tick(self.children, time.monotonic(), self.stopping)
            self._output()

    def _everyone(self) -> list[Child]:
        """Every process we started and still answer for: the children, the next generations
        of a reload, and the old generations draining after one."""
        if not self.handovers and not self.retiring:
            return self.children
        return [*self.children, *(h.new for h in self.handovers), *self.retiring]

    def _output(self) -> None:
        """Write what our readers take now; once a sink that dropped lines has room again, say
        how many (one line), and tell the hooks we are still turning (the ops liveness)."""
        for sink in (self.out, self.err):
            sink.flush()
            if sink.unreported and not sink.pending:
                count, sink.unreported = sink.unreported, 0
                stream = "stdout" if sink is self.out else "stderr"
                self._say(
                    f"{count} output lines dropped: {stream} was not read fast enough "
                    "(prodserver_log_lines_dropped_total counts them)",
                    to=sink,
                    level="warning",
                )
        if self.hooks:
            self.hooks.tick({"stdout": self.out.dropped, "stderr": self.err.dropped})

    # -- events --------------------------------------------------------------------------

    def _signals(self) -> None:
        taken = self.inbox.take()
        if self.hooks and not self.stopping and any(sig in STOP for sig in taken):
            self.hooks.stopping()  # readiness 503 first: before our own message and the stop
        for sig in taken:
            name = signal.Signals(sig).name
            if sig in KILL_NOW or (sig in AGAIN_KILLS and sig in self.stop_signals_seen):
                self._say(f"{name} received: killing every process now")
                self.stopping = True
                for child in self.children:
                    child.restart_at = None
                    child.kill()
            elif sig in STOP:
                again = sig in self.stop_signals_seen or self.stopping
                self.stop_signals_seen.add(sig)
                if again:  # SIGTERM stays graceful however often it comes
                    self._say(f"{name} received: already stopping gracefully ({NOW_HINT})")
                else:
                    self._say(f"{name} received: stopping gracefully ({NOW_HINT})")
                    self._stop()
            elif sig == signal.SIGHUP and self.reload_on_hup:
                self.reload(None, "SIGHUP received")
            elif sig in FORWARD:
                for child in self.children:
                    if sig in child.policy.restart_signals:
                        self._restart(child, f"{signal.Signals(sig).name} received")
                    else:
                        child.forward(sig)

    def _restart(self, child: Child, reason: str) -> None:
        """A restart request: stop the child gracefully (its stop signal, then the group kill after
        its graceful timeout) and start it again once it exited; start it now if it waits."""
        if self.stopping or child.pid == 0:  # not started yet (one-shots still run): nothing to restart
            return
        self._say(f"{reason}: restarting {child.name!r}")
        child.restart_requested = True
        if child.alive:
            child.request_stop(time.monotonic())
        else:
            child.restart_at = time.monotonic()

    def _reap(self) -> None:
        """Collect every exit status: our children's are dispatched, orphans' just released."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            child = self.by_pid.pop(pid, None)
            if child is not None and child not in self.children:  # a reload's new or old generation
                child.exited(status)
                self._generation_exited(child)
            elif child is not None:
                child.exited(status)
                self.controls.exited(child)
                if self.hooks:
                    self.hooks.exited(child.name, child.exit_code)
                self._exited(child)

    def _exited(self, child: Child) -> None:
        """Apply the child's policy to an exit: nothing while stopping, restart, wait, or stop all."""
        what = f"{child.name!r} (pid {child.pid}) {child.describe_exit()}"
        if self.stopping:
            if not child.clean:
                self.stop_failures.append(child.exit_code)
                self._say(f"{what} after the stop request")
            elif self.verbosity >= 1:
                self._say(what)
            return
        if child.name in self.controls.stopped:  # `prodserver stop NAME`: stays stopped
            self._say(f"{what}; stopped on request (prodserver start {child.name} starts it again)")
            return
        if child.restart_requested:  # we stopped it to restart it: its status says nothing
            if self.verbosity >= 2:
                self._say(what)
            child.restart_at = time.monotonic()
            return
        decision = child.policy.on_exit(child.clean, child.exit_code, time.monotonic())
        if isinstance(decision, Restart):
            self._say(f"{what}; {decision.reason or f'restarting in {decision.delay:g}s'}")
            child.restart_at = time.monotonic() + decision.delay
        elif isinstance(decision, StopAll):
            self._say(f"{what}; {decision.reason}: stopping everything")
            self._fail(decision.code)
        elif isinstance(decision, Held):
            self._hold(child, what, decision)
        elif decision.reason:
            self._say(f"{what}; {decision.reason}")
        elif self.verbosity >= 1 and child.clean:
            self._say(what)  # a one-shot's failure is told by _run_oneshots

    def _hold(self, child: Child, what: str, decision: Held) -> None:
        """A configuration exit: said once, never retried; the others keep running. When nothing
        long-running is left, there is nothing to supervise: stop."""
        self.held[child.name] = decision.code
        if self.hooks:
            self.hooks.held(child.name, f"exited with code {decision.code}: {decision.reason}")
        running = [  # or due to start again: by its backoff, or a restart request (devserver's watcher)
            c.name
            for c in self.children
            if not c.policy.oneshot and (c.alive or c.restart_at is not None or c.policy.requests is not None)
        ]
        if not running:
            self._say(f"{what}; {decision.reason}: nothing else runs, stopping")
            self._fail(decision.code)
            return
        self._say(
            f"{what}; {decision.reason}. Still running: {', '.join(running)}. Fix {child.name!r}'s "
            "configuration (its output above says what), then restart prodserver"
        )

    def _timers(self, now: float) -> None:
        for child in self._everyone():
            if child.alive and child.stop_deadline is not None and now >= child.stop_deadline:
                self._say(
                    f"{child.name!r} still running {child.spec.graceful_timeout + EXIT_GRACE:g}s after the stop "
                    f"signal (graceful timeout {child.spec.graceful_timeout:g}s + {EXIT_GRACE:g}s to exit): "
                    "killing its process group"
                )
                child.stop_deadline = None
                child.kill()
            if (
                child.restart_at is not None
                and now >= child.restart_at
                and not self.stopping
                and child in self.children
            ):
                self._start(child)

    # -- reloading -----------------------------------------------------------------------

    def reload(
        self,
        children: Sequence[Child] | None,
        reason: str,
        reply: Callable[[dict[str, object]], None] | None = None,
    ) -> None:
        """Start the next generation of ``children`` (every long-running one when None) beside
        the running one; ``reply`` gets the outcome once every handover ended."""
        now = time.monotonic()
        batch = reloading.Batch(reason, now, reply=reply)
        busy = {h.old.name for h in self.handovers}
        chosen = [c for c in (self.children if children is None else children) if not c.policy.oneshot]
        if self.stopping:
            batch.outcomes = [reloading.Outcome(c.name, False, 0.0, "the supervisor is stopping") for c in chosen]
        names = ", ".join(repr(c.name) for c in chosen) or "nothing"
        if not self.stopping:
            self._say(f"{reason}: reloading {names}")
            if self.systemd:  # systemd: RELOADING=1
                self.systemd.reloading()
        for child in chosen if not self.stopping else ():
            if child.name in busy:
                batch.outcomes.append(reloading.Outcome(child.name, False, 0.0, "a reload of it is already running"))
            elif not child.alive:  # stopped, waiting or in backoff: its next start is the new code anyway
                self.controls.stopped.discard(child.name)
                if child.restart_at is None:
                    self._start(child)
                batch.outcomes.append(reloading.Outcome(child.name, True, 0.0, "was not running: started"))
            elif (why := reloading.overlaps(child)) is not None:
                self._say(f"{child.name!r} ({child.spec.backend or 'its backend'}): {why}; restarting it instead")
                self._restart(child, f"{reason}")
                batch.outcomes.append(reloading.Outcome(child.name, True, 0.0, f"restarted: {why}"))
            else:
                new = reloading.successor(child)
                handover = reloading.Handover(child, new, now, now + reloading.READY_TIMEOUT, batch)
                self.handovers.append(handover)
                batch.pending += 1
                if not self._start_generation(new, handover.tail):
                    self._handover_failed(self.handovers[-1], "the new generation could not be started")
        if batch.pending == 0:
            self._answer(batch)

    def _start_generation(self, new: Child, tail: deque[str]) -> bool:
        """Spawn a reload's new generation; its output is prefixed and kept like the old one's,
        and its last lines in ``tail`` (for the reload's answer if it fails)."""
        own = Ring(new.name, None)
        own.lines = tail
        ready_line = not new.spec.announces and bool(new.spec.ready_line)  # its ready line is its "ready"
        failed = self._launch(new, rings=(own,), readers=(self._ready_line_of(new),) if ready_line else ())
        if failed is not None:
            self._say(f"cannot start the new generation of {new.name!r}: {failed}")
            return False
        if self.verbosity >= 1:
            self._say(
                f"started the new generation of {new.name!r} (pid {new.pid}); "
                f"the old one (pid {self._old_pid(new)}) serves until it is ready"
            )
        return True

    def _ready_line_of(self, new: Child) -> Callable[[bytes], None]:
        line = new.spec.ready_line.encode()

        def seen(data: bytes) -> None:
            if new.announced_at is None and line in data:
                new.announced_at = time.monotonic()

        return seen

    def _old_pid(self, new: Child) -> int:
        return next((h.old.pid for h in self.handovers if h.new is new), 0)

    def _limits(self, now: float) -> None:
        """Replace a process that reached ``max_lifetime`` or ``max_memory`` by a new generation."""
        if now - self._limits_checked < reloading.LIMITS_EVERY or self.stopping:
            return
        self._limits_checked = now
        busy = {h.old.name for h in self.handovers}
        for child in self.children:
            if not child.alive or child.stop_sent or child.name in busy or child.policy.oneshot:
                continue
            why = reloading.over_limit(child, now - self.controls.since.get(child.name, now))
            if why is None:
                continue
            reason, detail = why
            self._say(f"recycling {child.name!r}: {detail}")
            if self.hooks:
                self.hooks.recycled(child.name, reason)
            self.reload([child], f"{reason} reached")

    def _handovers(self, now: float) -> None:
        self._limits(now)
        if self.retiring:  # gone, and every line they wrote read: nothing left to answer for
            self.retiring = [c for c in self.retiring if c.alive or c.open_pipes()]
        for handover in list(self.handovers):
            verdict = reloading.state(handover, now)
            if verdict is None:
                continue
            if verdict != "ready":
                self._handover_failed(handover, verdict)
                continue
            old, new = handover.old, handover.new
            self.handovers.remove(handover)
            index = self.children.index(old)
            self.children[index] = new
            self.retiring.append(old)
            old.restart_at = None
            old.request_stop(now)
            self.controls.started(new)
            if self.hooks:
                self.hooks.handed_over(new.name, new.pid)
            took = now - handover.began
            self._say(f"{new.name!r} reloaded in {took:.1f}s: pid {new.pid} serves; the old one (pid {old.pid}) drains")
            self._settled(handover.batch, reloading.Outcome(new.name, True, took, f"pid {new.pid}"))

    def _handover_failed(self, handover: reloading.Handover, why: str) -> None:
        """The new generation did not make it: stop it, keep the old one serving, say why once."""
        self.handovers.remove(handover)
        new = handover.new
        new.close_ready()
        new.kill()
        self.retiring.append(new)  # until it is reaped and its last lines are read
        took = time.monotonic() - handover.began
        self._say(
            f"reload of {new.name!r} failed: {why}; the old generation (pid {handover.old.pid}) keeps serving",
            level="error",
        )
        self._settled(handover.batch, reloading.Outcome(new.name, False, took, reloading.failure(handover, why)))

    def _settled(self, batch: reloading.Batch, outcome: reloading.Outcome) -> None:
        batch.outcomes.append(outcome)
        batch.pending -= 1
        if batch.pending == 0:
            self._answer(batch)

    def _answer(self, batch: reloading.Batch) -> None:
        if self.systemd:  # systemd: READY=1 again
            self.systemd.reloaded()
        if batch.reply is not None:
            batch.reply(batch.answer())

    def _generation_exited(self, child: Child) -> None:
        """An exit of a reload's new generation (the handover notices) or of an old one that drained."""
        child.close_ready()
        if child in self.retiring and child.stop_sent:
            if not child.clean:
                self._say(
                    f"the old generation of {child.name!r} (pid {child.pid}) {child.describe_exit()} while draining"
                )
            elif self.verbosity >= 2:
                self._say(f"the old generation of {child.name!r} (pid {child.pid}) {child.describe_exit()}")

    # -- stopping ------------------------------------------------------------------------

    def _fail(self, code: int) -> None:
        if self.hooks:
            self.hooks.fail()
        if self.result is None:
            self.result = code
        self._stop()

    def _stop(self) -> None:
        if self.hooks and not self.stopping:
            self.hooks.stopping()  # readiness turns 503 before any child hears of the stop
        if self.systemd:  # systemd: STOPPING=1
            self.systemd.stopping()
        self.stopping = True
        self._close_listeners()  # ours only: each copy keeps its own until its drain ends
        now = time.monotonic()
        for handover in list(self.handovers):
            self._handover_failed(handover, "the supervisor is stopping")
        for child in self._everyone():
            child.restart_at = None
            child.request_stop(now)

    def _close_listeners(self) -> None:
        for child in self.children:
            for sock in (*child.spec.listeners, *child.spec.inherit):
                sock.close()

    def _exit_code(self) -> int:
        if self.result is not None:
            return self.result
        if self.held:  # a stop after a configuration exit is not a clean run: its code (78)
            return next(iter(self.held.values()))
        return self.stop_failures[0] if self.stop_failures else 0

    def _shutdown(self) -> None:
        """Leave nothing behind: kill what still runs, reap it, flush every pipe, restore signals."""
        try:
            for source in self._sources():
                source.close()
            self._close_listeners()
            for child in self._everyone():
                child.kill()
            deadline = time.monotonic() + REAP_GRACE
            while any(c.alive for c in self._everyone()) and time.monotonic() < deadline:
                self._reap()
                self._output()
                time.sleep(0.02)
            self._reap()
            for child in self._everyone():
                child.close_ready()
                for pipe in child.open_pipes():
                    pipe.drain()
                    pipe.close()
            self._output()
            deadline = time.monotonic() + FLUSH_GRACE
            for sink in (self.out, self.err):
                sink.flush_until(deadline)
            if self.hooks:
                self.hooks.tick({"stdout": self.out.dropped, "stderr": self.err.dropped})
        finally:
            self.out.close()
            self.err.close()
            self.inbox.restore()

    def _sources(self) -> list[RestartRequests]:
        return [c.policy.requests for c in self.children if c.policy.requests is not None]

    def _say(self, text: str, to: Sink | None = None, level: str = "info") -> None:
        sink = self.err if to is None else to
        if self.json_logs:
            sink.write(json_line(text, process=self.label, logger="prodserver.supervisor", level=level))
            return
        prefix = self.prefixers[1][self.label] or f"{self.label}: ".encode()
        sink.write(prefix + text.encode(errors="replace") + b"\n")
