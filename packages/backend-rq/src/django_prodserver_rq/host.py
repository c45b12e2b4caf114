"""The in-process host of the RQ backend: django-rq's command in this process (``Backend.host``)."""

from __future__ import annotations

import sys
from typing import NoReturn

from django_prodserver.api import LaunchPlan


def run(plan: LaunchPlan) -> NoReturn:
    """Django is set up and ``preflight`` has seen Redis answer: run ``rqworker`` (or the pool),
    its workers' stop bounded (see ``_teardown``)."""
    from django.core.management import call_command

    from ._tasks import report_tasks
    from ._teardown import install

    install()
    report_tasks()  # task lines (JSON logs) and metrics (ops endpoint), when either is on
    call_command(plan.program[-1], *plan.args)
    sys.exit(0)
