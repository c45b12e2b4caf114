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
        from django_prodserver.ops import checks as ops_checks  # noqa: F401  (the ops endpoint's)

        configure_from_env()  # a child started with log_format json: Django's LOGGING is applied by now
