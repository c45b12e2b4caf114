"""hypercorn's own command line, and prodserver's settings from the host plan; one entry for exec and in-process.

``python -m django_prodserver_hypercorn`` takes every ``hypercorn`` flag (parsed by
hypercorn's own parser); ``PRODSERVER_HOST_PLAN`` (see ``HypercornBackend.host_options``)
gives the drain delay, ``http2`` and ``max_requests_jitter``, which hypercorn 0.18's CLI
overwrites with ``--max-requests``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

from django_prodserver.api import HostPlan

if TYPE_CHECKING:
    from django_prodserver.api import LaunchPlan


@dataclass(frozen=True)
class Own:
    """prodserver's settings for hypercorn, from the host plan (these defaults when run alone)."""

    drain_delay: float = 0.0
    #: None: hypercorn's own value.
    max_requests_jitter: int | None = None
    http2: bool = True


def main(argv: Sequence[str], start_method: str = "spawn") -> int:
    """Parse like ``hypercorn``, then run the draining master instead of ``hypercorn.run.run``.

    ``start_method`` "fork" (the in-process launch from ``manage.py``) preloads the app in the
    master and forks the workers; "spawn" is hypercorn's own fresh interpreter per worker."""
    import hypercorn.__main__ as native
    from hypercorn.config import Config

    from .drain import DrainingMaster, inherit_listener, serve_single

    own = HostPlan.from_environ().read(Own)

    def run(config: Config) -> int:
        if own.max_requests_jitter is not None:
            config.max_requests_jitter = own.max_requests_jitter
        if not own.http2:
            config.alpn_protocols = ["http/1.1"]
        if config.use_reloader:
            print("django_prodserver_hypercorn: --reload is for development; use hypercorn itself", file=sys.stderr)
            return 2
        inherit_listener(config)
        if config.workers == 0:
            return serve_single(config, own.drain_delay)
        return DrainingMaster(config, own.drain_delay, start_method).run()

    # hypercorn's main() ends with ``return run(config)``: reuse its parser, swap the runner.
    saved: Any = getattr(native, "run")  # noqa: B009
    setattr(native, "run", run)
    try:
        return int(native.main(list(argv)))
    finally:
        setattr(native, "run", saved)


def run(plan: LaunchPlan) -> NoReturn:
    """The in-process host (``Backend.host``): fork the workers from this process when the OS can."""
    import multiprocessing

    fork = "fork" in multiprocessing.get_all_start_methods()
    sys.exit(main(list(plan.args), "fork" if fork else "spawn"))
