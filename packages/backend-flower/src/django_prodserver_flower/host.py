"""Flower's in-process host: celery's CLI, with flower's "no worker yet" inspect warnings quieted.

flower inspects the workers the moment it starts. A worker started beside it (``prodserver``
runs both at once) is still connecting, so no worker replies and flower logs one "Inspect
method <m> failed" per method, every start, though nothing failed. Until the first worker has
replied to flower, those no-reply warnings become one line that says what it means; after that
a no-reply warning means every worker stopped answering, and it is logged as flower writes it.
"""

from __future__ import annotations

import logging
from typing import Any, NoReturn

from django_prodserver.api import LaunchPlan

#: flower's warning when an inspect broadcast got no reply at all (flower/inspector.py).
NO_REPLY = "Inspect method %s failed"
NOT_YET = (
    "no celery worker has answered flower yet (none is running, or it is still starting): "
    "flower lists each worker once it replies"
)


class UntilAWorkerReplies(logging.Filter):
    """On flower's inspector logger: no-reply warnings before any worker replied become one
    INFO line (``NOT_YET``); everything else, and everything after a reply, passes as is."""

    def __init__(self) -> None:
        super().__init__()
        self.replied = False
        self.told = False

    def filter(self, record: logging.LogRecord) -> bool:
        if self.replied or record.msg != NO_REPLY:
            return True
        if self.told:
            return False
        self.told = True
        record.msg, record.args = NOT_YET, ()
        record.levelno, record.levelname = logging.INFO, "INFO"
        return True


def quiet_until_a_worker_replies() -> UntilAWorkerReplies:
    """Install the filter; a worker's first reply to flower (``Inspector._on_update``) opens it."""
    from flower.inspector import Inspector

    gate = UntilAWorkerReplies()
    recorded = Inspector._on_update

    def on_update(self: Any, workername: str, method: str, response: Any) -> None:
        gate.replied = True
        recorded(self, workername, method, response)

    Inspector._on_update = on_update  # type: ignore[method-assign]
    logging.getLogger("flower.inspector").addFilter(gate)
    return gate


def run(plan: LaunchPlan) -> NoReturn:
    """``celery -A APP flower ...`` in this process, as every celery backend runs."""
    from django_prodserver_celery.host import run as run_celery

    quiet_until_a_worker_replies()
    run_celery(plan)
