"""Option validation, coercion and precedence (pure logic)."""

from __future__ import annotations

import pytest

from django_prodserver.backends.options import WEB_OPTIONS, Option, resolve_options
from django_prodserver.errors import ConfigError

W = WEB_OPTIONS
DECLARED = (W["host"], W["port"], W["workers"], W["access_log"], W["forwarded_allow_ips"])


def resolve(configured=None, overrides=None, environ=None):
    return resolve_options(
        DECLARED,
        WEB_OPTIONS,
        configured or {},
        overrides or {},
        environ or {},
        where="P['web']['OPTIONS']",
        backend="x",
    )


def test_precedence_default_env_options_set() -> None:
    assert resolve().source("port") == "default" and resolve()["port"] == 8000
    assert resolve(environ={"PORT": "9000"})["port"] == 9000
    assert resolve(environ={"PORT": "9000"}).source("port") == "env PORT"
    table = resolve({"port": 7000}, environ={"PORT": "9000"})
    assert (table["port"], table.source("port")) == (7000, "settings OPTIONS")
    table = resolve({"port": 7000}, {"port": "6000"}, {"PORT": "9000"})
    assert (table["port"], table.source("port")) == (6000, "command line --set")


def test_host_follows_platform_port() -> None:
    assert resolve()["host"] == "127.0.0.1"
    assert resolve(environ={"PORT": "9000"})["host"] == "0.0.0.0"


def test_web_concurrency_sets_workers() -> None:
    assert resolve(environ={"WEB_CONCURRENCY": "3"})["workers"] == 3


def test_wrong_type_names_key_expected_and_found() -> None:
    with pytest.raises(ConfigError) as info:
        resolve({"workers": "4"})
    msg = str(info.value)
    assert "P['web']['OPTIONS']['workers']" in msg and "expected an integer" in msg and "'4' (str)" in msg


def test_bool_is_not_an_int() -> None:
    with pytest.raises(ConfigError):
        resolve({"workers": True})


def test_bad_env_value_names_the_variable() -> None:
    with pytest.raises(ConfigError) as info:
        resolve(environ={"WEB_CONCURRENCY": "lots"})
    assert "WEB_CONCURRENCY" in str(info.value)


def test_range_is_checked() -> None:
    with pytest.raises(ConfigError) as info:
        resolve({"port": 70000})
    assert "at most 65535" in str(info.value)


def test_unknown_option_suggests_the_close_name() -> None:
    with pytest.raises(ConfigError) as info:
        resolve({"worker": 2})
    assert "['worker']" in str(info.value) and "did you mean 'workers'" in str(info.value)


def test_uniform_option_the_backend_lacks_is_refused() -> None:
    with pytest.raises(ConfigError) as info:
        resolve({"http2": True})
    assert "cannot honour the uniform option 'http2'" in str(info.value)


def test_set_is_validated_too() -> None:
    with pytest.raises(ConfigError) as info:
        resolve(overrides={"nope": "1"})
    assert "--set nope" in str(info.value)


def test_text_coercion() -> None:
    assert resolve(overrides={"access_log": "off"})["access_log"] is False
    assert resolve(overrides={"forwarded_allow_ips": "10.0.0.1, 10.0.0.2"})["forwarded_allow_ips"] == [
        "10.0.0.1",
        "10.0.0.2",
    ]
    with pytest.raises(ConfigError):
        resolve(overrides={"access_log": "maybe"})


def test_choices_are_enforced() -> None:
    opt = Option("level", "choice", "doc", choices=("a", "b"))
    with pytest.raises(ConfigError) as info:
        opt.validate("c", "here")
    assert "'a', 'b'" in str(info.value)


def test_refusal_carries_the_backends_reason() -> None:
    with pytest.raises(ConfigError) as info:
        resolve_options(
            DECLARED, WEB_OPTIONS, {"http2": True}, {}, {}, where="w", backend="x", refused={"http2": "no ALPN support"}
        )
    assert "cannot honour the uniform option 'http2' (no ALPN support)" in str(info.value)
