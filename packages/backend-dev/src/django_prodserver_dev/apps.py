"""Django app config: makes ``manage.py devserver`` available and registers the deploy check."""

from __future__ import annotations

from django.apps import AppConfig


class ProdserverDevConfig(AppConfig):
    """``"django_prodserver_dev"`` in INSTALLED_APPS: the devserver command and prodserver_dev checks."""

    name = "django_prodserver_dev"
    verbose_name = "Development processes"
    default_auto_field = "django.db.models.AutoField"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the checks)
