"""Native command lines for benchmarks/web.py: prodserver's --dry-run argv made native, and defaults.

Every backend's plan prints the command it is equivalent to; where that command is a
prodserver wrapper module, the native module replaces it here and WRAPPERS says what differs
(the wrapper's own settings, such as the drain, ride in PRODSERVER_HOST_PLAN, not in the argv).
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Wrapper:
    """A prodserver wrapper module, the native module it wraps, and the flags only it has."""

    module: str
    native: str
    own_flags: tuple[str, ...]  # dropped with their value (``--flag=v`` or ``--flag v``)
    own_switches: tuple[str, ...]  # dropped alone
    why: str


#: Backends whose plan command is ``python -m django_prodserver_<x>``.
WRAPPERS: dict[str, Wrapper] = {
    "waitress": Wrapper(
        "django_prodserver_waitress",
        "waitress",
        (),
        (),
        "the drain and graceful timeout act only after SIGTERM; log level info is what "
        "waitress-serve sets anyway (waitress logger at INFO); waitress has no access log, so "
        "the A/B runs prodserver with access_log=false (no WSGI wrapper)",
    ),
    "hypercorn": Wrapper(
        "django_prodserver_hypercorn",
        "hypercorn",
        (),
        (),
        "the drain delay acts only after SIGTERM (prodserver's master); http2=false would be "
        "alpn_protocols=['http/1.1'] (TLS only, unused here). "
        "prodserver hosts that master in manage.py and forks hypercorn's own worker function "
        "from it with the app imported; native hypercorn spawns fresh interpreters. prodserver's "
        "master gives each worker its own SO_REUSEPORT socket (kernel-balanced); native workers "
        "share one, and the first to wake accepts every connection opened at once",
    ),
    "daphne": Wrapper(
        "django_prodserver_daphne",
        "daphne",
        (),
        (),
        "the drain and graceful timeout act only after SIGTERM (prodserver's DrainingServer "
        "subclass of daphne's Server; everything else is daphne's own parser and server)",
    ),
}

#: What the A/B differs in, besides the launcher, for backends that are not wrappers.
NOTES: dict[str, str] = {
    "gunicorn": "native argv = --dry-run command minus `-c python:django_prodserver_gunicorn.no_config` "
    "(an empty config that stops gunicorn reading ./gunicorn.conf.py; the example has none). "
    "prodserver hosts gunicorn in-process: Django is set up once in the master before the "
    "workers fork; native gunicorn (no --preload) imports the app in each worker",
    "uvicorn": "native argv = --dry-run command, unchanged (prodserver runs uvicorn in-process; "
    "workers fork from it with the app imported, native uvicorn spawns them)",
    "granian": "native argv = --dry-run command, unchanged (prodserver runs granian in-process: "
    "Django set up once in the main process before workers start)",
}

#: Options of the A/B per backend (the same for both sides); the rest are prodserver's defaults.
AB_OPTIONS: dict[str, dict[str, object]] = {
    "gunicorn": {"workers": 2},
    "uvicorn": {"workers": 2},
    "granian": {"workers": 2},
    "hypercorn": {"workers": 2},
    "waitress": {"threads": 8, "access_log": "false"},
    "daphne": {},
}

#: Worker processes each side should have before memory is read (A/B): from AB_OPTIONS.
AB_CHILDREN = {"gunicorn": 2, "uvicorn": 2, "granian": 2, "hypercorn": 2, "waitress": 0, "daphne": 0}


def dry_run(manage: list[str], env: Mapping[str, str], cwd: Path, sets: list[str]) -> str:
    """prodserver's printed plan for ``web`` with these ``--set`` flags."""
    out = subprocess.run(
        [*manage, "prodserver", "web", "--dry-run", *sets],
        cwd=cwd,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=120,
    )
    if out.returncode != 0:
        raise RuntimeError(f"--dry-run failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    return out.stdout


def plan_command(plan: str) -> list[str]:
    line = next(ln for ln in plan.splitlines() if ln.strip().startswith("command:"))
    return shlex.split(line.split("command:", 1)[1])


def plan_option(plan: str, name: str) -> str | None:
    """An option's resolved value from the plan's ``options:`` table (``workers = 5``)."""
    for line in plan.splitlines():
        left, sep, right = line.strip().partition(" = ")
        if sep and left == name:
            return right.split("  [", 1)[0].strip("'")
    return None


def strip_flags(argv: list[str], flags: tuple[str, ...], switches: tuple[str, ...]) -> list[str]:
    out: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        name = arg.split("=", 1)[0]
        if name in switches:
            continue
        if name in flags:
            skip = "=" not in arg
            continue
        out.append(arg)
    return out


def native_from_plan(backend: str, plan: str) -> list[str]:
    """The native CLI equivalent of prodserver's plan (see WRAPPERS and NOTES)."""
    argv = plan_command(plan)
    argv[0] = sys.executable
    if backend in WRAPPERS:
        w = WRAPPERS[backend]
        if argv[1:3] != ["-m", w.module]:
            raise RuntimeError(f"{backend}: expected `python -m {w.module}` in the plan, found {argv[:3]}")
        argv = [argv[0], "-m", w.native, *strip_flags(argv[3:], w.own_flags, w.own_switches)]
    elif backend == "gunicorn":
        argv = strip_flags(argv, ("-c",), ())
    return argv


def native_defaults(backend: str, port: int) -> list[str]:
    """Each server's own CLI with nothing but bind and app (the app prodserver's default plan uses).

    granian also needs ``--interface wsgi``: its default interface (rsgi) cannot serve Django.
    """
    py = [sys.executable, "-m", backend]
    bind = f"127.0.0.1:{port}"
    return {
        "gunicorn": [*py, "-b", bind, "mysite.wsgi:application"],
        "uvicorn": [*py, "--host", "127.0.0.1", "--port", str(port), "mysite.asgi:application"],
        "granian": [*py, "--interface", "wsgi", "--host", "127.0.0.1", "--port", str(port), "mysite.wsgi:application"],
        "waitress": [*py, f"--listen={bind}", "mysite.wsgi:application"],
        "hypercorn": [*py, "-b", bind, "wsgi:mysite.wsgi:application"],
        "daphne": [*py, "-b", "127.0.0.1", "-p", str(port), "mysite.asgi:application"],
    }[backend]


#: Native out-of-the-box concurrency (from each server's --help / docs), and its worker children.
NATIVE_DEFAULT_SHAPE: dict[str, tuple[str, int]] = {
    "gunicorn": ("1 sync worker", 1),
    "uvicorn": ("1 process", 0),
    "granian": ("1 worker", 1),
    "waitress": ("1 process, 4 threads", 0),
    "hypercorn": ("1 worker", 1),
    "daphne": ("1 process", 0),
}
