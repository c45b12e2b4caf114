"""Before devserver restarts a web process: import the new code in a fresh interpreter first.

A broken edit (a syntax error in a view) then leaves the running process serving instead of a
dead port; the check's traceback is printed once and the next save is checked again."""

from __future__ import annotations

import importlib
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence

#: The check's last line when the code imports. The verdict is read from the output, not the exit
#: status: the supervisor reaps every child of its process (``waitpid(-1)``), ours included, and
#: then ``subprocess`` reports 0 for a check that failed.
PASSED = "devserver check: the new code imports"
#: Seconds a check may take (Django starting, the URLconf and views importing) before it fails.
CHECK_TIMEOUT = 60.0


def import_code(interface: str) -> int:
    """In the check interpreter (Django set up by ``python -m django``): import the URLconf, every
    view module it names and the application module; print the traceback and return 1 on failure."""
    import traceback

    from django.conf import settings
    from django.urls import get_resolver

    paths = [getattr(settings, "WSGI_APPLICATION", None)]
    if interface == "asgi":
        paths.append(getattr(settings, "ASGI_APPLICATION", None))
    try:
        get_resolver().url_patterns  # noqa: B018 - imports ROOT_URLCONF and every view module it names
        for path in filter(None, paths):
            importlib.import_module(str(path).replace(":", ".").rpartition(".")[0])
    except Exception:
        traceback.print_exc()
        return 1
    print(PASSED, flush=True)
    return 0


class CodeCheck:
    """``argv`` (a ``python -m django`` that imports the code) run with the served process' env
    and cwd; :meth:`run` blocks its caller (a watcher thread), :meth:`cancel` ends it by PID."""

    def __init__(
        self, argv: Sequence[str], env: Mapping[str, str], cwd: str, *, timeout: float = CHECK_TIMEOUT
    ) -> None:
        self.argv = list(argv)
        self.env = dict(env)
        self.cwd = cwd
        self.timeout = timeout
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._cancelled = False

    def run(self) -> str | None:
        """None when the new code imports; else what the check printed (its traceback)."""
        with self._lock:
            if self._cancelled:
                return None
            try:
                self._proc = subprocess.Popen(
                    self.argv,
                    env=self.env,
                    cwd=self.cwd,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                )
            except OSError as e:
                return f"cannot start the check {self.argv[:4]}: {e}"
        proc = self._proc
        try:
            output, _ = proc.communicate(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            output, _ = proc.communicate()
            return output.decode(errors="replace") + f"the check did not finish within {self.timeout:g}s"
        finally:
            with self._lock:
                self._proc = None
        text = output.decode(errors="replace").rstrip()
        if PASSED in text.splitlines() or self._cancelled:
            return None
        return text or "the check ended without a word (killed?)"

    def cancel(self) -> None:
        """Stop a running check (we are stopping): SIGKILL to its PID, no further check starts."""
        with self._lock:
            self._cancelled = True
            if self._proc is not None and self._proc.poll() is None:
                self._proc.send_signal(signal.SIGKILL)


def check_argv(process: str, interface: str) -> list[str]:
    """``python -m django devserver NAME --check-code INTERFACE``: sets Django up, then :func:`import_code`."""
    return [sys.executable, "-m", "django", "devserver", process, "--check-code", interface, "--skip-checks"]
