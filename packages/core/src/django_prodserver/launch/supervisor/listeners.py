"""``workers`` for single-process servers: copies forked from the process that bound the socket.

waitress and daphne serve from one process. For ``workers: N`` their host binds the listening
socket once and runs N copies of itself as children of the supervisor (a ``copies`` child spec):
each copy is a fork that inherits the socket, is restarted by the supervisor's policy, has its
output prefixed and hears the stop like any other child. A copy that exits 0 on its own has
recycled itself (``max_requests``) and is started again at once; the socket stays open here
meanwhile, so connections wait in its queue and none is refused.

One inherited socket rather than ``SO_REUSEPORT``: with a shared socket there is one accept
queue, so a connection waiting in it is taken by whichever copy is free, and a copy that dies
or stops early leaves nothing behind; with ``SO_REUSEPORT`` the kernel hashes each connection
to one copy's own queue, and the connections queued at a copy that dies are reset. The copies
stop listening one by one during a drain while the others still accept, so the queue empties.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Sequence

from django_prodserver.launch.supervisor.child import ChildSpec
from django_prodserver.launch.supervisor.core import Supervisor


def bind_tcp(host: str, port: int, backlog: int) -> socket.socket:
    """Bind and listen once, in the parent, so that every copy accepts from this socket."""
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host.strip("[]"), port))
    sock.listen(backlog)
    return sock


def bind_unix(path: str, backlog: int) -> socket.socket:
    """Bind a Unix socket (a stale file from a previous run is replaced)."""
    if os.path.exists(path):
        os.unlink(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(path)
    sock.listen(backlog)
    return sock


def run_copies(
    name: str, count: int, serve: Callable[[], object], *, listeners: Sequence[socket.socket], stop_timeout: float
) -> int:
    """Supervise ``count`` forks of this process, each running ``serve()`` on ``listeners``, until
    stopped; returns the supervisor's exit code (0 after a requested stop).

    ``name`` prefixes their lines (``name.1`` ...; the process' own name in JSON mode);
    ``stop_timeout`` is how long a copy may take to drain before it is killed."""
    from django_prodserver.logs import PROCESS_ENV
    from django_prodserver.logs.setup import json_enabled

    spec = ChildSpec(
        name=os.environ.get(PROCESS_ENV) or name,
        argv=(),  # every start forks: the app is loaded here already
        env=dict(os.environ),
        cwd=os.getcwd(),
        graceful_timeout=stop_timeout,
        first_run=serve,
        own_session=False,  # in our process group, as the server's own workers would be
        copies=count,
        listeners=listeners,
        recycles=True,
    )
    return Supervisor([spec], json_logs=json_enabled(), label=spec.name).run()
