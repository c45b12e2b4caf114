"""celery in JSON mode: its ``setup_logging`` signal gets a receiver, so celery leaves the
root logger alone (no hijack) and prodserver's JSON configuration stays in force; its
shutdown messages (``safe_say``: an ``os.write`` to fd 2) become log records."""

from __future__ import annotations

import logging
from typing import Any

from django_prodserver.api import configure_from_env, json_enabled


def _configure(**kwargs: Any) -> None:
    configure_from_env()


def use_prodserver_logging() -> bool:
    """Connect the receiver when this process runs with log_format json; True if it did."""
    if not json_enabled():
        return False
    from celery import signals

    signals.setup_logging.connect(_configure, weak=False)
    from celery.apps import worker

    worker.safe_say = _say  # "worker: Warm shutdown (MainProcess)" and friends
    return True


def _say(msg: str, f: Any = None) -> None:
    logging.getLogger("celery.apps.worker").warning(msg.strip())
