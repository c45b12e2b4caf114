"""Per-request cost of the access log itself, in one process: microseconds added to a request.

Deterministic next to the HTTP benchmarks (no server, no client, no scheduler): a trivial WSGI
app and ASGI app are called N times bare and N times behind the access log, with the output
going to /dev/null; the cost is the difference per request (best of --repeat). Three layers:
prodserver's JSON access layer (WSGI and ASGI, every server in ``log_format`` json) and the
waitress wrapper's plain access line. Each is measured for this checkout and for the code of
``--baseline`` (a git ref, default main) in child processes, so the two are compared in one run.

    python benchmarks/access_log_layer.py [--baseline main] [--requests 20000] [--repeat 7]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import timeit
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("packages/core/src", "packages/backend-waitress/src")


class Body:
    """A Django-like response body: one chunk, and close()."""

    def __init__(self) -> None:
        self.chunk = b'{"ok": true}'

    def __iter__(self):  # type: ignore[no-untyped-def]
        yield self.chunk

    def close(self) -> None:
        pass


def wsgi_app(environ, start_response):  # type: ignore[no-untyped-def]
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", "12")])
    return Body()


async def asgi_app(scope, receive, send):  # type: ignore[no-untyped-def]
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": b'{"ok": true}'})


ENVIRON = {
    "REQUEST_METHOD": "GET",
    "SCRIPT_NAME": "",
    "PATH_INFO": "/log/",
    "QUERY_STRING": "",
    "SERVER_PROTOCOL": "HTTP/1.1",
    "REMOTE_ADDR": "127.0.0.1",
    "HTTP_USER_AGENT": "wrk/4.2",
    "prodserver.request_id": "0123456789abcdef0123456789abcdef",
}
SCOPE = {
    "type": "http",
    "method": "GET",
    "path": "/log/",
    "root_path": "",
    "client": ("127.0.0.1", 40000),
    "headers": [(b"host", b"127.0.0.1"), (b"user-agent", b"wrk/4.2"), (b"accept", b"*/*")],
    "prodserver.request_id": "0123456789abcdef0123456789abcdef",
}


def wsgi_call(app):  # type: ignore[no-untyped-def]
    def one() -> None:
        body = app(dict(ENVIRON), lambda status, headers, exc_info=None: None)
        for _ in body:
            pass
        body.close()

    return one


def asgi_calls(app, n: int):  # type: ignore[no-untyped-def]
    async def send(message) -> None:  # type: ignore[no-untyped-def]
        pass

    async def loop() -> None:
        for _ in range(n):
            await app(dict(SCOPE), None, send)

    return lambda: asyncio.run(loop())


def child(requests: int, repeat: int) -> dict[str, float]:
    """In a process whose sys.path has one version of the code: µs per request per layer."""
    import logging

    from django_prodserver.logs import access
    from django_prodserver.logs.formatter import JsonFormatter

    devnull = open(os.devnull, "w")
    fmt = JsonFormatter(process="web")
    log = logging.getLogger(access.LOGGER)
    make = getattr(access, "access_handler", None)
    if make is not None:
        log.addHandler(make(devnull, fmt))
    else:  # the code before the direct write: what logs.setup.configure installed
        from django_prodserver.logs.requestid import RequestIdFilter

        handler = logging.StreamHandler(devnull)
        handler.setFormatter(fmt)
        handler.addFilter(RequestIdFilter())
        log.addHandler(handler)
    log.propagate = False
    log.setLevel(logging.INFO)

    from django_prodserver_waitress import _accesslog

    wlog = logging.getLogger(_accesslog.LOGGER_NAME)
    saved, sys.stdout = sys.stdout, devnull
    try:
        _accesslog.access_logger()
    finally:
        sys.stdout = saved

    def best(fn) -> float:  # type: ignore[no-untyped-def]
        return min(timeit.repeat(fn, number=1, repeat=repeat)) / requests * 1e6

    def per_request(fn) -> float:  # type: ignore[no-untyped-def]
        def n() -> None:
            for _ in range(requests):
                fn()

        return best(n)

    bare_wsgi = per_request(wsgi_call(wsgi_app))
    bare_asgi = best(asgi_calls(asgi_app, requests))
    return {
        "json WSGI layer": per_request(wsgi_call(access.access_layer(wsgi_app, "wsgi"))) - bare_wsgi,
        "json ASGI layer": best(asgi_calls(access.access_layer(asgi_app, "asgi"), requests)) - bare_asgi,
        "waitress text line": per_request(wsgi_call(_accesslog.AccessLogMiddleware(wsgi_app, wlog))) - bare_wsgi,
    }


def run(sources: Path, requests: int, repeat: int) -> dict[str, float]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(str(sources / s) for s in SOURCES))
    env.pop("PRODSERVER_LOG_FORMAT", None)
    argv = [sys.executable, __file__, "--child", f"--requests={requests}", f"--repeat={repeat}"]
    out = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--baseline", default="main", help="git ref to compare with (default main)")
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.requests, args.repeat)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "base.tar"
        subprocess.run(["git", "-C", str(ROOT), "archive", "-o", str(archive), args.baseline, *SOURCES], check=True)
        with tarfile.open(archive) as tar:
            if hasattr(tarfile, "data_filter"):
                tar.extractall(Path(tmp) / "base", filter="data")
            else:  # Python < 3.10.12: our own git archive, trusted
                tar.extractall(Path(tmp) / "base")
        # interleaved: baseline, this checkout, baseline, this checkout; the best of each
        results: dict[str, list[dict[str, float]]] = {"base": [], "here": []}
        for _ in range(2):
            results["base"].append(run(Path(tmp) / "base", args.requests, args.repeat))
            results["here"].append(run(ROOT, args.requests, args.repeat))
    print(f"access log cost per request, microseconds (best of {args.repeat} x {args.requests} requests)")
    print(f"  {'layer':22s}{args.baseline:>12s}{'this tree':>12s}{'ratio':>8s}")
    for name in results["here"][0]:
        base = min(r[name] for r in results["base"])
        here = min(r[name] for r in results["here"])
        print(f"  {name:22s}{base:12.2f}{here:12.2f}{here / base:8.2f}")


if __name__ == "__main__":
    main()
