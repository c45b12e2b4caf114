"""Upstream django-prodserver 2.x/3.x backend paths, mapped to today's entry points."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class LegacyAlias:
    """An upstream dotted path: the entry point that replaces it, and options it implied."""

    entry_point: str
    options: Mapping[str, Any] = field(default_factory=dict)

    def spelling(self) -> str:
        """The new settings to write, shown in the deprecation warning."""
        text = f'"BACKEND": "{self.entry_point}"'
        if self.options:
            opts = ", ".join(f'"{k}": {v!r}' for k, v in self.options.items())
            text += f', "OPTIONS": {{{opts}}}'
        return text


def _both(module: str, cls: str, alias: LegacyAlias, *, flat: str | None = None) -> dict[str, LegacyAlias]:
    """3.x kept both ``backends.servers.X`` and the 2.x flat ``backends.X`` module."""
    out = {f"django_prodserver.backends.{module}.{cls}": alias}
    out[f"django_prodserver.backends.{flat or module.split('.')[-1]}.{cls}"] = alias
    return out


LEGACY_BACKENDS: dict[str, LegacyAlias] = {
    **_both("servers.gunicorn", "GunicornServer", LegacyAlias("gunicorn")),
    **_both("servers.uvicorn", "UvicornServer", LegacyAlias("uvicorn", {"interface": "asgi"})),
    **_both("servers.uvicorn", "UvicornWSGIServer", LegacyAlias("uvicorn", {"interface": "wsgi"})),
    **_both("servers.granian", "GranianASGIServer", LegacyAlias("granian", {"interface": "asgi"})),
    **_both("servers.granian", "GranianWSGIServer", LegacyAlias("granian", {"interface": "wsgi"})),
    **_both("servers.waitress", "WaitressServer", LegacyAlias("waitress")),
    **_both("servers.flower", "CeleryFlower", LegacyAlias("flower"), flat="flower"),
    **_both("workers.celery", "CeleryWorker", LegacyAlias("celery-worker"), flat="celery"),
    **_both("workers.celery", "CeleryBeat", LegacyAlias("celery-beat"), flat="celery"),
    **_both("workers.django_tasks", "DjangoTasksWorker", LegacyAlias("django-tasks")),
    **_both("workers.django_q2", "DjangoQ2Worker", LegacyAlias("django-q2")),
    **_both("dev.django_runserver", "DjangoRunserver", LegacyAlias("runserver")),
    **_both("dev.daphne", "DaphneRunserver", LegacyAlias("daphne-runserver"), flat="daphne"),
    **_both("dev.werkzeug", "WerkzeugRunserver", LegacyAlias("werkzeug")),
    **_both("dev.werkzeug", "RunserverPlus", LegacyAlias("runserver-plus")),
}

#: Which ``django-prodserver[extra]`` provides each of our entry-point names.
KNOWN_EXTRAS: Mapping[str, str] = {
    "gunicorn": "gunicorn",
    "uvicorn": "uvicorn",
    "granian": "granian",
    "waitress": "waitress",
    "hypercorn": "hypercorn",
    "daphne": "daphne",
    "celery": "celery",
    "celery-worker": "celery",
    "celery-beat": "celery",
    "flower": "flower",
    "django-tasks": "django-tasks",
    "django-q2": "django-q2",
    "dramatiq": "dramatiq",
    "rq": "rq",
    "runserver": "dev",
    "runserver-plus": "dev",
    "werkzeug": "dev",
    "daphne-runserver": "dev",
    "uvicorn-reload": "dev",
    "granian-reload": "dev",
}
