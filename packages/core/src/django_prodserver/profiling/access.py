"""Why a profiler cannot look into a process: the tool missing, ptrace refused, not Python."""

from __future__ import annotations

import os
import shutil
import sys

from django_prodserver.ops import procfs

INSTALL = 'pip install "django-prodserver[profile]"'


def tool(name: str) -> str | None:
    """The path of the ``name`` executable: beside this Python first (a virtualenv that is not
    on PATH), then on PATH."""
    beside = os.path.join(os.path.dirname(sys.executable), name)
    if os.access(beside, os.X_OK):
        return beside
    return shutil.which(name)


def missing(name: str) -> str:
    return f"{name} is not installed in this environment: {INSTALL} (or pip install {name})"


def ptrace_refusal() -> str | None:
    """Why this process may not ptrace another one (None: nothing known forbids it)."""
    scope = procfs.ptrace_scope()
    cap = procfs.has_capability(procfs.CAP_SYS_PTRACE)
    if scope == 3:
        return (
            "kernel.yama.ptrace_scope is 3: no process may attach to another until reboot; "
            "set it to 1 or lower on the host (sysctl kernel.yama.ptrace_scope=1) and reboot"
        )
    if scope in (1, 2) and cap is False:
        return (
            f"kernel.yama.ptrace_scope is {scope} and this process lacks CAP_SYS_PTRACE: run the command as "
            "root with that capability (in a container: add the SYS_PTRACE capability, e.g. "
            "docker run --cap-add SYS_PTRACE, or the Kubernetes debug overlay of "
            "prodserver export kubernetes --profiling), or set kernel.yama.ptrace_scope=0 on the host"
        )
    return None


def explain(pid: int, error: str) -> str:
    """One line for the user from a profiler's error output about ``pid``."""
    text = error.strip()
    low = text.lower()
    if not procfs.state(pid):
        return f"pid {pid} has exited"
    if "python version" in low or "python interpreter" in low or "failed to find python" in low:
        return f"pid {pid} is not a Python process ({procfs.command(pid)[:80]!r}): there is no Python stack to read"
    if "permission denied" in low or "operation not permitted" in low or "eperm" in low:
        owner = procfs.owner(pid)
        why = ptrace_refusal()
        if why is None and owner is not None and owner != os.getuid():
            why = f"pid {pid} belongs to uid {owner}, you are uid {os.getuid()}: run the command as that user or root"
        if why is None:
            why = "the container or security policy refuses ptrace: add the SYS_PTRACE capability"
        return f"cannot attach to pid {pid}: {why}"
    first = next((line for line in text.splitlines() if line.strip() and "backtrace" not in line.lower()), text)
    return f"pid {pid}: {first.strip()}"
