"""Running several processes at once (the supervisor lives in its own module, issue 5)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError

from .plan import LaunchPlan


def describe_policy(plans: list[LaunchPlan]) -> str:
    """The supervisor policy that --dry-run prints for several processes."""
    return "supervisor: not available yet; start one process per command"


def supervise(plans: list[LaunchPlan], options: dict[str, Any]) -> int:
    """Start every plan as a child and supervise it until stopped."""
    names = ", ".join(p.process for p in plans)
    raise CommandError(
        f"starting several processes at once ({names}) is not available in this version; "
        "run one `python manage.py prodserver NAME` per process"
    )
