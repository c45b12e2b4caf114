"""The in-process host, ``run(plan)``, and ``python -m prodserver_wsgiref APP``: one serve loop.

prodserver calls ``run(plan)`` in the ``manage.py`` process (Django is set up once); ``--dry-run``
shows the same argv as ``python -m prodserver_wsgiref`` and the environment it runs with: the
options come in ``PRODSERVER_HOST_PLAN`` (``WsgirefBackend.host_options``), read with ``HostPlan``.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from socketserver import ThreadingMixIn
from typing import TYPE_CHECKING, Any, NoReturn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from django_prodserver.api import HostPlan, host_port

from .drain import drain_on_sigterm, finish

if TYPE_CHECKING:
    from django_prodserver.api import LaunchPlan


class ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = False  # server_close() waits for in-flight requests
    request_queue_size = 1024


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def load(app: str) -> Any:
    module, _, attr = app.partition(":")
    return getattr(importlib.import_module(module), attr or "application")


@dataclass(frozen=True)
class Settings:
    """What the host plan gives (these defaults when ``python -m prodserver_wsgiref`` runs alone)."""

    host: str = "127.0.0.1"
    port: int = 8000
    drain_delay: float = 2.0
    graceful_timeout: float = 25.0


def main(argv: Sequence[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m prodserver_wsgiref MODULE:APP", file=sys.stderr)
        return 2
    own = HostPlan.from_environ().read(Settings)
    server = make_server(own.host, own.port, load(argv[0]), ThreadingWSGIServer, QuietHandler)
    drain_on_sigterm(server, own.drain_delay, own.graceful_timeout)
    print(f"Serving on http://{host_port(own.host, own.port)}", flush=True)
    server.serve_forever(poll_interval=0.1)
    server.server_close()  # joins request threads: nothing in flight is cut before the deadline
    finish(server)
    return 0


def run(plan: LaunchPlan) -> NoReturn:
    """The host prodserver calls (``WsgirefBackend.host``): the plan's argv and environment, in this process."""
    sys.exit(main(plan.args))
