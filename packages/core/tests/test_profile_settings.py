"""PRODSERVER_PROFILE_REQUESTS: validated shape (prodserver.E030), the token read from the
environment or a file and never from settings, and the layer in the plan exactly when on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core import checks
from django.test import override_settings

from django_prodserver.backends.registry import installed_backends
from django_prodserver.errors import ConfigError
from django_prodserver.masking import mask_env
from django_prodserver.served.profiling import LAYER
from django_prodserver.settings.profiling import (
    ProfileConfig,
    check_profile_requests,
    load_profile_config,
    prepare_directory,
    read_token,
)
from django_prodserver.testing.plugin import plan_for

TOKEN = "a-token-of-enough-length-42"


@pytest.mark.parametrize(
    ("value", "where", "problem"),
    [
        ("yes", "PRODSERVER_PROFILE_REQUESTS", "expected True or a dict, found str"),
        ({"TOKEN": TOKEN}, "PRODSERVER_PROFILE_REQUESTS['TOKEN']", "the token must not be written in settings"),
        ({"DIRECTORY": "/tmp"}, "PRODSERVER_PROFILE_REQUESTS['DIRECTORY']", "unknown key 'DIRECTORY'"),
        (
            {"TOKEN_ENV": "A", "TOKEN_FILE": "/f"},
            "PRODSERVER_PROFILE_REQUESTS",
            "has both 'TOKEN_ENV' and 'TOKEN_FILE'",
        ),
        ({"TOKEN_ENV": ""}, "PRODSERVER_PROFILE_REQUESTS['TOKEN_ENV']", "expected a non-empty string, found ''"),
        (
            {"TOKEN_ENV": f"X={TOKEN}"},
            "PRODSERVER_PROFILE_REQUESTS['TOKEN_ENV']",
            "expected the name of an environment",
        ),
    ],
)
def test_a_bad_setting_is_check_error_e030_naming_the_key(value: Any, where: str, problem: str) -> None:
    with override_settings(PRODSERVER_PROFILE_REQUESTS=value):
        (error,) = check_profile_requests()
    assert isinstance(error, checks.Error) and error.id == "prodserver.E030"
    assert error.msg.startswith(f"{where}: {problem}"), error.msg
    assert TOKEN not in error.msg + (error.hint or "")


@pytest.mark.parametrize("value", [None, False, True, {"TOKEN_FILE": "/run/secrets/t", "DIR": "/var/tmp/p"}])
def test_good_settings_pass_the_check_without_reading_the_token(value: Any) -> None:
    with override_settings(PRODSERVER_PROFILE_REQUESTS=value):
        assert check_profile_requests() == []


@pytest.mark.parametrize(
    ("environ", "problem"),
    [
        ({}, "is empty or not set"),
        ({"PRODSERVER_PROFILE_TOKEN": "  "}, "is empty or not set"),
        ({"PRODSERVER_PROFILE_TOKEN": "short"}, "shorter than 16"),
    ],
)
def test_an_empty_or_short_token_is_refused_naming_the_variable_and_key(environ: dict[str, str], problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        read_token(ProfileConfig(), environ)
    text = caught.value.message
    assert "environment variable PRODSERVER_PROFILE_TOKEN" in text and "['TOKEN_ENV']" in text and problem in text
    assert "secrets.token_urlsafe" in text


def test_the_token_comes_from_a_file_stripped(tmp_path: Path) -> None:
    path = tmp_path / "token"
    config = ProfileConfig(token_env=None, token_file=str(path))
    with pytest.raises(ConfigError, match=r"TOKEN_FILE.*cannot be read"):
        read_token(config, {})
    path.write_text("\n")
    with pytest.raises(ConfigError, match="is empty"):
        read_token(config, {})
    path.write_text(f"  {TOKEN}\n")
    assert read_token(config, {}) == TOKEN.encode()


def test_the_token_variable_is_masked_whatever_its_name() -> None:
    assert mask_env("PROFILING_WORD", TOKEN) == TOKEN
    with override_settings(PRODSERVER_PROFILE_REQUESTS={"TOKEN_ENV": "PROFILING_WORD"}):
        assert load_profile_config() == ProfileConfig(token_env="PROFILING_WORD")
        assert mask_env("PROFILING_WORD", TOKEN) == "***"


@pytest.mark.parametrize("backend", ["gunicorn", "uvicorn"])
def test_the_layer_is_in_the_plan_exactly_when_profiling_is_on(backend: str) -> None:
    """Off: the app is served as is (no wrapper, no layer). On: the profiler is the innermost layer."""
    if backend not in installed_backends():  # the core-only legs install no server but gunicorn
        pytest.skip(f"django-prodserver-{backend} is not installed")
    plain = plan_for(backend)
    assert "PRODSERVER_APP_LAYERS" not in plain.env
    assert not any("profiling" in line for line in plain.announcements)
    with override_settings(PRODSERVER_PROFILE_REQUESTS=True):
        plan = plan_for(backend, {"log_format": "json"})
    layers = plan.env["PRODSERVER_APP_LAYERS"].split(",")
    assert layers[0] == LAYER and len(layers) > 1
    assert "django_prodserver.served." in " ".join(plan.args)
    # Every start says so: profiling is something an operator turns off again.
    assert any("request profiling is on" in line and "PRODSERVER_PROFILE_TOKEN" in line for line in plan.announcements)


def test_a_directory_that_cannot_be_created_is_refused_naming_dir(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    with pytest.raises(ConfigError, match=r"PRODSERVER_PROFILE_REQUESTS\['DIR'\]: .*cannot be created"):
        prepare_directory(ProfileConfig(directory=str(tmp_path / "a-file" / "profiles")))
    prepare_directory(ProfileConfig(directory=str(tmp_path / "profiles")))
    assert (tmp_path / "profiles").stat().st_mode & 0o777 == 0o700
