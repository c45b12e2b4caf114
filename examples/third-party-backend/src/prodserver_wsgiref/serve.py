"""``python -m prodserver_wsgiref.serve APP``: a threaded wsgiref server that drains on SIGTERM."""

from __future__ import annotations

import argparse
import importlib
import signal
import threading
import time
from socketserver import ThreadingMixIn
from types import FrameType
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server


class ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = False  # server_close() waits for in-flight requests
    request_queue_size = 1024


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def load(app: str) -> Any:
    module, _, attr = app.partition(":")
    return getattr(importlib.import_module(module), attr or "application")


def main() -> None:
    parser = argparse.ArgumentParser(prog="prodserver_wsgiref.serve")
    parser.add_argument("app")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--drain-delay", type=float, default=2.0)
    parser.add_argument("--graceful-timeout", type=float, default=25.0)
    args = parser.parse_args()
    server = make_server(args.host, args.port, load(args.app), ThreadingWSGIServer, QuietHandler)

    def stop_later() -> None:
        time.sleep(args.drain_delay)  # keep accepting while the load balancer deregisters us
        server.shutdown()

    def on_term(signum: int, frame: FrameType | None) -> None:
        threading.Thread(target=stop_later, daemon=True).start()

    signal.signal(signal.SIGTERM, on_term)
    print(f"Serving on http://{args.host}:{args.port}", flush=True)
    server.serve_forever(poll_interval=0.1)
    server.server_close()  # joins request threads: nothing in flight is cut


if __name__ == "__main__":
    main()
