"""daphne's own command line, and prodserver's settings from the host plan; one entry for exec and in-process.

``python -m django_prodserver_daphne`` takes every ``daphne`` flag (parsed by daphne's own
parser); ``PRODSERVER_HOST_PLAN`` (see ``DaphneBackend.host_options``) gives the drain and
``workers`` (N copies on one socket bound here, see :mod:`django_prodserver.launch.supervisor.listeners`)
with ``max_requests`` (a copy stops itself after that many requests and is replaced), and it
serves with :class:`~django_prodserver_daphne.drain.DrainingServer`. Under prodserver's
supervisor it adopts the socket the supervisor owns (``PRODSERVER_LISTEN_FD``) instead of
binding, so a reload's next generation shares its accept queue.
"""

from __future__ import annotations

import importlib
import logging
import random
import socket
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

from django_prodserver.api import HostPlan

if TYPE_CHECKING:
    from django_prodserver.api import LaunchPlan

_LEVELS = {0: logging.WARNING, 1: logging.INFO, 2: logging.DEBUG, 3: logging.DEBUG}

#: Most of daphne's start, imported with this module (prodserver imports it before a reload's new
#: generation says it is ready, and copies fork with them): Twisted's HTTP and websocket stacks,
#: no reactor (twisted.internet.asyncioreactor is the module only; daphne.server installs one).
PRELOAD = (
    "daphne.http_protocol",
    "daphne.ws_protocol",
    "twisted.internet.asyncioreactor",
    "twisted.internet.endpoints",
)
for _name in PRELOAD:
    importlib.import_module(_name)


@dataclass(frozen=True)
class Own:
    """prodserver's settings for daphne, from the host plan (these defaults when run alone)."""

    drain_delay: float = 0.0
    graceful_timeout: float = 25.0
    workers: int = 1
    max_requests: int = 0
    max_requests_jitter: int = 0


def main(argv: Sequence[str]) -> int:
    """Parse like ``daphne`` and serve with the draining server; 0 after a requested stop."""
    from django_prodserver.api import listen_socket

    own, rest = HostPlan.from_environ().read(Own), list(argv)
    inherited = listen_socket()
    if own.workers > 1 or own.max_requests:
        return serve_copies(own, rest, inherited)
    if inherited is not None:
        rest = _adopt_endpoint(rest, inherited)
        inherited.detach()  # Twisted adopts the descriptor and closes it: this object must not close it again
    return serve(own, rest)


def serve_copies(own: Own, rest: list[str], inherited: socket.socket | None = None) -> int:
    """``--workers N``: bind the ``tcp:``/``-u`` endpoint here once (or take the supervisor's
    socket), fork N daphne copies that adopt it (``-e fd:fileno=...``), supervise them and
    drain them together."""
    from django_prodserver.api import bind_tcp, bind_unix, run_copies

    if inherited is not None:
        sock, rest = inherited, _adopt_endpoint(rest, inherited)
    else:
        sock, rest = _bind_endpoint(rest, bind_tcp, bind_unix)

    def copy() -> int:
        random.seed()  # each copy its own jitter
        return serve(own, rest)

    stop_timeout = own.drain_delay + own.graceful_timeout
    return run_copies("daphne", own.workers, copy, listeners=[sock], stop_timeout=stop_timeout)


def _bind_endpoint(rest: list[str], bind_tcp: Any, bind_unix: Any) -> tuple[socket.socket, list[str]]:
    """Bind the one ``-e tcp:...`` or ``-u PATH`` in ``rest``; return it and ``rest`` with an fd endpoint."""
    from .backend import read_endpoint  # the one reader of the endpoint string prodserver composes

    for i, token in enumerate(rest[:-1]):
        if token in ("-e", "--endpoint") and rest[i + 1].startswith("tcp:"):
            fields = read_endpoint(rest[i + 1])
            sock = bind_tcp(fields["host"], int(fields["port"]), int(fields.get("backlog", 50)))
            return sock, [*rest[:i], "-e", _fd_endpoint(sock), *rest[i + 2 :]]
        if token in ("-u", "--unix-socket"):
            sock = bind_unix(rest[i + 1], 2048)
            return sock, [*rest[:i], "-e", _fd_endpoint(sock), *rest[i + 2 :]]
    raise SystemExit("django_prodserver_daphne: --workers needs one tcp: endpoint (-e) or -u PATH to share")


def _adopt_endpoint(rest: list[str], sock: socket.socket) -> list[str]:
    """``rest`` with its ``tcp:``/``ssl:`` endpoint or ``-u PATH`` replaced by ``sock`` (the
    supervisor bound that address already); an ``ssl:`` endpoint keeps its TLS files."""
    for i, token in enumerate(rest[:-1]):
        value = rest[i + 1]
        if token in ("-e", "--endpoint") and value.startswith(("tcp:", "ssl:")):
            tls = value[len("ssl:") :] if value.startswith("ssl:") else ""
            return [*rest[:i], "-e", _fd_endpoint(sock, tls), *rest[i + 2 :]]
        if token in ("-u", "--unix-socket"):
            return [*rest[:i], "-e", _fd_endpoint(sock), *rest[i + 2 :]]
    raise SystemExit(
        "django_prodserver_daphne: PRODSERVER_LISTEN_FD is set but the command line names no tcp:/ssl: endpoint "
        "(-e) or -u PATH to serve on it; unset PRODSERVER_LISTEN_FD to bind as the command line says"
    )


def _fd_endpoint(sock: socket.socket, tls: str = "") -> str:
    """``fd:fileno=N:domain=INET|INET6|UNIX`` (see :func:`~.drain.server_from_string`); with
    ``tls`` (an ``ssl:`` endpoint's options) ``:tls=...`` after it, the rest of the string."""
    domain = {socket.AF_INET6: "INET6", getattr(socket, "AF_UNIX", -1): "UNIX"}.get(sock.family, "INET")
    return f"fd:fileno={sock.fileno()}:domain={domain}" + (f":tls={tls}" if tls else "")


def serve(own: Own, rest: list[str]) -> int:
    """One daphne server with prodserver's draining stop."""
    from daphne.cli import CommandLineInterface

    from .drain import DrainingServer

    server_class = type(
        "DrainingServer",
        (DrainingServer,),
        {
            "drain_delay": own.drain_delay,
            "graceful_timeout": own.graceful_timeout,
            "max_requests": own.max_requests + random.randint(0, own.max_requests_jitter) if own.max_requests else 0,
        },
    )
    cli = CommandLineInterface()
    cli.server_class = server_class
    verbosity = cli.parser.parse_known_args(rest)[0].verbosity
    # daphne's basicConfig is a no-op when Django's LOGGING already gave root a handler;
    # keep daphne's own lines (listening, drain) at the level asked for.
    logging.getLogger("daphne").setLevel(_LEVELS.get(verbosity, logging.DEBUG))
    try:
        cli.run(rest)
    except SystemExit as e:
        return int(e.code or 0) if not isinstance(e.code, str) else 1
    return 0


def run(plan: LaunchPlan) -> NoReturn:
    """The in-process host (``Backend.host``): the plan's argv and host plan, read as ``python -m`` would
    (the runner has put the plan's environment into this process')."""
    sys.exit(main(list(plan.args)))
