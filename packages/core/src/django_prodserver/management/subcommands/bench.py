"""``python manage.py prodserver bench``: which web server is fastest for this project, here.

Starts the project's web process under each installed web backend (or ``--backends``) with
the project's own OPTIONS, on loopback, loads the given paths for a bounded time and prints
one table plus a recommendation (``--json`` for machines). Every server it started is
stopped, also on Ctrl-C or SIGTERM. ``--tune`` searches each server's options within
``--budget`` instead (:mod:`django_prodserver.bench.tune`).
"""

from __future__ import annotations

import signal
from types import FrameType
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def _seconds(text: str) -> float:
    """``120s``, ``2m``, ``90`` as seconds (10 s to 1 day)."""
    value = str(text).strip().lower()
    scale = 60.0 if value.endswith("m") else 1.0
    try:
        seconds = float(value.rstrip("sm")) * scale
    except ValueError:
        seconds = -1.0
    if not 10 <= seconds <= 86400:
        raise CommandError(f"--budget {text!r}: give a duration between 10s and 24h, e.g. --budget 120s or 5m")
    return seconds


class _Progress:
    """A progress bar redrawn in place on a terminal; plain lines otherwise (logs, CI)."""

    def __init__(self, stream: Any, budget: float, quiet: bool) -> None:
        self.stream, self.budget, self.quiet = stream, budget, quiet
        self.tty = not quiet and stream.isatty()
        self.drawn = False

    def say(self, line: str) -> None:
        if not self.quiet:
            self.stream.write(line)
            self.stream.flush()

    def step(self, used: float, what: str) -> None:
        if self.quiet:
            return
        if not self.tty:
            self.say(f"tune: {used:3.0f}/{self.budget:g} s  {what}")
            return
        width = 24
        filled = min(width, int(width * used / self.budget))
        bar = "#" * filled + "." * (width - filled)
        self.stream.write(f"\r\033[K[{bar}] {used:3.0f}/{self.budget:g} s  {what}"[:200], ending="")
        self.stream.flush()
        self.drawn = True

    def done(self) -> None:
        if self.drawn:
            self.stream.write("\r\033[K", ending="")
            self.stream.flush()


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
        parser.add_argument(
            "--duration",
            type=float,
            default=None,
            help="seconds of load per path and backend (3); with --tune, of one round (1)",
        )
        parser.add_argument(
            "--rounds",
            type=int,
            default=3,
            help="split each path's load into this many rounds, whose spread tells a gain from noise (3)",
        )
        parser.add_argument(
            "--confirm-rounds",
            type=int,
            default=3,
            help="when the fastest two are within noise, load both in turns up to this many more rounds (3; 0: never)",
        )
        parser.add_argument(
            "--tune",
            action="store_true",
            help="search workers, threads, interface and keep-alive of each server for the fastest configuration",
        )
        parser.add_argument(
            "--budget", default="120s", help="with --tune: how long the search may take, e.g. 120s or 5m (120s)"
        )
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
        tune = bool(options["tune"])
        duration = options["duration"] if options["duration"] is not None else (1.0 if tune else 3.0)
        if duration <= 0 or duration > 600:
            raise CommandError(f"--duration {duration:g}: give seconds between 0 and 600, e.g. 3")
        if not 1 <= options["rounds"] <= 100 or not 0 <= options["confirm_rounds"] <= 100:
            raise CommandError("--rounds: give 1 to 100, --confirm-rounds 0 to 100, e.g. --rounds 3")
        budget = _seconds(options["budget"])
        if not 1 <= options["connections"] <= 1024:
            raise CommandError(f"--connections {options['connections']}: give 1 to 1024, e.g. 8")
        wrk = generator(options["client"])
        if options["client"] == "wrk" and not wrk:
            raise CommandError("--client wrk: wrk is not installed (apt-get install wrk), or use --client python")
        project, process, raw = self._project(options["process"])
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
            duration=float(duration),
            connections=int(options["connections"]),
            host=host,
            wrk=wrk,
            rounds=1 if tune else int(options["rounds"]),
            confirm_rounds=int(options["confirm_rounds"]),
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
            if tune:
                self._tune(cfg, process, raw, budget, options["json"], quiet)
                return
            say(report.header(cfg).replace("\n", "\nbench: "))
            results = runner.run(cfg, say, report.close_call)
        except KeyboardInterrupt:
            say("interrupted: every server it started is stopped")
            raise CommandError("interrupted", returncode=130) from None
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        trade = self._tradeoffs(process, results, project.configured_backend)
        if options["json"]:
            self.stdout.write(report.as_json(cfg, results, trade))
            return
        lines = [report.recommendation(results), *[f"trade-off: {t}" for t in trade]]
        self.stdout.write(report.header(cfg) + "\n\n" + report.table(results) + "\n\n" + "\n".join(lines))
        failed = [r for r in results if not r.ok]
        for r in failed:
            self.stdout.write(f"\n{r.backend} failed:\n  " + r.error[-1200:].replace("\n", "\n  "))

    def _tradeoffs(self, process: Any, results: Any, configured: str) -> list[str]:
        """What changes besides speed from the configured server to the recommended one."""
        from django_prodserver.bench import report
        from django_prodserver.bench.tune import resolve
        from django_prodserver.bench.tune_report import tradeoffs
        from django_prodserver.errors import ConfigError

        best = report.recommended(results)
        if not best or best == configured:
            return []
        try:
            now, then = resolve(process, configured, {}, configured), resolve(process, best, {}, configured)
        except ConfigError:
            return []
        return [f"({configured} -> {best}) {line}" for line in tradeoffs(now, then)]

    def _tune(self, cfg: Any, process: Any, raw: Any, budget: float, as_json: bool, quiet: bool) -> None:
        import os
        import time

        from django.conf import settings

        from django_prodserver.backends.asgi_discovery import asgi_beside_wsgi
        from django_prodserver.bench import tune, tune_report

        cpus = os.cpu_count() or 1
        wsgi = getattr(settings, "WSGI_APPLICATION", None)
        has_asgi = bool(getattr(settings, "ASGI_APPLICATION", None) or asgi_beside_wsgi(wsgi, [str(cfg.project.cwd)]))
        grids = {
            b: tune.grid(process, b, cfg.project.configured_backend, cpus, has_asgi and bool(wsgi))
            for b in cfg.backends
        }
        plan = tune.Plan(cfg, grids, budget, cfg.round_seconds)
        minimum = tune.START_GUESS + len(cfg.paths) * cfg.round_seconds
        if budget < minimum * len(cfg.backends):
            raise CommandError(
                f"--budget {budget:g}s: too short to measure {len(cfg.backends)} server(s) once "
                f"(about {minimum:.0f} s each); give --budget {max(10, round(minimum * len(cfg.backends) + 1))}s "
                "or fewer --backends"
            )
        total = sum(len(g) for g in grids.values())
        takes = min(budget, plan.estimate())
        done_by = time.strftime("%H:%M:%S UTC", time.gmtime(time.time() + takes))
        self.stderr.style_func = None  # progress, not errors: no red on a terminal
        progress = _Progress(self.stderr, budget, quiet)
        progress.say(
            f"tune: up to {total} configurations of {', '.join(cfg.backends)} on {', '.join(cfg.paths)}; "
            f"this takes at most {budget:g} s (about {takes:.0f} s, done by {done_by})"
        )
        try:
            tunes, used = tune.run(plan, progress.step)
        finally:
            progress.done()
        name = cfg.project.process
        if as_json:
            self.stdout.write(tune_report.as_json(plan, tunes, used, name, raw))
        else:
            self.stdout.write(tune_report.text(plan, tunes, used, name, raw))

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
        project = Project(
            settings_module=module,
            process=process,
            configured_backend=config.backend,
            cwd=Path.cwd(),
            manage=manage_command(),
            settings_dir=Path.cwd(),
        )
        return project, config, dict(raw[process])
