"""``prodserver start NAME``: ask the running supervisor over its control socket."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = (
        "Start a process of the running supervisor that was stopped or has exited "
        "(NAME, or every copy of a copied process)."
    )
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", metavar="NAME", help="process name, as prodserver status shows it")

    def handle(self, *args: Any, **options: Any) -> None:
        from django_prodserver.management.control import ask

        answer = ask({"command": "start", "name": options["name"]})
        self.stdout.write(str(answer.get("message", "done")))
