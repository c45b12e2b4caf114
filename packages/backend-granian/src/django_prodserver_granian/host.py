"""Host granian in this process: its own CLI parser on the plan's argv, plus a drain phase."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from typing import Any, NoReturn

from django_prodserver.plan import LaunchPlan

logger = logging.getLogger("_granian")


def draining_server_class(base: type[Any], drain_delay: float) -> type[Any]:
    """granian's server class, but the first SIGTERM keeps serving for ``drain_delay``
    seconds before granian's own graceful stop; a second SIGTERM or a SIGINT stops at once."""

    class DrainingServer(base):  # type: ignore[misc,valid-type]
        _draining = False

        def signal_handler_interrupt(self, *args: Any, **kwargs: Any) -> None:
            signum = args[0] if args else None
            if self._draining or signum != signal.SIGTERM or drain_delay <= 0:
                super().signal_handler_interrupt(*args, **kwargs)
                return
            self._draining = True
            logger.info("SIGTERM received: still serving for %.1fs before the graceful stop", drain_delay)
            timer = threading.Timer(drain_delay, super().signal_handler_interrupt)
            timer.daemon = True
            timer.start()

    DrainingServer.__qualname__ = DrainingServer.__name__ = f"Draining{base.__name__}"
    return DrainingServer


def run(plan: LaunchPlan) -> NoReturn:
    """Run granian's CLI on the plan's args in this process; exits with granian's code."""
    from django.db import connections
    from granian import cli as granian_cli

    connections.close_all()  # never share a DB connection across the fork
    drain = float(plan.options.get("drain_delay") or 0.0)
    granian_cli.Server = draining_server_class(granian_cli.Server, drain)  # type: ignore[attr-defined]
    granian_cli.cli.main(args=list(plan.args), prog_name="granian", auto_envvar_prefix="GRANIAN")
    sys.exit(0)  # pragma: no cover - click's standalone mode exits first
