"""Settings shape validation: exact key paths, and upstream 3.x files loading unchanged."""

from __future__ import annotations

import pytest

from django_prodserver.errors import ConfigError
from django_prodserver.settings.config import get_processes_setting, load_process, load_processes


class Settings:
    def __init__(self, **kw: object) -> None:
        self.__dict__.update(kw)


def test_missing_setting_says_what_to_add() -> None:
    with pytest.raises(ConfigError) as info:
        get_processes_setting(Settings())
    assert "PRODUCTION_PROCESSES = {" in str(info.value) and info.value.check_id == "prodserver.E001"


def test_setting_must_be_a_dict() -> None:
    with pytest.raises(ConfigError, match="found list"):
        get_processes_setting(Settings(PRODUCTION_PROCESSES=[]))


def test_unknown_key_suggests_the_right_one() -> None:
    with pytest.raises(ConfigError) as info:
        load_process("web", {"BACKEND": "gunicorn", "OPTION": {}})
    assert "PRODUCTION_PROCESSES['web']['OPTION']" in str(info.value)
    assert "did you mean 'OPTIONS'" in str(info.value)


def test_missing_backend() -> None:
    with pytest.raises(ConfigError) as info:
        load_process("web", {"OPTIONS": {}})
    assert "['web']['BACKEND']: is missing" in str(info.value)


def test_env_values_must_be_text() -> None:
    with pytest.raises(ConfigError, match=r"\['ENV'\]\['X'\]"):
        load_process("web", {"BACKEND": "gunicorn", "ENV": {"X": ["no"]}})


def test_upstream_3_readme_settings_load() -> None:
    """The upstream 3.0 README example, verbatim (dotted paths, ARGS dicts, APP)."""
    upstream = {
        "web": {
            "BACKEND": "django_prodserver.backends.servers.gunicorn.GunicornServer",
            "ARGS": {"bind": "0.0.0.0:8111"},
        },
        "worker": {
            "BACKEND": "django_prodserver.backends.workers.celery.CeleryWorker",
            "APP": "tests.celery.app",
            "ARGS": {},
        },
    }
    processes = load_processes(Settings(PRODUCTION_PROCESSES=upstream))
    assert processes["web"].args == ("--bind=0.0.0.0:8111",)
    assert processes["worker"].app == "tests.celery.app"
