"""Django app config: registers the system checks; JSON logging in a child that asks for it."""

from __future__ import annotations

from django.apps import AppConfig


class ProdserverConfig(AppConfig):
    """The ``django_prodserver`` app: commands and checks."""

    name = "django_prodserver"
    verbose_name = "Production processes"
    default_auto_field = "django.db.models.AutoField"

    def ready(self) -> None:
        from django_prodserver import checks  # noqa: F401  (registers the checks)
        from django_prodserver.logs.setup import configure_from_env
        from django_prodserver.settings import profiling, secret_env  # noqa: F401  (their checks)

        configure_from_env()  # a child started with log_format json: Django's LOGGING is applied by now
        _resume_collector_unless_our_command()
        import os

        from django_prodserver.logs import PROCESS_ENV
        from django_prodserver.ops import memhook

        if os.environ.get(PROCESS_ENV):  # a process prodserver started: answer profile --memory
            memhook.install()


def _resume_collector_unless_our_command() -> None:
    """The start's paused collector (``launch.collector``) is resumed by our command; if another
    app's command answers to the word on this command line, nothing of ours would resume it."""
    import sys

    from django_prodserver.launch import collector

    if not collector.paused():
        return
    from django.core.management import get_commands

    if get_commands().get(sys.argv[1]) != "django_prodserver":
        collector.resume(freeze=False)
