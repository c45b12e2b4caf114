"""Secret masking in anything printed."""

from __future__ import annotations

from django_prodserver.masking import mask, mask_env


def test_url_passwords_are_masked() -> None:
    assert mask("redis://:s3cret@localhost:6379/0") == "redis://:***@localhost:6379/0"
    assert mask("amqp://guest:guest@127.0.0.1:5672//") == "amqp://guest:***@127.0.0.1:5672//"
    assert mask("--broker=postgresql://u:p%40ss@db/x") == "--broker=postgresql://u:***@db/x"
    assert mask("http://example.com/a:b@c") == "http://example.com/a:b@c"


def test_secret_named_env_values_are_masked_whole() -> None:
    assert mask_env("DATABASE_PASSWORD", "hunter2") == "***"
    assert mask_env("AWS_SECRET_ACCESS_KEY", "abc") == "***"
    assert mask_env("DATABASE_URL", "postgres://u:pw@h/db") == "postgres://u:***@h/db"
    assert mask_env("LOG_LEVEL", "info") == "info"
