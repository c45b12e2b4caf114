"""The host plan: a host's own settings travel in one JSON variable, typed, never as argv to re-parse."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import pytest

from django_prodserver.backends.argv import FlagSpec
from django_prodserver.backends.base import LaunchContext, WebBackend
from django_prodserver.backends.hostplan import HOST_PLAN_ENV, HostPlan, HostPlanError
from django_prodserver.backends.options import WEB_OPTIONS, Option, OptionTable
from django_prodserver.ops.address import host_port
from django_prodserver.plan import LaunchPlan
from django_prodserver.settings.config import load_process

W = WEB_OPTIONS


class Hosted(WebBackend):
    """An in-process server whose CLI has ``--threads``; the drain and the bind are the host's own."""

    name = "hosted"
    launch = "in-process"
    flags: ClassVar[FlagSpec] = FlagSpec(switches=frozenset({"--access-log", "--no-access-log"}), joined=False)
    options: ClassVar[tuple[Option, ...]] = (
        W["host"],
        W["port"],
        W["socket"],
        W["threads"].declare(flag="--threads"),
        W["drain_delay"].declare(flag="--drain-delay"),
        W["graceful_timeout"].declare(flag="--graceful-timeout"),
        W["access_log"].declare(switch=("--access-log", "--no-access-log")),
    )
    host_options: ClassVar[tuple[str, ...]] = (
        "host",
        "port",
        "socket",
        "drain_delay",
        "graceful_timeout",
        "access_log",
    )

    def build_args(self, opts: OptionTable, ctx: LaunchContext) -> list[str]:
        return [*self.native_args(opts, "threads"), "app"]


@dataclass(frozen=True)
class Settings:
    """What the host reads, with the defaults of ``python -m`` alone."""

    host: str = "127.0.0.1"
    port: int = 8000
    socket: str | None = None
    drain_delay: float = 0.0
    graceful_timeout: float = 25.0
    access_log: bool = True


CTX = LaunchContext(environ={}, cwd="/srv", wsgi_application="mysite.wsgi.application")


def plan(ctx: LaunchContext = CTX, **entry: Any) -> LaunchPlan:
    result: LaunchPlan = Hosted(load_process("web", {"BACKEND": "hosted", **entry})).plan(ctx)
    return result


def test_ipv6_bind_round_trips_typed_through_the_environment() -> None:
    planned = plan(OPTIONS={"host": "::1", "port": 8111, "drain_delay": 3, "access_log": False})
    got = HostPlan.from_environ({**planned.env}).read(Settings)
    assert got == Settings(host="::1", port=8111, socket=None, drain_delay=3.0, graceful_timeout=25.0, access_log=False)
    assert isinstance(got.drain_delay, float) and host_port(got.host, got.port) == "[::1]:8111"
    assert planned.listen == "http://[::1]:8111/" and planned.ready.http_url == "http://[::1]:8111/"


def test_unix_socket_round_trips_and_the_argv_keeps_only_the_servers_flags() -> None:
    planned = plan(OPTIONS={"socket": "/run/web sock/app.sock", "threads": 4})
    got = HostPlan.from_environ(planned.env).read(Settings)
    assert got.socket == "/run/web sock/app.sock" and planned.listen == "unix:/run/web sock/app.sock"
    assert planned.args == ("--threads", "4", "app")


def test_the_hosts_flags_in_args_and_after_dashdash_reach_it_in_the_plan_not_the_argv() -> None:
    ctx = LaunchContext(environ={}, cwd="/srv", wsgi_application="m.wsgi.application", native_args=("--no-access-log",))
    planned = plan(ctx, ARGS=["--drain-delay", "4", "--graceful-timeout=9", "--threads", "2"])
    got = HostPlan.from_environ(planned.env).read(Settings)
    assert (got.drain_delay, got.graceful_timeout, got.access_log) == (4.0, 9.0, False)
    assert planned.options.source("drain_delay") == "settings ARGS --drain-delay"
    assert planned.args == ("app", "--threads", "2")


def test_dry_run_shows_the_plan_the_host_gets() -> None:
    planned = plan(OPTIONS={"host": "::1", "drain_delay": 1.5})
    text = planned.describe()
    assert f"    {HOST_PLAN_ENV}={planned.env[HOST_PLAN_ENV]}" in text
    assert '"drain_delay":1.5' in text and '"host":"::1"' in text


def test_a_host_run_alone_gets_its_defaults_and_a_wrong_plan_is_named() -> None:
    assert HostPlan.from_environ({}).read(Settings) == Settings()
    with pytest.raises(HostPlanError, match=r"PRODSERVER_HOST_PLAN\['port'\] is '80' \(str\), expected int"):
        HostPlan.from_environ({HOST_PLAN_ENV: '{"port": "80"}'}).read(Settings)
    with pytest.raises(HostPlanError, match="expected int"):
        HostPlan.loads('{"port": true}').get("port", 8000)
    with pytest.raises(HostPlanError, match="not JSON"):
        HostPlan.loads("drain_delay=2")
    with pytest.raises(HostPlanError, match="JSON object"):
        HostPlan.loads("[1]")


@pytest.mark.parametrize(
    ("host", "expected"),
    [("127.0.0.1", "127.0.0.1:80"), ("::", "[::]:80"), ("[::1]", "[::1]:80"), ("web-1.internal", "web-1.internal:80")],
)
def test_host_port_brackets_ipv6_once(host: str, expected: str) -> None:
    assert host_port(host, 80) == expected
