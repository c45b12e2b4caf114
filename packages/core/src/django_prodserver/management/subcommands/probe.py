"""``prodserver probe [--ready|--live|--startup] [NAME]``: exit 0/1 from the ops endpoint."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = (
        "Ask the running prodserver's ops endpoint (PRODSERVER_OPS / PRODSERVER_OPS_PORT) whether it is "
        "ready (default), live or started; exit 0 for yes, 1 for no or no answer. For exec probes and "
        "Docker HEALTHCHECK."
    )
    requires_system_checks: list[str] = []  # a probe runs every few seconds: no checks, no project setup

    def add_arguments(self, parser: CommandParser) -> None:
        from django_prodserver.ops.probe import add_arguments

        add_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        from django_prodserver.errors import ConfigError
        from django_prodserver.ops.config import load_ops_config
        from django_prodserver.ops.probe import ask, path_for

        try:
            config = load_ops_config()
        except ConfigError as e:
            raise CommandError(e.message) from None
        if config is None:
            raise CommandError(
                "the ops endpoint is off: set PRODSERVER_OPS = {'PORT': 9191} in settings or the environment "
                "variable PRODSERVER_OPS_PORT, for the server and for this probe"
            )
        name = options.get("name")
        which = options.get("which") or "ready"
        if name and which != "ready":
            raise CommandError("NAME goes with --ready only (/readyz/NAME); /livez and /startupz cover every process")
        ok, said = ask(config.url, path_for(which, name), float(options["timeout"]))
        if options.get("verbosity", 1) >= 1:
            (self.stdout if ok else self.stderr).write(said)
        if not ok:
            raise SystemExit(1)
