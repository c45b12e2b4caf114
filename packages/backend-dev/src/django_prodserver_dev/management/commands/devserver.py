"""``python manage.py devserver [NAME ...]``: the processes of PRODUCTION_PROCESSES, for local work.

Web processes get a development server (or their ``DEV`` override); every process that does not
reload itself (celery, db_worker...) runs as the one child of prodserver's supervisor with a
restart-on-code-change policy. Several processes run under prodserver's supervisor, each child
being one such single-process devserver."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from typing import Any

from django.core.management.base import CommandError, CommandParser

from django_prodserver.api import Backend, ConfigError, LaunchPlan, ProcessCommand, ProcessConfig, sets_for

from ...overrides import dev_config

#: Extra seconds a supervisor gives a reloader beyond its child's own graceful timeout.
STOP_MARGIN = 5.0


class Command(ProcessCommand):
    """Start processes for development: reloading web server, workers restarted on code changes."""

    help = (
        "Start PRODUCTION_PROCESSES for local development: web processes with a development server "
        "(or their DEV override), every process restarted when code under BASE_DIR changes."
    )
    command_name = "devserver"
    refuse_kinds: frozenset[str] = frozenset()

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--watch", action="append", default=[], metavar="DIR", help="also watch DIR (default: BASE_DIR only)"
        )
        parser.add_argument(
            "--reload-include",
            action="append",
            default=[],
            metavar="GLOB",
            help="file names that count as code besides *.py, *.mo and .env (e.g. '*.html')",
        )
        parser.add_argument(
            "--reload-exclude",
            action="append",
            default=[],
            metavar="DIR",
            help="directory name or path whose changes never restart anything",
        )
        parser.add_argument("--reloaded-child", action="store_true", help=argparse.SUPPRESS)
        # devserver's own check of a web process' new code before it restarts it (_precheck.py).
        parser.add_argument("--check-code", choices=("wsgi", "asgi"), help=argparse.SUPPRESS)

    def handle(self, *args: str, **options: Any) -> None:
        if options.get("check_code"):
            from ..._precheck import import_code

            sys.exit(import_code(options["check_code"]))
        super().handle(*args, **options)

    # -- planning ----------------------------------------------------------------------

    def make_plans(
        self, processes: dict[str, ProcessConfig], names: list[str], options: dict[str, Any]
    ) -> list[tuple[Backend, LaunchPlan]]:
        dev = dict(processes)
        for name in names:
            try:
                dev[name] = dev_config(processes[name])
            except ConfigError as e:
                raise CommandError(e.message) from None
        return super().make_plans(dev, names, options)

    def describe_supervision(self, plans: list[LaunchPlan], options: dict[str, Any] | None = None) -> str:
        import shlex

        options = options or {}
        text = super().describe_supervision([self.wrapper(p, options) for p in plans], options)
        lines = ["  development: each process runs as a single-process devserver child"]
        for plan in plans:
            lines.append(f"    process {plan.process!r}: {_reload_mode(plan)}")
            lines.append("      runs as: " + " ".join(shlex.quote(a) for a in self.rerun_argv(plan, options)))
        return text + "\n" + "\n".join(lines)

    # -- starting ----------------------------------------------------------------------

    def start(self, plans: list[tuple[Backend, LaunchPlan]], options: dict[str, Any]) -> None:
        from django_prodserver.api import run_plan, supervise

        child = bool(options.get("reloaded_child"))
        if not child and len(plans) == 1:  # with several, each child devserver prints its own
            for plan in (p for _, p in plans):
                for note in plan.notes:
                    self.stderr.write(self.style.WARNING(f"[{plan.process}] note: {note}"))
        if len(plans) > 1:
            wrappers = [self.wrapper(plan, options) for _, plan in plans]
            sys.exit(supervise(wrappers, options))
        backend, plan = plans[0]
        if child or plan.extras.get("reload") in ("self", "off") or plan.kind == "oneshot":
            if options.get("verbosity", 1) >= 1 and not child:
                self.stderr.write(f"devserver: starting {plan.process!r} with {plan.backend} ({_reload_mode(plan)})")
            run_plan(plan, backend)
        sys.exit(self.reload(plan, options))

    def reload(self, plan: LaunchPlan, options: dict[str, Any]) -> int:
        """Run ``plan`` as the one child of a supervisor that restarts it on code changes (it does
        not reload itself)."""
        from django.conf import settings

        from django_prodserver.api import child_environ

        from ..._ignore import output_roots
        from ..._precheck import CodeCheck, check_argv
        from ...reloader import CodeWatcher, reloading, run
        from ...watch import CodeFilter

        if plan.in_process:  # hosted by a child devserver, so it does its own in-process launch
            argv = [*self.rerun_argv(plan, options), "--reloaded-child"]
            native = list(options.get("native_args") or [])
            if native:
                argv += ["--", *native]
            env = _base_env(plan)
        else:
            argv, env = plan.command, child_environ(plan)
        base = getattr(settings, "BASE_DIR", None)
        roots = [os.path.abspath(os.fspath(base) if base else plan.cwd), *map(os.path.abspath, options["watch"])]
        roots = [r for r in dict.fromkeys(roots) if os.path.isdir(r)]
        include = ("*.py", "*.mo", ".env", *options["reload_include"])
        excludes = list(options["reload_exclude"])
        ignore_dirs = [e for e in excludes if os.sep not in e]
        ignore_paths = [*output_roots(settings), *(os.path.abspath(e) for e in excludes if os.sep in e)]
        watch_filter = CodeFilter(roots=roots, include=include, ignore_dirs=ignore_dirs, ignore_paths=ignore_paths)
        check = None
        if plan.kind == "web":  # a broken edit must not take the port down: import the new code first
            interface = "asgi" if plan.options.get("interface") == "asgi" else "wsgi"
            check = CodeCheck(check_argv(plan.process, interface), env, plan.cwd)
        child = reloading(
            plan.process,
            argv,
            env,
            plan.cwd,
            stop_signal=plan.stop_signal,
            graceful_timeout=plan.graceful_timeout,
            watcher=CodeWatcher(roots, watch_filter, check=check),
        )
        self.stderr.write(f"devserver: watching {', '.join(roots)} for code changes")
        return run(child, verbosity=int(options.get("verbosity", 1)))

    def rerun_argv(self, plan: LaunchPlan, options: dict[str, Any]) -> list[str]:
        """``python -m django devserver NAME`` with the options that shape this one process."""
        argv = [sys.executable, "-m", "django", "devserver", plan.process, "--skip-checks"]
        argv += ["--verbosity", str(options.get("verbosity", 1))]
        for flag in ("no_color", "force_color", "traceback"):
            if options.get(flag):
                argv.append("--" + flag.replace("_", "-"))
        for item in sets_for(plan.process, list(options.get("set") or [])):
            argv += ["--set", item]
        for key in ("watch", "reload_include", "reload_exclude"):
            for value in options.get(key) or []:
                argv += ["--" + key.replace("_", "-"), value]
        return argv

    def wrapper(self, plan: LaunchPlan, options: dict[str, Any]) -> LaunchPlan:
        """The supervisor's child for ``plan``: a single-process devserver (its own reloader)."""
        from dataclasses import replace

        argv = self.rerun_argv(plan, options)
        return replace(
            plan,
            program=tuple(argv),
            args=(),
            env=_base_env(plan),
            unset_env=(),
            in_process=False,
            stop_signal=signal.SIGTERM,
            signal_group=False,
            graceful_timeout=plan.graceful_timeout + STOP_MARGIN,
        )


def _base_env(plan: LaunchPlan) -> dict[str, str]:
    """Our environment plus what a re-run ``python -m django`` needs to find the project."""
    env = dict(os.environ)
    for key in ("DJANGO_SETTINGS_MODULE", "PYTHONPATH"):
        if plan.env.get(key):
            env[key] = plan.env[key]
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _reload_mode(plan: LaunchPlan) -> str:
    mode = plan.extras.get("reload")
    if plan.kind == "oneshot":
        return "runs once, no reload"
    if mode == "self":
        return "reloads itself"
    if mode == "off":
        return "reload off"
    return "restarted by devserver on code changes"
