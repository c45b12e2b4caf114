"""Ask the ops endpoint one question and exit 0 or 1: for exec probes and Docker HEALTHCHECK.

``python manage.py prodserver probe [--ready|--live|--startup] [NAME]`` uses this module; so does
``python -m django_prodserver.ops.probe`` which, with ``PRODSERVER_OPS_PORT`` set, answers
without importing Django at all (the cheapest probe a container can run)."""

from __future__ import annotations

import argparse
import http.client
import os
import sys
from collections.abc import Sequence
from urllib.parse import quote

DEFAULT_TIMEOUT = 3.0
PATHS = {"ready": "/readyz", "live": "/livez", "startup": "/startupz"}


def path_for(which: str, name: str | None = None) -> str:
    path = PATHS[which]
    return f"{path}/{quote(name, safe='')}" if name and which == "ready" else path


def ask(base_url: str, path: str, timeout: float = DEFAULT_TIMEOUT) -> tuple[bool, str]:
    """GET ``base_url + path`` within ``timeout`` seconds; ``(status == 200, what it said)``."""
    host_port = base_url.split("://", 1)[-1]
    host, _, port = host_port.rpartition(":")
    conn = http.client.HTTPConnection(host.strip("[]"), int(port), timeout=timeout)
    try:
        conn.request("GET", path, headers={"Connection": "close"})
        resp = conn.getresponse()
        body = resp.read(4096).decode(errors="replace").strip()
    except (OSError, http.client.HTTPException) as e:
        return False, f"{base_url}{path}: no answer ({type(e).__name__}: {e})"
    finally:
        conn.close()
    return resp.status == 200, f"{base_url}{path}: {resp.status} {body}"


def parser(prog: str | None = None) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description="Exit 0 when the ops endpoint says yes, else 1.")
    add_arguments(p)
    return p


def add_arguments(p: argparse.ArgumentParser) -> None:
    which = p.add_mutually_exclusive_group()
    which.add_argument("--ready", dest="which", action="store_const", const="ready", help="/readyz (default)")
    which.add_argument("--live", dest="which", action="store_const", const="live", help="/livez")
    which.add_argument("--startup", dest="which", action="store_const", const="startup", help="/startupz")
    p.add_argument("name", nargs="?", metavar="NAME", help="with --ready: only this process (/readyz/NAME)")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds to wait (default 3)")


def main(argv: Sequence[str] | None = None) -> int:
    """Without Django: the port from ``PRODSERVER_OPS_PORT`` (host ``PRODSERVER_OPS_HOST``)."""
    from django_prodserver.ops.config import load_ops_config

    args = parser("python -m django_prodserver.ops.probe").parse_args(argv)
    if not os.environ.get("PRODSERVER_OPS_PORT"):
        print("PRODSERVER_OPS_PORT is not set; use: python manage.py prodserver probe", file=sys.stderr)
        return 1
    config = load_ops_config(settings=object(), environ=os.environ)
    assert config is not None
    ok, said = ask(config.url, path_for(args.which or "ready", args.name), args.timeout)
    print(said, file=sys.stdout if ok else sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
