"""Native flags in ARGS and after ``--`` read back into the plan: what runs is what is shown."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from django_prodserver.backends.argv import FlagSpec, parse
from django_prodserver.backends.base import LaunchContext, WebBackend, WorkerBackend
from django_prodserver.backends.native import CONFLICT_ID, bind_reader, read_native
from django_prodserver.backends.options import WEB_OPTIONS, WORKER_OPTIONS, Option
from django_prodserver.errors import ConfigError
from django_prodserver.plan import LaunchPlan, OptionTable
from django_prodserver.settings.config import load_process, normalise_args

BIND = (("-b", bind_reader(8000)),)


class Server(WebBackend):
    """A web server shaped like gunicorn: ``-b HOST:PORT`` (or ``unix:PATH``) and ``-w N``."""

    name = "server"
    flags: ClassVar[FlagSpec] = FlagSpec(aliases={"-b": "--bind", "--bind": "--bind", "-w": "--workers"})
    options: ClassVar[tuple[Option, ...]] = (
        WEB_OPTIONS["host"].declare(reads=BIND),
        WEB_OPTIONS["port"].declare(reads=BIND),
        WEB_OPTIONS["socket"].declare(reads=BIND),
        WEB_OPTIONS["workers"].declare(flag="-w"),
    )

    def build_args(self, opts: OptionTable, ctx: LaunchContext) -> list[str]:
        bind = f"unix:{opts['socket']}" if opts["socket"] else f"{opts['host']}:{opts['port']}"
        return ["app", "-b", bind, *self.native_args(opts, "workers")]

    def unset_env(self, opts: OptionTable, ctx: LaunchContext) -> tuple[str, ...]:
        return ("SERVER_CMD_ARGS",)


class Worker(WorkerBackend):
    """A task worker shaped like celery's: ``-c/--concurrency``, ``-Q``, ``-l``, ``-E``."""

    name = "worker"
    flags: ClassVar[FlagSpec] = FlagSpec(
        aliases={
            "-c": "--concurrency",
            "--concurrency": "--concurrency",
            "-Q": "--queues",
            "-l": "--loglevel",
            "-E": "--events",
        },
        switches=frozenset({"--events"}),
    )
    options: ClassVar[tuple[Option, ...]] = (
        WORKER_OPTIONS["concurrency"].declare(flag="-c"),
        WORKER_OPTIONS["queues"].declare(flag="-Q"),
        WORKER_OPTIONS["log_level"].declare(flag="-l"),
        Option("events", "bool", "Send task events.", default=False, switch=("-E", "")),
    )

    def build_args(self, opts: OptionTable, ctx: LaunchContext) -> list[str]:
        return ["worker", *self.native_args(opts, "concurrency", "queues", "log_level", "events")]


CTX = LaunchContext(environ={}, cwd="/srv", wsgi_application="mysite.wsgi.application")


def plan(cls: type[Any], ctx: LaunchContext = CTX, **entry: Any) -> LaunchPlan:
    backend = cls(load_process("p", {"BACKEND": cls.name, **entry}))
    result: LaunchPlan = backend.plan(ctx)
    return result


def values(p: LaunchPlan, *names: str) -> list[tuple[Any, str]]:
    return [(p.options[n], p.options.source(n)) for n in names]


# -- reading ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0.0.0.0:8111", {"host": "0.0.0.0", "port": "8111"}),
        ("[::1]:9000", {"host": "::1", "port": "9000"}),
        (":8000", {"host": "0.0.0.0", "port": "8000"}),
        ("tcp://10.0.0.5:80", {"host": "10.0.0.5", "port": "80"}),
        ("localhost", {"host": "localhost", "port": 8000}),
        ("unix:/run/web.sock", {"socket": "/run/web.sock"}),
        ("fd://3", {}),
    ],
)
def test_bind_forms(text: str, expected: dict[str, Any]) -> None:
    assert dict(bind_reader(8000)(text)) == expected


def test_short_flag_with_its_value_attached_is_one_argument() -> None:
    spec = Worker.flags
    assert [(a.flag, a.tokens) for a in parse(["-c8", "-E", "-Qa,b"], spec)] == [
        ("--concurrency", ("-c8",)),
        ("--events", ("-E",)),
        ("--queues", ("-Qa,b",)),
    ]


@pytest.mark.parametrize(
    "args",
    [["-c", "8"], ["--concurrency=8"], ["--concurrency", "8"], ["-c8"], {"concurrency": 8}, "-c 8"],
)
def test_every_spelling_of_a_flag_is_read(args: Any) -> None:
    argv = normalise_args(args, "ARGS")
    found = read_native(Worker.options, Worker.flags, argv, source="settings ARGS", where="ARGS")
    assert found["concurrency"].value == 8


def test_native_choices_compare_case_insensitively_and_unknown_levels_are_kept() -> None:
    found = read_native(Worker.options, Worker.flags, ["-l", "INFO"], source="s", where="ARGS")
    assert found["log_level"].value == "info"
    found = read_native(Worker.options, Worker.flags, ["-l", "trace"], source="s", where="ARGS")
    assert found["log_level"].value == "trace"  # the server's own level: kept, not hidden


def test_a_value_of_the_wrong_type_names_args_and_the_flag() -> None:
    with pytest.raises(ConfigError) as info:
        plan(Worker, ARGS=["-c", "many"])
    assert "PRODUCTION_PROCESSES['p']['ARGS'] '-c many'" in str(info.value) and "expected an integer" in str(info.value)


# -- the plan ----------------------------------------------------------------------------


def test_args_alone_set_the_plan_value_with_their_source() -> None:
    p = plan(Worker, ARGS=["-c", "8", "-Q", "high,low", "-E"])
    assert values(p, "concurrency", "queues", "events") == [
        (8, "settings ARGS -c"),
        (["high", "low"], "settings ARGS -Q"),
        (True, "settings ARGS -E"),
    ]
    assert p.args == ("worker", "-l", "info", "-c", "8", "-Q", "high,low", "-E")
    assert "concurrency = 8  [settings ARGS -c]" in p.describe()


def test_upstream_bind_dict_sets_host_and_port_and_the_bind_runs_once() -> None:
    p = plan(Server, ARGS={"bind": "0.0.0.0:8111"})
    assert values(p, "host", "port") == [("0.0.0.0", "settings ARGS --bind"), (8111, "settings ARGS --bind")]
    assert p.args.count("-b") + sum(a.startswith("--bind") for a in p.args) == 1
    assert "--bind=0.0.0.0:8111" in p.args
    assert p.ready.http_url == "http://127.0.0.1:8111/"
    assert p.listen == "http://0.0.0.0:8111/"
    assert "  listen: http://0.0.0.0:8111/" in p.describe()


def test_unix_bind_in_args_is_the_socket() -> None:
    p = plan(Server, ARGS=["-b", "unix:/run/web.sock"])
    assert values(p, "socket") == [("/run/web.sock", "settings ARGS -b")]
    assert p.listen == "unix:/run/web.sock" and p.ready.http_url is None


def test_args_beat_the_environment_conventions() -> None:
    ctx = LaunchContext(environ={"PORT": "9000", "WEB_CONCURRENCY": "3"}, cwd="/srv", wsgi_application="m.wsgi.app")
    p = plan(Server, ctx, ARGS=["-w", "5", "--bind", "127.0.0.1:7000"])
    assert values(p, "workers", "port", "host") == [
        (5, "settings ARGS -w"),
        (7000, "settings ARGS --bind"),
        ("127.0.0.1", "settings ARGS --bind"),
    ]


def test_options_and_args_that_disagree_are_a_check_error_naming_both() -> None:
    backend = Worker(load_process("p", {"BACKEND": "worker", "OPTIONS": {"concurrency": 3}, "ARGS": ["-c", "8"]}))
    [message] = backend.check(CTX)
    assert message.id == CONFLICT_ID == "prodserver.E021"
    assert "PRODUCTION_PROCESSES['p']['OPTIONS']['concurrency']" in message.msg
    assert "is 3 but ARGS '-c 8' sets concurrency to 8" in message.msg
    assert message.hint == "keep one: remove 'concurrency' from OPTIONS or '-c 8' from ARGS"


def test_a_composite_flag_conflicts_on_the_part_options_set() -> None:
    with pytest.raises(ConfigError) as info:
        plan(Server, OPTIONS={"port": 8000}, ARGS={"bind": "0.0.0.0:8111"})
    assert info.value.check_id == CONFLICT_ID and "is 8000 but ARGS '--bind=0.0.0.0:8111'" in str(info.value)


def test_options_and_args_that_agree_are_fine() -> None:
    p = plan(Worker, OPTIONS={"concurrency": 8, "queues": ["a", "b"]}, ARGS=["--concurrency=8", "-Q", "a,b"])
    assert values(p, "concurrency") == [(8, "settings OPTIONS")]


def test_set_beats_args_and_the_args_flag_is_left_out_of_the_command() -> None:
    from dataclasses import replace

    p = plan(Worker, replace(CTX, overrides={"concurrency": "3"}), ARGS=["-c", "8", "-E"])
    assert values(p, "concurrency", "events") == [(3, "command line --set"), (True, "settings ARGS -E")]
    assert p.args.count("-c") == 1 and p.args[p.args.index("-c") + 1] == "3"
    assert "note: left out of ARGS: -c 8 (--set concurrency wins)" in p.describe()


def test_set_port_keeps_the_host_of_an_args_bind() -> None:
    from dataclasses import replace

    p = plan(Server, replace(CTX, overrides={"port": "9001"}), ARGS={"bind": "0.0.0.0:8111"})
    assert values(p, "host", "port") == [("0.0.0.0", "settings ARGS --bind"), (9001, "command line --set")]
    assert "0.0.0.0:9001" in p.args and not any("8111" in a for a in p.args)


def test_native_args_after_dashdash_beat_everything() -> None:
    from dataclasses import replace

    p = plan(Worker, replace(CTX, native_args=("-c", "2")), OPTIONS={"concurrency": 3}, ARGS=["-c", "3"])
    assert values(p, "concurrency") == [(2, "command line -- -c")]
    assert p.args[-2:] == ("-c", "2") and p.args.count("-c") == 1


# -- hosts, banner, environment ---------------------------------------------------------------


@pytest.mark.parametrize("host", ["not a host", "web_1", "-x", "a..b", "300.1.1.1:80"])
def test_a_host_that_is_no_address_is_an_error_naming_the_key(host: str) -> None:
    with pytest.raises(ConfigError) as info:
        plan(Server, OPTIONS={"host": host})
    text = str(info.value)
    assert "PRODUCTION_PROCESSES['p']['OPTIONS']['host']" in text and "is not an IP address or a host name" in text


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "[::1]", "localhost", "web-1.internal", "10.0.0.5"])
def test_addresses_and_host_names_are_accepted(host: str) -> None:
    assert plan(Server, OPTIONS={"host": host}).options["host"] == host


def test_a_host_in_an_args_bind_is_checked_too() -> None:
    with pytest.raises(ConfigError, match=r"\['ARGS'\] '--bind=bad host:80'.*not an IP address"):
        plan(Server, ARGS={"bind": "bad host:80"})


def test_a_name_that_does_not_resolve_is_refused_before_the_start() -> None:
    backend = Server(load_process("p", {"BACKEND": "server", "OPTIONS": {"host": "no-such-host.invalid"}}))
    with pytest.raises(ConfigError) as info:
        backend.preflight(backend.plan(CTX))
    assert "['OPTIONS']['host']: the host name 'no-such-host.invalid' does not resolve" in str(info.value)
    backend = Server(load_process("p", {"BACKEND": "server", "OPTIONS": {"host": "localhost"}}))
    backend.preflight(backend.plan(CTX))


def test_listen_is_the_real_bind_with_platform_port() -> None:
    ctx = LaunchContext(environ={"PORT": "9000"}, cwd="/srv", wsgi_application="m.wsgi.app")
    p = plan(Server, ctx, OPTIONS={"port": 8123})
    assert p.listen == "http://0.0.0.0:8123/" and p.ready.http_url == "http://127.0.0.1:8123/"
    from django_prodserver.launch.supervision import what_starts

    assert what_starts(p) == "server on http://0.0.0.0:8123/ (host from PORT, port from OPTIONS)"


def test_a_removed_operator_variable_is_a_warning() -> None:
    ctx = LaunchContext(environ={"SERVER_CMD_ARGS": "-w 9"}, cwd="/srv", wsgi_application="m.wsgi.app")
    p = plan(Server, ctx)
    assert p.unset_env == ("SERVER_CMD_ARGS",)
    assert [w for w in p.warnings if w.startswith("SERVER_CMD_ARGS is set in the environment and removed")]
    assert not [w for w in plan(Server).warnings if "SERVER_CMD_ARGS" in w]  # unset: nothing to say


def test_legacy_entry_with_args_gets_a_warning_naming_the_options_to_write() -> None:
    config = load_process("web", {"BACKEND": "server", "ARGS": {"bind": "0.0.0.0:8111", "preload": None}})
    with pytest.warns(DeprecationWarning) as caught:
        Server.from_legacy(config, {})
    [warning] = caught
    assert '"BACKEND": "server", "OPTIONS": {"host": "0.0.0.0", "port": 8111}' in str(warning.message)
    assert "remove --bind=0.0.0.0:8111 from ARGS" in str(warning.message)
