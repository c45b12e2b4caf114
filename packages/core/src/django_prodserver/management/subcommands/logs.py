"""``prodserver logs NAME [-f] [-n 100]``: a process' recent output, kept by the supervisor."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = (
        "Print the last lines a process of the running supervisor wrote (the supervisor keeps the last "
        "1000 per process in memory); -f keeps printing new lines."
    )
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", metavar="NAME", help="process name, as prodserver status shows it")
        parser.add_argument("-n", "--lines", type=int, default=100, help="how many recent lines (default 100)")
        parser.add_argument("-f", "--follow", action="store_true", help="then print new lines as they come")

    def handle(self, *args: Any, **options: Any) -> None:
        from django_prodserver.management.control import follow

        if options["lines"] < 0:
            from django.core.management.base import CommandError

            raise CommandError("-n: expected a number of lines >= 0")
        request = {"command": "logs", "name": options["name"], "lines": options["lines"], "follow": options["follow"]}
        several = False
        try:
            for n, message in enumerate(follow(request)):
                if n == 0:
                    recent = message.get("lines") or []
                    several = len(message.get("processes") or ()) > 1  # every copy of a copied process
                    for m in recent:
                        self._line(m, several)
                    if not options["follow"]:
                        return
                else:
                    self._line(message, several)
                self.stdout.flush()
        except KeyboardInterrupt:
            return

    def _line(self, message: dict[str, Any], several: bool) -> None:
        text = str(message.get("line", ""))
        self.stdout.write(f"{message.get('process')} | {text}" if several else text)
