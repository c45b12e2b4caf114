"""daphne's own command line plus prodserver's drain; one entry for exec and in-process.

``python -m django_prodserver_daphne`` takes every ``daphne`` flag (parsed by daphne's own
parser) plus ``--drain-delay S`` and ``--graceful-timeout S``, and serves with
:class:`~django_prodserver_daphne.draining.DrainingServer`.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence

OWN = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
OWN.add_argument("--drain-delay", type=float, default=0.0)
OWN.add_argument("--graceful-timeout", type=float, default=25.0)

_LEVELS = {0: logging.WARNING, 1: logging.INFO, 2: logging.DEBUG, 3: logging.DEBUG}


def split(argv: Sequence[str]) -> tuple[argparse.Namespace, list[str]]:
    """prodserver's flags, and the rest for daphne's parser."""
    return OWN.parse_known_args(list(argv))


def main(argv: Sequence[str]) -> int:
    """Parse like ``daphne`` and serve with the draining server; 0 after a requested stop."""
    from daphne.cli import CommandLineInterface

    from .draining import DrainingServer

    own, rest = split(argv)
    server_class = type(
        "DrainingServer",
        (DrainingServer,),
        {"drain_delay": own.drain_delay, "graceful_timeout": own.graceful_timeout},
    )
    cli = CommandLineInterface()
    cli.server_class = server_class
    verbosity = cli.parser.parse_known_args(rest)[0].verbosity
    # daphne's basicConfig is a no-op when Django's LOGGING already gave root a handler;
    # keep daphne's own lines (listening, drain) at the level asked for.
    logging.getLogger("daphne").setLevel(_LEVELS.get(verbosity, logging.DEBUG))
    try:
        cli.run(rest)
    except SystemExit as e:
        return int(e.code or 0) if not isinstance(e.code, str) else 1
    return 0
