"""Which system checks run before a start: all of them but those the code alone decides.

Two Django checks grow with the project and depend on nothing a start can change: the model
definitions (``check_all_models``) and the ModelAdmin classes (``check_admin_app``). On 40 apps x
20 models they are most of the start-up cost over a native server (benchmarks/startup_big.py),
and they fail exactly the same way in ``manage.py check``, ``migrate``, ``makemigrations``,
``runserver``/``devserver`` and ``test``, which run before any deploy of that code. Django 5.2's
``migrate_and_makemigrations_autodetector`` is the third: it compares two command classes, and
importing them and the migration autodetector was 8 ms of the ~65 ms that prodserver adds to
waitress' time to first 200. Every check that reads settings, the environment or
PRODUCTION_PROCESSES still runs and still stops the start.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

#: ``module.function`` of the checks left to the commands above (see the module docstring).
CODE_ONLY_CHECKS: frozenset[str] = frozenset(
    {
        "django.core.checks.model_checks.check_all_models",
        "django.contrib.admin.checks.check_admin_app",
        "django.core.checks.commands.migrate_and_makemigrations_autodetector",  # Django >= 5.2
    }
)


def check_name(check: Callable[..., Any]) -> str:
    return f"{getattr(check, '__module__', '')}.{getattr(check, '__qualname__', '')}"


@contextmanager
def start_checks_only() -> Iterator[frozenset[str]]:
    """Within the block Django's check registry holds only the checks a start runs; yields the
    names left out. The registry is restored on exit (a management command is single-threaded)."""
    from django.core.checks.registry import registry

    left_out = {c for c in registry.registered_checks if check_name(c) in CODE_ONLY_CHECKS}
    registry.registered_checks -= left_out
    try:
        yield frozenset(check_name(c) for c in left_out)
    finally:
        registry.registered_checks |= left_out
