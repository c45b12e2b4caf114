"""Which package provides the database task backend and ``db_worker`` in this environment."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass


@dataclass(frozen=True)
class Provider:
    """One home of the database backend: its app, backend class, command and distribution."""

    app: str
    backend: str
    command_module: str
    install: str

    def importable(self) -> bool:
        try:
            return importlib.util.find_spec(self.app) is not None
        except (ImportError, ValueError):
            return False

    def installed_in_django(self) -> bool:
        """True when the app is in INSTALLED_APPS (False when Django's apps are not ready)."""
        from django.apps import apps

        if not apps.ready:
            return False
        return apps.is_installed(self.app)


#: Newest first: django-tasks-db (any Django), then django-tasks < 0.12's built-in backend.
PROVIDERS: tuple[Provider, ...] = (
    Provider(
        app="django_tasks_db",
        backend="django_tasks_db.DatabaseBackend",
        command_module="django_tasks_db.management.commands.db_worker",
        install='pip install django-tasks-db  (Django 5.2: pip install "django-tasks-db[compat]")',
    ),
    Provider(
        app="django_tasks.backends.database",
        backend="django_tasks.backends.database.DatabaseBackend",
        command_module="django_tasks.backends.database.management.commands.db_worker",
        install='pip install "django-tasks<0.12"',
    ),
)


def detect() -> Provider | None:
    """The provider in INSTALLED_APPS if any, else the first importable one, else None."""
    importable = [p for p in PROVIDERS if p.importable()]
    for provider in importable:
        if provider.installed_in_django():
            return provider
    return importable[0] if importable else None


def by_app(app: str) -> Provider:
    return next(p for p in PROVIDERS if p.app == app)
