"""hypercorn's own command line plus prodserver's drain; one entry for exec and in-process.

``python -m django_prodserver_hypercorn`` takes every ``hypercorn`` flag (parsed by
hypercorn's own parser) plus ``--drain-delay S`` and ``--no-http2``, and fixes
``--max-requests-jitter``, which hypercorn 0.18's CLI overwrites with ``--max-requests``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from django_prodserver.api import LaunchPlan

OWN = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
OWN.add_argument("--drain-delay", type=float, default=0.0)
OWN.add_argument("--max-requests-jitter", type=int, default=None)
OWN.add_argument("--no-http2", action="store_true")


def split(argv: Sequence[str]) -> tuple[argparse.Namespace, list[str]]:
    """prodserver's flags, and the rest for hypercorn's parser."""
    return OWN.parse_known_args(list(argv))


def main(argv: Sequence[str], start_method: str = "spawn") -> int:
    """Parse like ``hypercorn``, then run the draining master instead of ``hypercorn.run.run``.

    ``start_method`` "fork" (the in-process launch from ``manage.py``) preloads the app in the
    master and forks the workers; "spawn" is hypercorn's own fresh interpreter per worker."""
    import hypercorn.__main__ as native
    from hypercorn.config import Config

    from .drain import DrainingMaster, serve_single

    own, rest = split(argv)

    def run(config: Config) -> int:
        if own.max_requests_jitter is not None:
            config.max_requests_jitter = own.max_requests_jitter
        if own.no_http2:
            config.alpn_protocols = ["http/1.1"]
        if config.use_reloader:
            print("django_prodserver_hypercorn: --reload is for development; use hypercorn itself", file=sys.stderr)
            return 2
        if config.workers == 0:
            return serve_single(config, own.drain_delay)
        return DrainingMaster(config, own.drain_delay, start_method).run()

    # hypercorn's main() ends with ``return run(config)``: reuse its parser, swap the runner.
    saved: Any = getattr(native, "run")  # noqa: B009
    setattr(native, "run", run)
    try:
        return int(native.main(rest))
    finally:
        setattr(native, "run", saved)


def run(plan: LaunchPlan) -> NoReturn:
    """The in-process host (``Backend.host``): fork the workers from this process when the OS can."""
    import multiprocessing

    fork = "fork" in multiprocessing.get_all_start_methods()
    sys.exit(main(list(plan.args), "fork" if fork else "spawn"))
