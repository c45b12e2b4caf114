"""The ``command`` backend: run one Django management command (``migrate --noinput``...).
With other processes it is one-shot unless ``ONESHOT: False``: it runs before the long-running ones."""

from __future__ import annotations

from typing import ClassVar

from django_prodserver.backends.base import Backend, LaunchContext
from django_prodserver.backends.options import Option
from django_prodserver.errors import ConfigError
from django_prodserver.plan import OptionTable
from django_prodserver.settings.config import where


class CommandBackend(Backend):
    """``{"BACKEND": "command", "ARGS": ["migrate", "--noinput"]}`` runs
    ``python -m django migrate --noinput`` with the project's settings, never through a shell."""

    name = "command"
    kind = "oneshot"
    module = "django"
    options: ClassVar[tuple[Option, ...]] = (
        Option(
            "graceful_timeout",
            "float",
            "Seconds the command gets to finish after a stop is requested, before it is killed.",
            default=25.0,
            minimum=0,
            native="(prodserver: SIGTERM, then SIGKILL after this many seconds)",
            support="prodserver",
        ),
    )

    def validate(self, opts: OptionTable, ctx: LaunchContext) -> None:
        name = self.config.name
        if self.config.app:
            raise ConfigError(
                where(name, "APP"),
                "the command backend takes the management command in ARGS, not APP",
                f'write "ARGS": ["{self.config.app}", ...] and remove APP',
            )
        args = self.config.args
        if not args or args[0].startswith("-"):
            raise ConfigError(
                where(name, "ARGS"),
                "must start with the management command to run" + (f", found {args[0]!r}" if args else ""),
                'write e.g. "ARGS": ["migrate", "--noinput"]',
            )
        known = _known_commands()
        if known is not None and args[0] not in known:
            import difflib

            close = difflib.get_close_matches(args[0], sorted(known), n=1)
            raise ConfigError(
                where(name, "ARGS"),
                f"no management command named {args[0]!r}",
                f"did you mean {close[0]!r}" if close else "check `python manage.py help` for the commands installed",
            )

    def build_args(self, opts: OptionTable, ctx: LaunchContext) -> list[str]:
        return []  # everything is in ARGS (and after --), in the order given

    def notes(self, opts: OptionTable, ctx: LaunchContext) -> list[str]:
        """What the supervisor will do with it: nothing when it runs alone, else per its ONESHOT."""
        if not ctx.companions:
            return []
        from django_prodserver.settings.restart import parse_policy

        policy = parse_policy(self.config.name, self.config.raw, self.kind)
        if policy.oneshot:
            return [
                "one-shot: runs once, before any long-running process starts; if it exits non-zero, "
                "the processes after it do not start"
            ]
        return [f"long-running (ONESHOT is False): starts together with the others; {policy.describe()}"]


def _known_commands() -> set[str] | None:
    """Management command names, or None when Django is not set up (planning stays pure)."""
    try:
        from django.apps import apps
        from django.core.management import get_commands

        if not apps.ready:
            return None
        return set(get_commands())
    except Exception:  # any settings problem: leave the verdict to the command itself
        return None
