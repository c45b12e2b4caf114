"""What every ``python -m celery -A APP <subcommand>`` backend shares: app path, global flags, preflight."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import replace
from typing import ClassVar, NoReturn

from django_prodserver.argv import FlagSpec, flatten, parse
from django_prodserver.backends.base import Backend, LaunchContext
from django_prodserver.conf import where
from django_prodserver.errors import ConfigError
from django_prodserver.options import Option, OptionTable
from django_prodserver.plan import LaunchPlan

#: ``celery`` global options (``python -m celery --help``, celery 5.7): they must come
#: before the subcommand, so the plan moves them there even when given in ARGS or after ``--``.
GLOBAL_ALIASES: Mapping[str, str] = {
    "-A": "--app",
    "--app": "--app",
    "-b": "--broker",
    "--broker": "--broker",
    "--result-backend": "--result-backend",
    "--loader": "--loader",
    "--config": "--config",
    "--workdir": "--workdir",
    "-C": "--no-color",
    "--no-color": "--no-color",
    "-q": "--quiet",
    "--quiet": "--quiet",
    "--version": "--version",
    "--skip-checks": "--skip-checks",
}
GLOBAL_SWITCHES = frozenset({"--no-color", "--quiet", "--version", "--skip-checks"})

#: Environment variables celery itself reads; they silently change the process (--dry-run shows them).
CELERY_AMBIENT_ENV = (
    "CELERY_BROKER_URL",
    "CELERY_BROKER_READ_URL",
    "CELERY_BROKER_WRITE_URL",
    "CELERY_RESULT_BACKEND",
    "CELERY_CONFIG_MODULE",
    "CELERY_LOADER",
    "CELERY_SKIP_CHECKS",
    "SKIP_CHECKS",
    "REMAP_SIGTERM",
    "CELERY_RDBSIG",
)

BROKER_CHECK = Option(
    "broker_check_timeout",
    "float",
    "Seconds prodserver waits to connect to the broker before celery starts; a missing or unreachable "
    "broker then fails at start naming the setting (0 skips the check).",
    default=10.0,
    minimum=0,
    native="(prodserver: one kombu connection before celery starts)",
    reason="celery itself retries forever with a traceback per attempt",
)


def cli_flags(aliases: Mapping[str, str], switches: frozenset[str], *, joined: bool = True) -> FlagSpec:
    """The subcommand's flags plus celery's global ones, as one FlagSpec."""
    return FlagSpec(aliases={**GLOBAL_ALIASES, **aliases}, switches=switches | GLOBAL_SWITCHES, joined=joined)


class CeleryCLI(Backend):
    """Mixin for backends that run ``celery [global options] <subcommand> [options]`` in-process.

    Subclasses set ``subcommand`` and build the subcommand's flags in ``build_args`` after
    ``self.global_args(...)``; the plan keeps every global option before the subcommand.
    """

    module: ClassVar[str] = "celery"
    subcommand: ClassVar[str] = ""
    ambient_env: ClassVar[tuple[str, ...]] = CELERY_AMBIENT_ENV

    def celery_app(self) -> str:
        """``APP`` exactly as written: celery resolves ``proj.celery:app`` and ``proj.celery.app`` alike."""
        if not self.config.app:
            raise ConfigError(
                where(self.config.name, "APP"),
                "is missing: celery needs the app object that holds your tasks and broker settings",
                'add "APP": "mysite.celery:app" (the module that does Celery(...) and '
                'config_from_object("django.conf:settings", namespace="CELERY"))',
            )
        return self.config.app

    def global_args(self) -> list[str]:
        """``-A APP --skip-checks <subcommand>``: Django's checks already ran in ``prodserver``."""
        return ["-A", self.celery_app(), "--skip-checks", self.subcommand]

    def plan(self, ctx: LaunchContext) -> LaunchPlan:
        plan = super().plan(ctx)
        parsed = parse(plan.args, self.flags)
        canon_globals = set(GLOBAL_ALIASES.values())
        front = [a for a in parsed if a.flag in canon_globals]
        rest = [a for a in parsed if a.flag not in canon_globals]
        if plan.options.get("log_format") == "json" and not any(a.flag == "--quiet" for a in front):
            front.insert(0, parse(["--quiet"], self.flags)[0])  # no banner: it is print(), not a log record
        return replace(plan, args=tuple(flatten(front + rest)))

    def in_process(self, opts: OptionTable, ctx: LaunchContext) -> bool:
        # celery's own CLI runs in this process on the plan's argv: Django is set up once, not twice
        # (the former exec measured 0.68-0.71 x native tasks/s counted from process start).
        return True

    def preflight_notes(self, opts: OptionTable) -> list[str]:
        timeout = opts.get("broker_check_timeout")
        notes = [
            "runs celery's own command line in this process (same argv as the command above, same PID), "
            "so Django is set up once; pool children fork from it"
        ]
        if not timeout:
            return [*notes, "broker check disabled (broker_check_timeout 0): an unreachable broker makes celery retry"]
        return [
            *notes,
            f"before starting prodserver imports APP and connects to its broker (at most {timeout:g}s), so a "
            "missing or unreachable broker fails at start naming the setting",
        ]

    def preflight(self, plan: LaunchPlan) -> None:
        """Fail at start, naming the setting, when APP or its broker is missing or down."""
        from .broker import preflight

        timeout = plan.options.get("broker_check_timeout")
        if timeout:
            preflight(plan, self.celery_app(), where(self.config.name, "APP"), float(timeout))

    def run_in_process(self, plan: LaunchPlan) -> NoReturn:
        from celery.bin.celery import celery as celery_cli

        from .jsonlog import use_prodserver_logging

        use_prodserver_logging()

        code = celery_cli.main(args=list(plan.args), prog_name="celery", auto_envvar_prefix="CELERY")
        sys.exit(code or 0)
