"""``python -m django_prodserver.logs.run MODULE ARGS...``: JSON logging, then ``python -m MODULE``.

For exec'd native CLIs that configure logging before any prodserver code runs in them (the
dramatiq main process): the root logger gets the JSON handler first, so the server's own
records are JSON from its first line (it must be told not to basicConfig over it)."""

from __future__ import annotations

import runpy
import sys
from dataclasses import replace

from django_prodserver.logs.setup import configure_from_env
from django_prodserver.plan import LaunchPlan

MODULE = "django_prodserver.logs.run"


def main(argv: list[str]) -> None:
    if not argv:
        raise SystemExit("usage: python -m django_prodserver.logs.run MODULE [ARGS...]")
    configure_from_env()
    sys.argv = [argv[0], *argv[1:]]
    runpy.run_module(argv[0], run_name="__main__", alter_sys=True)


def json_program(plan: LaunchPlan) -> LaunchPlan:
    """The plan, its ``python -m MODULE`` run through this module when log_format is json."""
    program = tuple(plan.program)
    if plan.options.get("log_format") != "json" or len(program) != 3 or program[1] != "-m":
        return plan
    return replace(plan, program=(program[0], "-m", MODULE, program[2]))


if __name__ == "__main__":
    main(sys.argv[1:])
