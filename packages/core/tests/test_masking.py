"""Secrets in every shape they come in: masked in ``--dry-run``, never written by an export."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.core import checks
from django.core.management import call_command
from django.test import override_settings

from django_prodserver.masking import is_secret, mask, mask_env
from django_prodserver.settings.secret_env import check_secret_env

#: Each value holds the secret ``s3kr1t-VALUE`` in one shape; the name says nothing.
SHAPES = {
    "SENTRY_URL": "https://s3kr1t-VALUE@o447.ingest.sentry.io/5",
    "GIT_REMOTE": "https://s3kr1t-VALUE@git.example.com/org/repo.git",
    "MAPS_URL": "https://maps.example.com/api?region=eu&password=s3kr1t-VALUE&zoom=3",
    "FEED_URL": "https://feed.example.com/x.xml?access_token=s3kr1t-VALUE",
    "PG_CONNINFO": "host=db port=5432 user=app password=s3kr1t-VALUE dbname=app",
    "PG_QUOTED": "host=db password='s3kr1t-VALUE with space' dbname=app",
    "REDIS_AT_IN_PW": "redis://:p@s3kr1t-VALUE@cache:6379/0",
}


@pytest.mark.parametrize(("name", "value"), SHAPES.items())
def test_every_shape_is_masked_and_counts_as_a_secret(name: str, value: str) -> None:
    assert "s3kr1t-VALUE" not in mask(value), mask(value)
    assert "s3kr1t-VALUE" not in mask_env(name, value)
    assert is_secret(name, value)


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("https://tok123@o1.ingest.sentry.io/5", "https://***@o1.ingest.sentry.io/5"),
        ("host=db user=app password=pw dbname=app", "host=db user=app password=*** dbname=app"),
        ("https://h/p?a=1&token=t0k&b=2", "https://h/p?a=1&token=***&b=2"),
        ("--password=hunter2 --port=5", "--password=*** --port=5"),
        ("redis://:pw@host:6379/0", "redis://:***@host:6379/0"),
    ],
)
def test_only_the_secret_part_is_masked(value: str, masked: str) -> None:
    assert mask(value) == masked


@pytest.mark.parametrize(
    "value",
    [
        "redis://127.0.0.1:6379/0",
        "https://example.com/a:b@c",
        "https://example.com/?email=a@b.com",
        "host=db port=5432 dbname=app",
        "info",
        "https://@example.com/",
    ],
)
def test_values_without_a_secret_are_left_alone(value: str) -> None:
    assert mask(value) == value and not is_secret("PLAIN", value)


def test_a_variable_marked_secret_is_masked_whole() -> None:
    assert mask_env("MAPS_REGION", "eu-west") == "eu-west"
    with override_settings(PRODSERVER_SECRET_ENV=["MAPS_REGION"]):
        assert mask_env("MAPS_REGION", "eu-west") == "***"
        assert is_secret("MAPS_REGION", "eu-west")


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("SENTRY_DSN", "expected a list of variable names, found str"),
        (["SENTRY_DSN=https://x@y/1"], "expected environment variable names, found 'SENTRY_DSN=https://x@y/1'"),
        ([3], "expected environment variable names, found 3"),
    ],
)
def test_a_bad_secret_list_is_a_check_error_naming_the_setting(value: Any, problem: str) -> None:
    with override_settings(PRODSERVER_SECRET_ENV=value):
        (error,) = check_secret_env()
    assert isinstance(error, checks.Error) and error.id == "prodserver.E020"
    assert error.msg == f"PRODSERVER_SECRET_ENV: {problem}." and "PRODSERVER_SECRET_ENV = [" in (error.hint or "")
    with override_settings(PRODSERVER_SECRET_ENV=["SENTRY_DSN"]):
        assert check_secret_env() == []


PROCESSES = {"web": {"BACKEND": "gunicorn", "ENV": {**SHAPES, "MAPS_REGION": "region-marked-9"}}}


@pytest.fixture(autouse=True)
def _no_platform_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("PORT", "WEB_CONCURRENCY", "PRODSERVER_OPS_PORT", "PRODSERVER_OPS_HOST", "PRODSERVER_ENV_FILE"):
        monkeypatch.delenv(key, raising=False)


def run(*args: str) -> str:
    out, err = io.StringIO(), io.StringIO()
    with override_settings(PRODUCTION_PROCESSES=PROCESSES, PRODSERVER_SECRET_ENV=["MAPS_REGION"]):
        call_command("prodserver", *args, stdout=out, stderr=err)
    return out.getvalue() + err.getvalue()


def test_dry_run_prints_no_secret_of_any_shape() -> None:
    text = run("web", "--dry-run")
    assert "s3kr1t-VALUE" not in text and "region-marked-9" not in text
    assert "MAPS_REGION=***" in text and "SENTRY_URL=https://***@o447.ingest.sentry.io/5" in text


@pytest.mark.parametrize("fmt", ["compose", "kubernetes", "systemd"])
def test_exports_write_references_for_every_shape(fmt: str) -> None:
    text = run("export", fmt, "--name", "shop")
    assert "s3kr1t-VALUE" not in text and "region-marked-9" not in text
    if fmt == "compose":
        for key in [*SHAPES, "MAPS_REGION"]:
            assert f'{key}: "${{{key}:?' in text  # a reference compose fills from the environment
    if fmt == "kubernetes":
        assert "secretKeyRef" in text and "--from-literal=MAPS_REGION=" in text
