"""One supervised process: how to start it (argv, env, cwd, own process group) and its live state.
Exit statuses come from the supervisor's single ``waitpid`` loop, never from ``Popen.wait``."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from django_prodserver.handover import READY_FD_ENV, READY_LINE
from django_prodserver.launch.supervisor import deathsig
from django_prodserver.launch.supervisor.output import LineStream, Pipe, Sink
from django_prodserver.launch.supervisor.policies import ExitPolicy, Recycling, for_settings
from django_prodserver.launch.supervisor.signals import send
from django_prodserver.ops.procfs import tree
from django_prodserver.settings.restart import Policy, describe_status, ended_by, exit_code

#: After a child's graceful timeout, how long it may take to exit before its group is killed: a
#: server ends its requests at its own deadline and exits a moment later (0.1-0.6 s measured on a
#: loaded 2-core machine), which a kill at the deadline itself turned into exit 137.
EXIT_GRACE = 1.0


@dataclass(frozen=True)
class ChildSpec:
    """Everything needed to start and stop one process; argv is a list, never a shell line."""

    name: str
    argv: Sequence[str]
    env: Mapping[str, str]
    cwd: str
    stop_signal: int = signal.SIGTERM
    signal_group: bool = False
    graceful_timeout: float = 30.0
    #: The RESTART/ONESHOT settings (each child builds its policy object from them), or a policy
    #: object with a job of its own (devserver's restart on code changes).
    policy: Policy | ExitPolicy = field(default_factory=Policy)
    #: What it is and where it listens, for the "started" line (``gunicorn on http://...``).
    what: str = ""
    #: Run in a fork of this process for the first start instead of spawning ``argv`` (one process
    #: with the ops endpoint: no second Django setup, pages shared); restarts spawn ``argv``, or
    #: fork again when ``argv`` is empty (copies of a server that loaded its app here).
    first_run: Callable[[], object] | None = None
    #: A session and process group of its own (Ctrl-C in a terminal reaches only us). False keeps it
    #: in ours, so a SIGKILL to our group reaches it too; "its group" then means its descendants.
    own_session: bool = True
    #: Our stdin, stdout and stderr as they are instead of prefixed pipes (one reloaded process:
    #: the server sees the terminal, colours and all).
    share_stdio: bool = False
    #: Run this many copies, each a child of its own (named ``name.1`` ... ``name.N``): restarted,
    #: stopped and prefixed like any child.
    copies: int = 1
    #: Which copy this is (set by :func:`expand`); 0 for a spec that is not copied.
    copy: int = 0
    #: Listening sockets bound here that the copies inherit. We keep ours open while any copy runs
    #: (a queued connection waits for a replacement instead of being refused), release the hold a
    #: stopped copy left on them before each start, and close ours when the stop begins.
    listeners: Sequence[socket.socket] = ()
    #: An exit 0 of its own is a recycle (``max_requests``): started again at once, outside the
    #: restart budget; SIGHUP replaces it gracefully.
    recycles: bool = False
    #: The backend's name, for ``prodserver status``.
    backend: str = ""
    #: Listening sockets the supervisor owns for this process: every start inherits them (its
    #: env names the descriptor, ``PRODSERVER_LISTEN_FD``), so the address stays open across
    #: restarts and reloads. Closed here when the stop begins.
    inherit: Sequence[socket.socket] = ()
    #: The process says when it is ready on a pipe (``PRODSERVER_READY_FD``; prodserver's own
    #: in-process launch does): a reload waits for that line before the old generation stops.
    announces: bool = False
    #: It listens on an address of its own (a web server not on an inherited socket): a second
    #: generation could not bind beside it, so a reload restarts it instead.
    binds: bool = False
    #: Never two at once (a scheduler: two would send every task twice): a reload restarts it.
    single: bool = False
    #: The line a process that does not announce prints once it is ready (a worker's "ready"
    #: line, ``ReadyProbe.log_line``): a reload waits for it before the old generation stops.
    ready_line: str = ""
    #: Replace it by a new generation (a reload) after this many seconds, or once one of its
    #: processes uses more resident memory than ``max_memory`` bytes; 0: never.
    max_lifetime: float = 0.0
    max_memory: int = 0


def expand(spec: ChildSpec) -> list[ChildSpec]:
    """The children of one spec: itself, or its ``copies`` numbered from 1."""
    if spec.copies <= 1:
        return [spec]
    return [replace(spec, copies=1, copy=i) for i in range(1, spec.copies + 1)]


def _interpreter_exit() -> None:
    """What a normal exit of Python does, for a forked child that must not unwind into the
    supervisor: wait for non-daemon threads, run atexit (multiprocessing joins its children
    there: qcluster's main process returns and lets atexit wait for the cluster), flush."""
    import atexit
    import threading

    for step in (getattr(threading, "_shutdown", None), getattr(atexit, "_run_exitfuncs", None)):
        try:
            if step is not None:
                step()
        except BaseException as e:  # a failing exit hook must not keep the process alive
            print(f"prodserver: exit hook failed: {type(e).__name__}: {e}", file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()


class Child:
    """The running (or waiting, or finished) instance of a :class:`ChildSpec`."""

    def __init__(self, spec: ChildSpec) -> None:
        self.spec = spec
        self.policy = for_settings(spec.policy)
        if spec.recycles:
            self.policy = Recycling(self.policy)
        self.popen: subprocess.Popen[bytes] | None = None
        self.pid = 0
        self.pipes: list[Pipe] = []
        self.status: int | None = None
        self.restart_at: float | None = None
        self.stop_deadline: float | None = None
        self.stop_sent = False
        #: Stopped by a restart request: start again once it has exited, whatever its status.
        self.restart_requested = False
        self.starts = 0
        #: Read end of this start's ready pipe (None: closed, or the process does not announce).
        self.ready_fd: int | None = None
        #: When this start said it is ready (monotonic), None until then.
        self.announced_at: float | None = None
        self._ready_buf = b""

    @property
    def name(self) -> str:
        """Its name in our lines and its prefix: the spec's, numbered for a copy."""
        return f"{self.spec.name}.{self.spec.copy}" if self.spec.copy else self.spec.name

    @property
    def alive(self) -> bool:
        return self.pid != 0 and self.status is None

    def start(
        self, prefixes: tuple[bytes, bytes], out: Sink, err: Sink, in_fork: Callable[[], None] | None = None
    ) -> None:
        """Spawn in a new session (its own process group); stdout/stderr come back via pipes.

        ``in_fork`` runs first in a forked child (close the supervisor's fds, reset signals)."""
        self.status = None
        self.stop_sent = False
        self.stop_deadline = None
        self.restart_at = None
        self.restart_requested = False
        self.pipes = []
        self.close_ready()
        self.announced_at = None
        extra: dict[str, str] = {}
        ready_w: int | None = None
        if self.spec.announces:
            self.ready_fd, ready_w = os.pipe()
            extra[READY_FD_ENV] = str(ready_w)
        try:
            if self.spec.share_stdio:
                self._spawn(None, None, None, extra, ready_w)
                return
            out_r, out_w = os.pipe()
            err_r, err_w = os.pipe()
            try:
                if self.spec.first_run is not None and (self.starts == 0 or not self.spec.argv):
                    self._fork(out_r, out_w, err_r, err_w, in_fork, extra)
                else:
                    self._spawn(subprocess.DEVNULL, out_w, err_w, extra, ready_w)
            except BaseException:
                for fd in (out_r, err_r):
                    os.close(fd)
                raise
            finally:
                for fd in (out_w, err_w):  # the child holds its own copies: EOF comes when it (and its kids) exit
                    os.close(fd)
            self.pipes = [Pipe(out_r, LineStream(prefixes[0]), out), Pipe(err_r, LineStream(prefixes[1]), err)]
        except BaseException:
            self.close_ready()
            raise
        finally:
            if ready_w is not None:
                os.close(ready_w)

    def read_ready(self, now: float) -> None:
        """Read the ready pipe (select said it is readable): the ready line, or EOF."""
        if self.ready_fd is None:
            return
        try:
            data = os.read(self.ready_fd, 64)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        self._ready_buf += data
        if READY_LINE in self._ready_buf:
            self.announced_at = now
        if not data or self.announced_at is not None:
            self.close_ready()

    def close_ready(self) -> None:
        if self.ready_fd is not None:
            try:
                os.close(self.ready_fd)
            except OSError:
                pass
        self.ready_fd = None
        self._ready_buf = b""

    def _spawn(
        self,
        stdin: int | None,
        stdout: int | None,
        stderr: int | None,
        extra: Mapping[str, str] | None = None,
        ready_w: int | None = None,
    ) -> None:
        fds = [s.fileno() for s in self.spec.inherit if s.fileno() >= 0]
        if ready_w is not None:
            fds.append(ready_w)
        self.popen = subprocess.Popen(  # argv list from the plan, never a shell
            list(self.spec.argv),
            cwd=self.spec.cwd,
            env={**self.spec.env, **(extra or {})},
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            start_new_session=self.spec.own_session,
            close_fds=True,
            pass_fds=fds,
            # Dies with us: its own graceful stop (the stop signal) if we are SIGKILLed or OOM-killed.
            preexec_fn=deathsig.preexec(self.spec.stop_signal),
        )
        self.pid = self.popen.pid
        self.starts += 1

    def _fork(
        self,
        out_r: int,
        out_w: int,
        err_r: int,
        err_w: int,
        in_fork: Callable[[], None] | None,
        extra: Mapping[str, str] | None = None,
    ) -> None:
        """The first start of a ``first_run`` child: fork, and run it in the child (never returns there)."""
        assert self.spec.first_run is not None
        sys.stdout.flush()
        sys.stderr.flush()
        parent = os.getpid()
        pid = os.fork()
        if pid:
            self.pid = pid
            self.starts += 1
            return
        code = 1
        try:  # the child: never return into the supervisor
            if self.spec.own_session:
                os.setsid()
            deathsig.die_with_parent(self.spec.stop_signal, parent)
            deathsig.watch_parent(self.spec.stop_signal, parent)
            devnull = os.open(os.devnull, os.O_RDONLY)
            os.dup2(devnull, 0)
            os.dup2(out_w, 1)
            os.dup2(err_w, 2)
            for fd in (devnull, out_r, out_w, err_r, err_w):
                os.close(fd)
            if in_fork is not None:
                in_fork()
            os.chdir(self.spec.cwd)
            os.environ.clear()
            os.environ.update(self.spec.env)
            os.environ.update(extra or {})
            self.spec.first_run()
            code = 0
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        except BaseException:
            import traceback

            traceback.print_exc()
        finally:
            try:
                _interpreter_exit()
            finally:
                os._exit(code)

    def exited(self, status: int) -> None:
        """Record the wait status from the reaper; Popen must not try to reap it again."""
        self.status = status
        if self.popen is not None:
            self.popen.returncode = exit_code(status)
        # Whatever is left of its process group (orphaned workers) would hold ports: kill it. (In
        # our group, its orphans went to init and its pid may be reused: nothing to aim at.)
        if self.spec.own_session:
            send(self.pid, signal.SIGKILL, group=True)
        for pipe in self.pipes:
            pipe.drain()

    def request_stop(self, now: float) -> None:
        """Send the backend's graceful signal once, the way it needs it; start its timeout."""
        if not self.alive or self.stop_sent:
            return
        self.stop_sent = True
        self.stop_deadline = now + self.spec.graceful_timeout + EXIT_GRACE
        self._send(self.spec.stop_signal, group=self.spec.signal_group)

    def kill(self) -> None:
        """SIGKILL the whole process group (also the main PID, in case it left the group)."""
        if self.alive:
            self._send(signal.SIGKILL, group=True)
            send(self.pid, signal.SIGKILL, group=False)

    def _send(self, sig: int, *, group: bool) -> None:
        """``sig`` to the main process, or to its group: the process group, or (in ours) its tree."""
        if group and not self.spec.own_session:
            for pid in tree(self.pid):  # pool workers first found, main process included
                send(pid, sig, group=False)
        else:
            send(self.pid, sig, group=group)

    def forward(self, sig: int) -> None:
        if self.alive:
            send(self.pid, sig, group=False)

    @property
    def exit_code(self) -> int:
        return exit_code(self.status) if self.status is not None else 0

    @property
    def clean(self) -> bool:
        """Exit 0, or ended by the stop signal we sent (uvicorn re-raises SIGTERM: 143)."""
        if self.status is None:
            return False
        if exit_code(self.status) == 0:
            return True
        return self.stop_sent and ended_by(self.status, self.spec.stop_signal)

    def describe_exit(self) -> str:
        return describe_status(self.status) if self.status is not None else "running"

    def open_pipes(self) -> list[Pipe]:
        return [p for p in self.pipes if not p.closed]
