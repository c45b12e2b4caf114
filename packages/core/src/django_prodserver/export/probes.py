"""Health checks shared by the container formats: the ops endpoint when configured, else a
TCP connect to the web port, else none (a worker without the ops endpoint has nothing to ask)."""

from __future__ import annotations

from django_prodserver.export.model import ExportModel, ExportProcess

#: The ops endpoint's paths (issue "Operability I"); ``/readyz/<name>`` per process.
STARTUP_PATH = "/startupz"
LIVE_PATH = "/livez"
READY_PATH = "/readyz/{name}"


def probe_argv(proc: ExportProcess) -> list[str]:
    """The readiness check a container runs inside itself (the ops endpoint's client)."""
    return ["python", "manage.py", "prodserver", "probe", "--ready", proc.name]


def tcp_check_argv(port: int) -> list[str]:
    """A health check that needs no curl in the image: a socket connect from Python."""
    code = f"import socket; socket.create_connection(('127.0.0.1', {port}), 3).close()"
    return ["python", "-c", code]


def check_kind(model: ExportModel, proc: ExportProcess) -> str:
    """``ops``, ``tcp`` or ``none``: what the platform can ask this process."""
    if model.ops is not None:
        return "ops"
    return "tcp" if proc.serves_http else "none"
