"""Signals into the supervisor's event loop: handlers only record the signal and wake ``select``,
so all real work happens in one place; installed handlers also make us safe as PID 1."""

from __future__ import annotations

import os
import signal
from collections import deque
from types import FrameType
from typing import Any

#: Start a graceful stop. Idempotent: SIGTERM again (orchestrators and scripts send it twice)
#: keeps the stop graceful, as gunicorn and uvicorn do.
STOP = (signal.SIGTERM, signal.SIGINT)
#: A second one of these (Ctrl-C twice) stops at once, as uvicorn's second SIGINT does.
AGAIN_KILLS = (signal.SIGINT,)
#: Stop at once: SIGKILL every process group.
KILL_NOW = (signal.SIGQUIT,)
#: Passed on, once, to each running child's main process.
FORWARD = (signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2, signal.SIGTTIN, signal.SIGTTOU)
#: Only wakes the loop so that it reaps at once.
WAKE = (signal.SIGCHLD,)


class SignalInbox:
    """Installs our handlers, queues what arrives and exposes a fd that becomes readable then."""

    def __init__(self) -> None:
        self.pending: deque[int] = deque()
        self._read_fd, self._write_fd = os.pipe()
        os.set_blocking(self._read_fd, False)
        os.set_blocking(self._write_fd, False)
        self._saved: dict[int, Any] = {}
        self._saved_wakeup = -1

    @property
    def fd(self) -> int:
        return self._read_fd

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.pending.append(signum)

    def install(self) -> None:
        self._saved_wakeup = signal.set_wakeup_fd(self._write_fd, warn_on_full_buffer=False)
        for sig in (*STOP, *KILL_NOW, *FORWARD, *WAKE):
            self._saved[sig] = signal.signal(sig, self._handle)
            # Restart interrupted system calls; the wakeup fd still tells select() to return.
            signal.siginterrupt(sig, False)

    def take(self) -> list[int]:
        """Signals received since the last call, in order; also empties the wakeup pipe."""
        try:
            while os.read(self._read_fd, 512):
                pass
        except (BlockingIOError, OSError):
            pass
        out: list[int] = []
        while True:  # one at a time: a handler running between a copy and a clear() would be lost
            try:
                out.append(self.pending.popleft())
            except IndexError:
                return out

    def restore(self) -> None:
        for sig, handler in self._saved.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
        self._saved.clear()
        signal.set_wakeup_fd(self._saved_wakeup)
        for fd in (self._read_fd, self._write_fd):
            try:
                os.close(fd)
            except OSError:  # pragma: no cover
                pass


def send(pid: int, sig: int, *, group: bool) -> bool:
    """Signal a process (or its whole process group); False when nothing was there any more."""
    try:
        if group:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover - a recycled pid of another user
        return False
    return True
