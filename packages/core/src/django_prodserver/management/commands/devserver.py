"""``devserver``: upstream 3.x had it in this app; the real one lives in django-prodserver-dev.

With only ``django_prodserver`` in INSTALLED_APPS (an upstream settings file), this command
delegates to the development package when it is installed, and otherwise says what to install."""

from __future__ import annotations

import importlib
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

_DevCommand: Any
try:
    _DevCommand = importlib.import_module("django_prodserver_dev.management.commands.devserver").Command
except ImportError:
    _DevCommand = None


if _DevCommand is not None:

    class Command(_DevCommand):
        """The development package's devserver, reachable from the core app."""

else:

    class Command(BaseCommand):  # type: ignore[no-redef]
        """Placeholder that tells the user how to get the development servers."""

        help = "Run PRODUCTION_PROCESSES for local development (needs django-prodserver[dev])."
        requires_system_checks: list[str] = []

        def add_arguments(self, parser: CommandParser) -> None:
            parser.add_argument("args", nargs="*")

        def handle(self, *args: Any, **options: Any) -> None:
            raise CommandError(
                'devserver needs the development backends: pip install "django-prodserver[dev]" '
                'and add "django_prodserver_dev" to INSTALLED_APPS'
            )
