"""Children die with their supervisor: ``PR_SET_PDEATHSIG`` on Linux, a parent-pid watchdog
thread elsewhere (forked children only); so a SIGKILLed or OOM-killed supervisor leaves no
server holding its ports."""

from __future__ import annotations

import ctypes
import os
import sys
import threading
from collections.abc import Callable

#: linux/prctl.h
PR_SET_PDEATHSIG = 1
#: How often the watchdog looks at its parent pid where the kernel cannot tell it.
WATCH_EVERY = 1.0


def _load_prctl() -> Callable[..., int] | None:
    """libc's prctl, resolved once at import: a forked child must look nothing up (no locks)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # pragma: no cover - a libc without prctl
        return None
    prctl.argtypes = (ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong)
    prctl.restype = ctypes.c_int
    return prctl  # type: ignore[no-any-return]


_PRCTL = _load_prctl()


def kernel_tells() -> bool:
    """True where the kernel signals a child when its parent dies (Linux)."""
    return _PRCTL is not None


def die_with_parent(sig: int, parent: int) -> None:
    """In a just-forked child, before exec: get ``sig`` when ``parent`` (the thread that forked
    us) dies. It may have died already, between the fork and now: then ``sig`` comes at once.

    The setting survives exec, except of a setuid/setgid program (the kernel clears it there)."""
    if _PRCTL is None:
        return
    if _PRCTL(PR_SET_PDEATHSIG, sig, 0, 0, 0) != 0:  # pragma: no cover - a valid signal never fails
        err = ctypes.get_errno()
        raise OSError(err, f"prctl(PR_SET_PDEATHSIG): {os.strerror(err)}")
    if os.getppid() != parent:
        os.kill(os.getpid(), sig)


def watch_parent(sig: int, parent: int) -> None:
    """Where the kernel cannot (not Linux), in a forked child that runs Python: a daemon thread
    that sends us ``sig`` once our parent pid is no longer ``parent`` (we were re-parented)."""
    if _PRCTL is not None:
        return

    def watch() -> None:
        stop = threading.Event()
        while not stop.wait(WATCH_EVERY):
            if os.getppid() != parent:
                os.kill(os.getpid(), sig)
                return

    threading.Thread(target=watch, name="prodserver-parent-watch", daemon=True).start()


def preexec(sig: int) -> Callable[[], None] | None:
    """The ``preexec_fn`` for ``Popen``: the death signal set in the child, or None where the kernel
    has none (an exec'd program cannot carry our watchdog thread)."""
    if _PRCTL is None:
        return None
    parent = os.getpid()
    return lambda: die_with_parent(sig, parent)


__all__ = ["die_with_parent", "kernel_tells", "preexec", "watch_parent"]
