"""``python manage.py prodserver bench``: which web server is fastest for this project, here.

Starts the project's web process under each installed web backend (or ``--backends``) with
the project's own OPTIONS, on loopback, loads the given paths for a bounded time and prints
one table plus a recommendation (``--json`` for machines). Every server it started is
stopped, also on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import signal
from types import FrameType
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


class Command(BaseCommand):
    help = (
        "Run this project's web process under each installed web server on 127.0.0.1 and compare "
        "time to first 200, requests/s, latency, errors, idle memory and CPU per request."
    )
    requires_system_checks: Any = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--backends", help="comma-separated backend names (default: every installed web backend)")
        parser.add_argument(
            "--path", action="append", dest="paths", metavar="PATH", help="a path to load, repeatable (default: /)"
        )
        parser.add_argument("--duration", type=float, default=3.0, help="seconds of load per path and backend (3)")
        parser.add_argument("--connections", type=int, default=8, help="concurrent keep-alive connections (8)")
        parser.add_argument("--process", default="web", help="the process of PRODUCTION_PROCESSES to run (web)")
        parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind and load (127.0.0.1)")
        parser.add_argument(
            "--client",
            choices=("auto", "wrk", "python"),
            default="auto",
            help="load generator (wrk if installed)",
        )
        parser.add_argument("--json", action="store_true", help="print the results as JSON on stdout")

    def handle(self, *args: Any, **options: Any) -> None:
        from django_prodserver.bench import report, runner
        from django_prodserver.bench.load import generator
        from django_prodserver.bench.loopback import NotLoopback, check_host, check_path

        try:
            host = check_host(options["host"])
            paths = tuple(check_path(p) for p in options["paths"] or ["/"])
        except NotLoopback as e:
            raise CommandError(str(e)) from None
        if options["duration"] <= 0 or options["duration"] > 600:
            raise CommandError(f"--duration {options['duration']:g}: give seconds between 0 and 600, e.g. 3")
        if not 1 <= options["connections"] <= 1024:
            raise CommandError(f"--connections {options['connections']}: give 1 to 1024, e.g. 8")
        wrk = generator(options["client"])
        if options["client"] == "wrk" and not wrk:
            raise CommandError("--client wrk: wrk is not installed (apt-get install wrk), or use --client python")
        project = self._project(options["process"])
        installed = runner.installed_web_backends()
        wanted = [b.strip() for b in (options["backends"] or "").split(",") if b.strip()] or installed
        unknown = [b for b in wanted if b not in installed]
        if unknown:
            raise CommandError(
                f"--backends: {', '.join(unknown)} not installed as a web backend; installed: "
                f'{", ".join(installed) or "none"} (pip install "django-prodserver[{unknown[0]}]")'
            )
        cfg = runner.Settings(
            project=project,
            backends=runner.order(wanted, project.configured_backend),
            paths=paths,
            duration=float(options["duration"]),
            connections=int(options["connections"]),
            host=host,
            wrk=wrk,
        )

        quiet = int(options.get("verbosity", 1)) == 0

        def say(line: str) -> None:
            if quiet:
                return
            self.stderr.write(f"bench: {line}")
            self.stderr.flush()

        # SIGINT too: a disposition inherited as ignored (a background job of a script, a test
        # runner started so) would otherwise let `kill -INT` pass unnoticed and the run go on.
        stops = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
        previous = {sig: signal.signal(sig, _interrupt) for sig in stops}
        try:
            say(report.header(cfg).replace("\n", "\nbench: "))
            results = runner.run(cfg, say)
        except KeyboardInterrupt:
            say("interrupted: every server it started is stopped")
            raise CommandError("interrupted", returncode=130) from None
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        if options["json"]:
            self.stdout.write(report.as_json(cfg, results))
            return
        self.stdout.write(report.header(cfg) + "\n\n" + report.table(results) + "\n\n" + report.recommendation(results))
        failed = [r for r in results if not r.ok]
        for r in failed:
            self.stdout.write(f"\n{r.backend} failed:\n  " + r.error[-1200:].replace("\n", "\n  "))

    def _project(self, process: str) -> Any:
        from pathlib import Path

        from django.conf import settings

        from django_prodserver.bench.project import Project, manage_command
        from django_prodserver.errors import ConfigError
        from django_prodserver.settings.config import get_processes_setting, load_process

        try:
            raw = get_processes_setting()
            if process not in raw:
                raise CommandError(
                    f"--process {process!r}: not in PRODUCTION_PROCESSES (configured: {', '.join(raw)}); "
                    "give the name of your web process"
                )
            config = load_process(process, raw[process])
        except ConfigError as e:
            raise CommandError(e.message) from None
        module = settings.SETTINGS_MODULE
        if not module:
            raise CommandError("bench needs DJANGO_SETTINGS_MODULE (run it through manage.py)")
        return Project(
            settings_module=module,
            process=process,
            configured_backend=config.backend,
            cwd=Path.cwd(),
            manage=manage_command(),
            settings_dir=Path.cwd(),
        )
