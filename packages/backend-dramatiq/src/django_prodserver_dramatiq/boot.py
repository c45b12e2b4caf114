"""The broker module ``python -m dramatiq`` imports in each worker process: Django, broker, tasks.

Importing it is the point (dramatiq's CLI takes a module that sets the broker up), so this
module has side effects by design; the backend module never imports it.
"""

from __future__ import annotations

import importlib
import logging
import os
import pkgutil

import django
from django.conf import settings

from ._broker import configure_broker

LOG_LEVEL_ENV = "PRODSERVER_DRAMATIQ_LOG_LEVEL"
AUTODISCOVER_ENV = "PRODSERVER_DRAMATIQ_AUTODISCOVER"


def uses_django_dramatiq() -> bool:
    return any(app == "django_dramatiq" or app.startswith("django_dramatiq.") for app in settings.INSTALLED_APPS)


def discover_task_modules() -> list[str]:
    """Each app's tasks modules, by django-dramatiq's rules (DRAMATIQ_AUTODISCOVER_MODULES,
    DRAMATIQ_IGNORED_MODULES, packages walked), so both launches import the same actors."""
    from django.apps import apps
    from django.utils.module_loading import module_has_submodule

    names = tuple(getattr(settings, "DRAMATIQ_AUTODISCOVER_MODULES", ("tasks",)))
    ignored = set(getattr(settings, "DRAMATIQ_IGNORED_MODULES", ()))

    def is_ignored(module: str) -> bool:
        parts = module.split(".")
        return module in ignored or any(".".join(parts[:i]) + ".*" in ignored for i in range(1, len(parts)))

    found: list[str] = []
    for conf in apps.get_app_configs():
        wanted = ("tasks",) if conf.name == "django_dramatiq" else names
        for sub in wanted:
            if not module_has_submodule(conf.module, sub):
                continue
            module = f"{conf.name}.{sub}"
            if is_ignored(module):
                continue
            imported = importlib.import_module(module)
            if hasattr(imported, "__path__"):
                found += [n for _, n, _ in pkgutil.walk_packages(imported.__path__, module + ".") if not is_ignored(n)]
            else:
                found.append(module)
    return found


def boot() -> None:
    """Set the broker before Django imports any actor, set Django up, then import the tasks."""
    if not uses_django_dramatiq():
        # django-dramatiq's AppConfig does this itself; without it, same schema, same result.
        configure_broker()
    django.setup()  # log_format json: django_prodserver's ready() JSON-formats the worker's handlers
    # The project's LOGGING may disable or silence dramatiq's loggers (created before setup);
    # the worker's own lifecycle lines ("ready for action") must stay visible at log_level.
    level = os.environ.get(LOG_LEVEL_ENV, "")
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if isinstance(logger, logging.Logger) and (name == "dramatiq" or name.startswith("dramatiq.")):
            logger.disabled = False
    if level:
        logging.getLogger("dramatiq").setLevel(level.upper())
    if os.environ.get(AUTODISCOVER_ENV, "1") == "1":
        for module in discover_task_modules():
            importlib.import_module(module)
    import dramatiq

    from ._tasks import report_tasks

    report_tasks(dramatiq.get_broker())  # task lines (JSON logs) and metrics (ops endpoint), when on


boot()
