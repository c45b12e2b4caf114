"""core's preflight helpers: bounded, never raising, passwords masked, one ConfigError shape."""

from __future__ import annotations

import socket
import threading

import pytest

from django_prodserver import preflight
from django_prodserver.backends.options import WORKER_OPTIONS
from django_prodserver.errors import ConfigError


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # bound then closed: nothing listens


def test_bounded_returns_none_the_error_or_a_timeout() -> None:
    assert preflight.bounded(lambda: None, 1.0) is None
    assert preflight.bounded(lambda: int("x"), 1.0) == "ValueError: invalid literal for int() with base 10: 'x'"
    release = threading.Event()
    try:  # the callable would wait forever: the bound decides
        assert preflight.bounded(release.wait, 0.3) == "no answer within 0.3s"
    finally:
        release.set()


def test_probe_tcp_and_url_against_a_real_listener_and_a_closed_port() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        assert preflight.probe_tcp("127.0.0.1", port, 2) is None
        assert preflight.probe_url(f"redis://:pw@127.0.0.1:{port}/0", 2) is None
    dead = closed_port()
    assert "ConnectionRefusedError" in (preflight.probe_tcp("127.0.0.1", dead, 2) or "")
    assert (preflight.probe_url(f"redis://127.0.0.1:{dead}/0", 2) or "").startswith(f"127.0.0.1:{dead} (")
    assert "no default one" in (preflight.probe_url("weird://host", 2) or "")


def test_check_reachable_is_a_config_error_naming_the_setting_with_the_password_masked() -> None:
    url = f"redis://:hunter2@127.0.0.1:{closed_port()}/0"
    with pytest.raises(ConfigError) as info:
        preflight.check_reachable(url, "settings.BROKER_URL", 2)
    message = info.value.message
    assert message.startswith("settings.BROKER_URL: cannot reach the broker at redis://:***@127.0.0.1:")
    assert "(waited up to 2s)" in message and "hunter2" not in message
    assert message.endswith("OPTIONS['preflight_timeout'] = 0 skips this check.")


def test_preflight_timeout_is_one_uniform_worker_option() -> None:
    option = WORKER_OPTIONS[preflight.OPTION]
    assert option.kind == "float" and option.default == preflight.DEFAULT_TIMEOUT == 5.0 and option.minimum == 0
    assert preflight.timeout_of({}) == 5.0 and preflight.timeout_of({"preflight_timeout": 0}) == 0.0
