"""``server``: upstream 3.x spelling of ``prodserver`` for web processes (kept working)."""

from __future__ import annotations

from django_prodserver.management.base import ProcessCommand


class Command(ProcessCommand):
    """Start web processes (upstream 3.x compatibility; prefer ``prodserver``)."""

    help = "Start web processes from PRODUCTION_PROCESSES (same as prodserver, web backends only)."
    allowed_kinds = frozenset({"web", "monitor", "dev"})
    command_name = "server"
