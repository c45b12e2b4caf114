"""``prodserver reload [NAME]``: the running supervisor starts the next generation of each
process from the code and settings on disk, and stops the old one once the new one is ready."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

#: Exit code when a new generation failed and the old one kept serving.
FAILED = 1


class Command(BaseCommand):
    help = (
        "Replace every process of the running supervisor (or NAME) with one started from the code and "
        "settings on disk now, without refusing a connection: the old one serves until the new one is "
        "ready, and keeps serving if the new one fails."
    )
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", metavar="NAME", nargs="?", help="process name, as prodserver status shows it")

    def handle(self, *args: Any, **options: Any) -> None:
        from django_prodserver.launch.supervisor.reload import READY_TIMEOUT, SETTLE
        from django_prodserver.management.control import NO_ANSWER, reload

        answers = reload(options.get("name"), READY_TIMEOUT + SETTLE + 30.0)
        failed: list[str] = []
        for answer in answers:
            if "results" not in answer:  # refused before it began (stopping, a one-shot, an unknown name)
                raise CommandError(str(answer.get("error") or answer), returncode=NO_ANSWER)
            for row in answer["results"]:
                if row.get("ok"):
                    self.stdout.write(f"{row['name']}: reloaded in {row['seconds']:.1f}s ({row['message']})")
                else:
                    failed.append(f"{row['name']}: {row['message']}")
        if failed:
            raise CommandError(
                "reload failed, the old generation keeps serving:\n  " + "\n  ".join(failed), returncode=FAILED
            )
