"""Run a development server's management command in this process, with a SIGTERM handler.

``runserver --noreload`` (and runserver_plus without its reloader) install none, so as PID 1 of a
container they would ignore ``docker stop`` until SIGKILL; here SIGTERM stops them like Ctrl-C."""

from __future__ import annotations

import signal
import sys
from types import FrameType
from typing import NoReturn

from django_prodserver.api import LaunchPlan


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def run(plan: LaunchPlan) -> NoReturn:
    """``plan.args`` is ``[command, *argv]``: run that management command, exit 0 on SIGTERM/SIGINT."""
    from django.core.management import get_commands, load_command_class

    name = plan.args[0]
    command = load_command_class(get_commands()[name], name)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        command.run_from_argv(["manage.py", *plan.args])
    except KeyboardInterrupt:
        pass
    sys.exit(0)
