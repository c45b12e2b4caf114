"""Health checks shared by the container formats: the ops endpoint's HTTP paths. A web
process is healthy when ``/readyz/NAME`` says a real request through the app answered below
500 (a TCP connect would pass while every page answers 500); the export turns the endpoint on
in the containers when settings leave it off."""

from __future__ import annotations

from django_prodserver.export.model import ExportModel, ExportProcess

#: The ops endpoint's paths (docs/operations.md); ``/readyz/<name>`` per process.
STARTUP_PATH = "/startupz"
LIVE_PATH = "/livez"
READY_PATH = "/readyz/{name}"
#: The ops port a container export uses when settings configure none.
DEFAULT_OPS_PORT = 9191


def probe_argv(proc: ExportProcess) -> list[str]:
    """The readiness check a container runs inside itself (the ops endpoint's client)."""
    return ["python", "manage.py", "prodserver", "probe", "--ready", proc.name]


def check_kind(model: ExportModel, proc: ExportProcess) -> str:
    """``ops`` or ``none``: what the platform can ask this process."""
    return "ops" if model.ops is not None and not proc.oneshot else "none"


def ops_port(taken: set[int]) -> int:
    """The default ops port, or the next one no exported process publishes."""
    port = DEFAULT_OPS_PORT
    while port in taken:
        port += 1
    return port
