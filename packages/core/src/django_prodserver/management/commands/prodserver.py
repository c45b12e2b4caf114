"""``python manage.py prodserver [NAME ...]``: start configured production processes."""

from __future__ import annotations

from django_prodserver.management.base import ProcessCommand


class Command(ProcessCommand):
    """Start one configured process, or several under the supervisor; or run a subcommand."""

    has_subcommands = True
