"""Start one planned process: exec the native CLI, or let the backend host it in-process."""

from __future__ import annotations

import importlib
import os
import sys
from typing import NoReturn

from django_prodserver.backends.base import Backend
from django_prodserver.launch import collector
from django_prodserver.logs import PROCESS_ENV
from django_prodserver.plan import LaunchPlan


def child_environ(plan: LaunchPlan, base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment the process gets: ours, minus what the plan removes, plus its own, plus
    its name (``PRODSERVER_PROCESS``: how ``prodserver dump`` and ``profile`` find it)."""
    env = dict(os.environ if base is None else base)
    for key in plan.unset_env:
        env.pop(key, None)
    env.update(plan.env)
    env[PROCESS_ENV] = plan.process
    return env


def apply_environ(plan: LaunchPlan) -> None:
    """Make this process' environment and cwd the plan's (for in-process launches)."""
    for key in plan.unset_env:
        os.environ.pop(key, None)
    os.environ.update(plan.env)
    os.environ[PROCESS_ENV] = plan.process
    os.chdir(plan.cwd)
    if plan.cwd not in sys.path:
        sys.path.insert(0, plan.cwd)


def exec_plan(plan: LaunchPlan) -> NoReturn:
    """Replace this process with the native command: the server keeps our PID and TTY."""
    env = child_environ(plan)
    os.chdir(plan.cwd)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execvpe(plan.command[0], plan.command, env)


def run(plan: LaunchPlan, backend: Backend) -> NoReturn:
    """Run a single process in the foreground; never returns."""
    if plan.in_process:
        collector.resume()  # the start's heap is built: frozen, then collected as usual
        apply_environ(plan)
        from django_prodserver.logs.setup import configure_from_env

        configure_from_env()  # log_format json: this process' logging, before the server's
        from django_prodserver.ops import memhook

        memhook.install()  # the Django setup before the plan did not know it was a prodserver process
        from django_prodserver.launch.warmup import prepare

        if backend.host:  # what the host imports counts as warm-up: a reload's "ready" comes after it
            importlib.import_module(backend.host.partition(":")[0])
        prepare(plan)  # a supervised generation: its code imported, warmed up, then "ready"
        backend.run_in_process(plan)
    exec_plan(plan)
