"""waitress' own command line, and prodserver's settings from the host plan; one entry for exec and in-process.

``python -m django_prodserver_waitress`` accepts every ``waitress-serve`` flag (parsed by
waitress' own option table, so upstream ``--key=value`` ARGS keep their meaning), in any
order around the app. What waitress lacks comes in ``PRODSERVER_HOST_PLAN`` (see
``WaitressBackend.host_options``): the drain, the access log, the log level, ``workers``
(N copies sharing one socket, see :mod:`django_prodserver.launch.supervisor.listeners`) and
``max_requests`` (a copy stops itself after that many requests and is replaced). Under
prodserver's supervisor it serves on the socket the supervisor owns (``PRODSERVER_LISTEN_FD``)
instead of binding, so a reload's next generation shares its accept queue.
"""

from __future__ import annotations

import getopt
import logging
import os
import pkgutil
import random
import socket
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

from waitress.adjustments import Adjustments, asbool

from django_prodserver.api import HostPlan

if TYPE_CHECKING:
    from django_prodserver.api import LaunchPlan


def waitress_params() -> list[tuple[str, Any]]:
    """waitress' option table: ``(name, cast)`` for every ``Adjustments`` field."""
    return list(Adjustments._params)


def long_options() -> list[str]:
    opts = ["help", "call"]
    for name, cast in waitress_params():
        flag = name.replace("_", "-")
        opts += [flag, f"no-{flag}"] if cast is asbool else [f"{flag}="]
    return opts


@dataclass
class Parsed:
    """waitress' keyword arguments from the command line, prodserver's settings from the host plan."""

    app: str
    adjustments: dict[str, Any]
    call: bool = False
    drain_delay: float = 0.0
    graceful_timeout: float = 25.0
    access_log: bool = False
    log_level: str = "info"
    workers: int = 1
    max_requests: int = 0
    max_requests_jitter: int = 0


class UsageError(Exception):
    """The command line is wrong; the message says how."""


def parse(argv: Sequence[str], plan: HostPlan | None = None) -> Parsed:
    """Parse like ``waitress-serve`` (``Adjustments.parse_args``), but GNU style: flags may
    follow the app, so native args appended after it still apply; the rest from ``plan``
    (default: the one in the environment)."""
    try:
        opts, args = getopt.gnu_getopt(list(argv), "", long_options())
    except getopt.GetoptError as e:
        raise UsageError(f"{e} (see python -m waitress --help)") from None
    if len(args) != 1:
        raise UsageError(f"expected exactly one MODULE:APP, found {args!r}")
    kw: dict[str, Any] = {}
    out = (plan or HostPlan.from_environ()).read(Parsed, app=args[0], adjustments=kw)
    casts = dict(waitress_params())
    for flag, value in opts:
        name = flag[2:].replace("-", "_")
        if name == "help":
            raise UsageError("waitress flags: python -m waitress --help")
        if name == "call":
            out.call = True
        elif name == "listen":
            kw["listen"] = f"{kw.get('listen', '')} {value}".strip()
        elif name.startswith("no_") and casts.get(name[3:]) is asbool:
            kw[name[3:]] = "false"
        elif casts.get(name) is asbool:
            kw[name] = "true"
        else:
            kw[name] = value
    return out


def load_app(parsed: Parsed) -> Any:
    """Import the WSGI app as waitress does (cwd on the path, ``pkgutil.resolve_name``)."""
    if os.getcwd() not in sys.path:
        sys.path.append(os.getcwd())
    app = pkgutil.resolve_name(parsed.app)
    return app() if parsed.call else app


def configure_logging(level: str) -> None:
    """What ``waitress-serve`` does (basicConfig, ``waitress`` logger at INFO), at ``level``."""
    logging.basicConfig()
    logging.getLogger("waitress").setLevel(level.upper())


def main(argv: Sequence[str]) -> int:
    """Serve until stopped; 0 after a requested stop, 2 on a usage error."""
    try:
        parsed = parse(argv)
    except UsageError as e:
        print(f"django_prodserver_waitress: {e}", file=sys.stderr)
        return 2
    app = load_app(parsed)  # sets Django up (and its LOGGING) before we touch logging
    configure_logging(parsed.log_level)
    inherited = take_inherited()
    if parsed.workers > 1 or parsed.max_requests:
        return serve_copies(app, parsed, inherited)
    if inherited is not None:
        parsed = Parsed(**{**parsed.__dict__, "adjustments": on_sockets(parsed.adjustments, [inherited])})
    return serve(app, parsed)


def take_inherited() -> socket.socket | None:
    """The supervisor's listening socket, now this process' only copy of it (None: bind as usual).

    The inherited descriptor is closed once copied: when the drain closes its listener, nothing
    here keeps the address open (a full stop then refuses, it does not queue for no one)."""
    from django_prodserver.api import LISTEN_FD_ENV, listen_fd, listen_socket

    fd = listen_fd()
    sock = listen_socket()
    if fd is None or sock is None:
        return None
    os.close(fd)
    os.environ.pop(LISTEN_FD_ENV, None)  # names a closed descriptor now
    return sock


def on_sockets(adjustments: dict[str, Any], sockets: list[socket.socket]) -> dict[str, Any]:
    """waitress' keywords to serve on ``sockets`` instead of binding (it refuses both at once);
    a Unix socket gets the permissions waitress would have given it."""
    from waitress.adjustments import Adjustments

    kw = dict(adjustments)
    adj = Adjustments(**kw)
    for sock in sockets:
        if sock.family == getattr(socket, "AF_UNIX", None) and adj.unix_socket_perms:
            os.chmod(sock.getsockname(), adj.unix_socket_perms)
    for key in ("listen", "host", "port", "unix_socket", "unix_socket_perms"):
        kw.pop(key, None)
    kw["sockets"] = sockets
    return kw


def serve(app: Any, parsed: Parsed) -> int:
    """One waitress server with prodserver's draining stop."""
    from waitress.server import create_server

    from ._accesslog import AccessLogMiddleware, access_logger
    from .drain import DrainingRunner

    counter = None
    if parsed.max_requests:
        limit = parsed.max_requests + random.randint(0, parsed.max_requests_jitter)
        app = counter = RequestCounter(app, limit)
    if parsed.access_log:
        app = AccessLogMiddleware(app, access_logger())
    server = create_server(app, **parsed.adjustments)
    runner = DrainingRunner(server, drain_delay=parsed.drain_delay, graceful_timeout=parsed.graceful_timeout)
    if counter is not None:
        counter.on_limit = runner.recycle
    runner.install_signal_handlers()
    server.print_listen("Serving on http://{}:{}")
    return runner.run()


def serve_copies(app: Any, parsed: Parsed, inherited: socket.socket | None = None) -> int:
    """``--workers=N``: bind once here (or take the supervisor's socket), fork N draining
    servers on that socket, supervise them."""
    from waitress.adjustments import Adjustments

    from django_prodserver.api import bind_tcp, bind_unix, run_copies

    adj = Adjustments(**parsed.adjustments)
    backlog = int(adj.backlog)
    if inherited is not None:
        sockets = [inherited]
    elif adj.unix_socket:
        sockets = [bind_unix(adj.unix_socket, backlog)]
    else:
        sockets = [bind_tcp(str(addr[0]), int(addr[1]), backlog) for _, _, _, addr in adj.listen]
    kw = on_sockets(parsed.adjustments, sockets)

    def copy() -> int:
        random.seed()  # each copy its own jitter
        return serve(app, Parsed(**{**parsed.__dict__, "adjustments": kw, "workers": 1}))

    stop_timeout = parsed.drain_delay + parsed.graceful_timeout
    return run_copies("waitress", parsed.workers, copy, listeners=sockets, stop_timeout=stop_timeout)


class RequestCounter:
    """WSGI wrapper that calls ``on_limit`` once, when the ``limit``-th request starts."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit
        self.count = 0
        self.lock = threading.Lock()
        self.on_limit: Callable[[], None] = lambda: None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        with self.lock:
            self.count += 1
            reached = self.count == self.limit
        if reached:
            self.on_limit()
        return self.app(environ, start_response)


def run(plan: LaunchPlan) -> NoReturn:
    """The in-process host (``Backend.host``): the plan's argv and host plan, read as ``python -m`` would
    (the runner has put the plan's environment into this process')."""
    sys.exit(main(list(plan.args)))
