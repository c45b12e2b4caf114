"""The in-process host, ``run(plan)``, and ``python -m prodserver_wsgiref APP``: one parser, one serve loop.

prodserver calls ``run(plan)`` in the ``manage.py`` process (Django is set up once); ``--dry-run``
shows the same argv as ``python -m prodserver_wsgiref``, which runs the same code.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from socketserver import ThreadingMixIn
from typing import TYPE_CHECKING, Any, NoReturn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

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


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m prodserver_wsgiref")
    parser.add_argument("app")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--drain-delay", type=float, default=2.0)
    parser.add_argument("--graceful-timeout", type=float, default=25.0)
    args = parser.parse_args(list(argv))
    server = make_server(args.host, args.port, load(args.app), ThreadingWSGIServer, QuietHandler)
    drain_on_sigterm(server, args.drain_delay, args.graceful_timeout)
    print(f"Serving on http://{args.host}:{args.port}", flush=True)
    server.serve_forever(poll_interval=0.1)
    server.server_close()  # joins request threads: nothing in flight is cut before the deadline
    finish(server)
    return 0


def run(plan: LaunchPlan) -> NoReturn:
    """The host prodserver calls (``WsgirefBackend.host``): the plan's argv, in this process."""
    sys.exit(main(plan.args))
