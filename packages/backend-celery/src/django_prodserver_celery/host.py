"""The in-process host of every celery backend: celery's own CLI on the plan's argv, in this process."""

from __future__ import annotations

import sys
from typing import NoReturn

from django_prodserver.api import LaunchPlan


def run(plan: LaunchPlan) -> NoReturn:
    """``celery -A APP ... <subcommand> ...`` with prodserver's logging; its exit code is ours."""
    from celery.bin.celery import celery as celery_cli

    from ._jsonlog import use_prodserver_logging

    use_prodserver_logging()
    if plan.kind == "worker":
        from ._tasks import report_tasks

        report_tasks()  # task lines (JSON logs) and metrics (ops endpoint), when either is on

    code = celery_cli.main(args=list(plan.args), prog_name="celery", auto_envvar_prefix="CELERY")
    sys.exit(code or 0)
