"""``prodserver dump NAME [--native] [--pid PID]``: the Python stack of every thread of every
process of NAME, now (py-spy dump; docs/how-to/find-out-why-production-is-slow.md)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = (
        "Print the current Python stack of every thread of every process of NAME (master and workers, "
        "labelled) without stopping or restarting them; needs py-spy (the [profile] extra) and ptrace."
    )
    requires_system_checks: list[str] = []  # looking at a running process needs no project checks

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", nargs="?", metavar="NAME", help="a process of PRODUCTION_PROCESSES")
        parser.add_argument("--pid", type=int, metavar="PID", help="the process tree of PID instead of NAME")
        parser.add_argument("--native", action="store_true", help="include C/C++ frames (extensions, the interpreter)")

    def handle(self, *args: Any, **options: Any) -> None:
        from django_prodserver.profiling import pyspy
        from django_prodserver.profiling.targets import NoTargets, choose

        try:
            targets = choose(options.get("name"), options.get("pid"))
            dumps = pyspy.dump(targets, native=bool(options.get("native")))
        except (NoTargets, RuntimeError) as e:
            raise CommandError(str(e)) from None
        for d in dumps:
            self.stdout.write(f"=== {d.target.label}: {d.target.command[:120]}")
            if d.ok:
                self.stdout.write(d.text.rstrip() + "\n")
            else:
                self.stdout.write(f"    (no stack: {d.text})\n")
        if not any(d.ok for d in dumps):
            raise CommandError("no stack could be read: " + "; ".join(d.text for d in dumps))
