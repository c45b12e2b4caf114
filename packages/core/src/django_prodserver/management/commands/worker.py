"""``worker``: upstream 3.x spelling of ``prodserver`` for task workers (kept working)."""

from __future__ import annotations

from django_prodserver.management.base import ProcessCommand


class Command(ProcessCommand):
    """Start worker processes (upstream 3.x compatibility; prefer ``prodserver``)."""

    help = "Start worker processes from PRODUCTION_PROCESSES (same as prodserver, workers only)."
    allowed_kinds = frozenset({"worker", "scheduler"})
    command_name = "worker"
