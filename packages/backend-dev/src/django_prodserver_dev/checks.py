"""System checks: a development server in PRODUCTION_PROCESSES (``check --deploy``), bad DEV entries."""

from __future__ import annotations

from typing import Any

from django.core import checks

from django_prodserver.api import ConfigError, get_processes_setting, load_process, where

#: Message texts are constants so tests and docs can refer to them.
W001 = "uses a development server backend"
W001_HINT = (
    "development servers do not drain, may expose a debugger and are not built for load: pick a production "
    "backend (gunicorn, uvicorn, granian...) for this process and put the development one under "
    '"DEV": {"BACKEND": ...}, which only `manage.py devserver` uses'
)


def _entries() -> dict[str, Any]:
    from django.conf import settings

    if not hasattr(settings, "PRODUCTION_PROCESSES"):
        return {}
    try:
        return dict(get_processes_setting())
    except ConfigError:
        return {}  # core's prodserver.E001 reports it


@checks.register("prodserver", deploy=True)
def check_dev_backends_in_production(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """``manage.py check --deploy`` warns about each process whose BACKEND is a development server."""
    from django_prodserver.api import load_backend

    messages: list[checks.CheckMessage] = []
    for name, entry in _entries().items():
        try:
            backend, resolved = load_backend(load_process(name, entry))
        except ConfigError:
            continue  # core's checks report it
        if backend.kind == "dev":
            messages.append(
                checks.Warning(
                    f"{where(name, 'BACKEND')} = {entry.get('BACKEND')!r} {W001} ({resolved.name})",
                    hint=W001_HINT,
                    id="prodserver_dev.W001",
                    obj=where(name),
                )
            )
    return messages


@checks.register("prodserver")
def check_dev_overrides(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Each ``DEV`` override must make a valid process, exactly as ``devserver`` would plan it."""
    from django_prodserver.api import LaunchContext

    from .overrides import dev_config

    messages: list[checks.CheckMessage] = []
    ctx = None
    for name, entry in _entries().items():
        if not isinstance(entry, dict) or "DEV" not in entry:
            continue
        try:
            from django_prodserver.api import plan_process

            ctx = ctx or LaunchContext.from_django()
            plan_process(dev_config(load_process(name, entry)), ctx)
        except ConfigError as e:
            messages.append(checks.Error(e.message, hint=e.fix or None, id="prodserver_dev.E001", obj=where(name)))
    return messages
