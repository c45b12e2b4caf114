"""``settings.PRODSERVER_SECRET_ENV``: variable names whose values are secrets whatever their name
(``["SENTRY_DSN", "MAPS_URL"]``): masked whole in ``--dry-run``, kept out of every exported file."""

from __future__ import annotations

from typing import Any

from django.core import checks

from django_prodserver.errors import ConfigError

SETTING = "PRODSERVER_SECRET_ENV"
CHECK_ID = "prodserver.E020"
_EXAMPLE = f'{SETTING} = ["SENTRY_DSN", "MY_SERVICE_URL"]'


def load_secret_env(settings: Any = None) -> frozenset[str]:
    """The names listed, validated. Raises :class:`ConfigError` (``prodserver.E020``) naming the bad item."""
    if settings is None:
        from django.conf import settings as django_settings

        settings = django_settings
    value = getattr(settings, SETTING, None)
    if value is None:
        return frozenset()
    if isinstance(value, str) or not isinstance(value, (list, tuple, set, frozenset)):
        raise ConfigError(
            SETTING,
            f"expected a list of variable names, found {type(value).__name__}",
            f"write {_EXAMPLE}",
            check_id=CHECK_ID,
        )
    for item in value:
        if not isinstance(item, str) or not item or "=" in item or any(c.isspace() for c in item):
            raise ConfigError(
                SETTING,
                f"expected environment variable names, found {item!r}",
                f"list names only, no values: {_EXAMPLE}",
                check_id=CHECK_ID,
            )
    return frozenset(value)


@checks.register("prodserver")
def check_secret_env(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    try:
        load_secret_env()
    except ConfigError as e:
        return [checks.Error(e.problem_text, hint=e.fix or None, id=e.check_id)]
    return []
