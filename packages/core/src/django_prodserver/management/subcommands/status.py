"""``prodserver status [--json]``: one row per supervised process; exit 1 when one is not up."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

COLUMNS = ("NAME", "BACKEND", "PID", "STATE", "UPTIME", "RESTARTS", "CPU%", "RSS", "LAST EXIT")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


def _size(n: int | None) -> str:
    if n is None:
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f}{unit}" if unit == "B" else f"{n:.1f}{unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)  # pragma: no cover


def table(rows: list[dict[str, Any]]) -> str:
    cells = [COLUMNS] + [
        (
            r["name"],
            r.get("backend") or "-",
            str(r["pid"]) if r.get("pid") else "-",
            r["state"],
            _duration(r.get("uptime")),
            str(r.get("restarts", 0)),
            "-" if r.get("cpu_percent") is None else f"{r['cpu_percent']:.1f}",
            _size(r.get("rss_bytes")),
            r.get("last_exit") or "-",
        )
        for r in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(COLUMNS))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells)


class Command(BaseCommand):
    help = (
        "Show each process of the running prodserver supervisor (state, pid, uptime, restarts, CPU, memory, "
        "last exit). Exit 0 when all are up, 1 when one is not, 2 when no supervisor answers."
    )
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="print the supervisor's answer as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        from django_prodserver.management.control import ask

        answer = ask({"command": "status"})
        if options.get("json"):
            self.stdout.write(json.dumps(answer, indent=2))
        else:
            for sup in answer.get("supervisors") or [answer.get("supervisor") or {}]:
                self.stdout.write(
                    f"supervisor pid {sup.get('pid')}, up {_duration(sup.get('uptime'))}"
                    + (" (stopping)" if sup.get("stopping") else "")
                )
            self.stdout.write(table(answer.get("processes") or []))
        if not answer.get("all_up"):
            raise SystemExit(1)
