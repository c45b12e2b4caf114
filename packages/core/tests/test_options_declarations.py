"""Option declarations: native spelling rendered by core, pairs checked once, tuning never an error."""

from __future__ import annotations

from typing import Any

import pytest

from django_prodserver.backends.options import (
    CONTRACT_OPTIONS,
    WEB_OPTIONS,
    WORKER_OPTIONS,
    Option,
    check_pairs,
    resolve_options,
)
from django_prodserver.errors import ConfigError

W = WEB_OPTIONS


def resolve(declared: tuple[Option, ...], configured: dict[str, Any], refused: dict[str, str] | None = None) -> Any:
    return resolve_options(
        declared, WEB_OPTIONS, configured, {}, {}, where="P['web']['OPTIONS']", backend="x", refused=refused
    )


@pytest.mark.parametrize(
    ("option", "value", "tokens"),
    [
        (Option("a", "int", "", flag="--port"), 8000, ["--port", "8000"]),
        (Option("a", "int", "", flag="--threads={}"), 6, ["--threads=6"]),
        (Option("a", "path", "", flag="-b unix:{}"), "/run/s", ["-b", "unix:/run/s"]),
        (Option("a", "float", "", flag="--drain-delay"), 2.0, ["--drain-delay", "2"]),
        (Option("a", "list", "", flag="--forwarded-allow-ips"), ["a", "b"], ["--forwarded-allow-ips", "a,b"]),
        (Option("a", "path", "", flag="--certfile"), None, []),
        (Option("a", "bool", "", switch=("--access-log", "--no-access-log")), False, ["--no-access-log"]),
        (Option("a", "bool", "", switch=("--access-logfile -", "")), True, ["--access-logfile", "-"]),
        (Option("a", "bool", "", switch=("--access-logfile -", "")), False, []),
    ],
)
def test_core_renders_the_declared_spelling(option: Option, value: Any, tokens: list[str]) -> None:
    assert option.render(value) == tokens


def test_native_name_is_only_for_simple_flags() -> None:
    assert Option("a", "int", "", flag="--threads={}").native_name() == "--threads"
    assert Option("a", "int", "", flag="-w").native_name() == "-w"
    assert Option("a", "path", "", flag="-b unix:{}").native_name() == ""
    assert Option("a", "int", "", flag="-w").native_text() == "-w N"
    assert Option("a", "int", "", flag="--threads={}").native_text() == "--threads=N"


def test_old_keyword_arguments_keep_working() -> None:
    opt = W["workers"].declare(native="-w N", default=3, reason="r")
    assert (opt.native_text(), opt.default, opt.support, opt.flag) == ("-w N", 3, "native", "")


def test_undeclared_tuning_option_is_kept_and_listed_not_refused() -> None:
    table = resolve((W["port"],), {"keepalive": 9})
    assert (
        table["keepalive"] == 9 and table.ignored == ("keepalive",) and table.source("keepalive") == "settings OPTIONS"
    )
    with pytest.raises(ConfigError, match="expected an integer"):
        resolve((W["port"],), {"keepalive": "9"})  # still type-checked


def test_contract_option_is_refused_with_its_reason_or_a_default_one() -> None:
    with pytest.raises(ConfigError, match=r"cannot honour the uniform option 'http2' \(speaks HTTP/1.1 only\)"):
        resolve((W["port"],), {"http2": True}, refused={"http2": "speaks HTTP/1.1 only"})
    with pytest.raises(ConfigError, match=r"'tls_cert' \(it has no way to provide it\)"):
        resolve((W["port"],), {"tls_cert": "/c"})
    assert {n for n, o in WEB_OPTIONS.items() if o.contract} == CONTRACT_OPTIONS


@pytest.mark.parametrize(
    ("configured", "key", "text"),
    [
        ({"tls_cert": "/c"}, "tls_key", "tls_cert and tls_key go together (x)"),
        ({"websockets": True}, "websockets", "websockets need the ASGI interface (x)"),
        ({"socket": "/s", "port": 80}, "socket", "give 'socket' or 'port', not both"),
    ],
)
def test_pairs_are_checked_from_the_declarations(configured: dict[str, Any], key: str, text: str) -> None:
    declared = tuple(W[n] for n in ("port", "socket", "tls_cert", "tls_key", "websockets", "interface"))
    with pytest.raises(ConfigError) as info:
        check_pairs(declared, resolve(declared, configured), lambda k: f"P[{k!r}]", "x")
    assert f"P[{key!r}]" in str(info.value) and text in str(info.value)
    check_pairs(declared, resolve(declared, {"websockets": True, "interface": "asgi"}), str, "x")


def test_converted_values_render_and_read_back_in_the_servers_spelling() -> None:
    from django_prodserver.backends.options import scaled, value_map

    level = WORKER_OPTIONS["log_level"].declare(flag="--verbosity", convert=value_map({"info": "1", "debug": "2"}))
    assert level.render("debug") == ["--verbosity", "2"] and level.from_native("1", "w") == "info"
    with pytest.raises(ConfigError, match="'7' is not a value prodserver can read as log_level"):
        level.from_native("7", "w")
    stop = WORKER_OPTIONS["graceful_timeout"].declare(flag="--shutdown-ms", convert=scaled(1000))
    assert stop.render(12.5) == ["--shutdown-ms", "12500"] and stop.from_native("500", "w") == 0.5


def test_lists_of_separate_tokens_and_positionals() -> None:
    queues = WORKER_OPTIONS["queues"].declare(flag="--queues", separator=" ")
    assert queues.render(["a", "b"]) == ["--queues", "a", "b"] and queues.from_native("a b", "w") == ["a", "b"]
    positional = WORKER_OPTIONS["queues"].declare(flag="{}", separator=" ")
    assert positional.render(["a", "b"]) == ["a", "b"] and positional.native_text() == "positional QUEUES"
    assert positional.native_name() == ""  # a positional is not read back from ARGS


def test_every_option_says_how_it_reaches_the_server() -> None:
    assert Option("a", "int", "", flag="-w").declaration() == "flag"
    assert Option("a", "bool", "", switch=("", "--no-a")).declaration() == "flag"
    assert Option("a", "str", "", reads=(("-b", lambda t: {"a": t}),)).declaration() == "read"
    assert Option("a", "int", "", support="prodserver").declaration() == "prodserver"
    assert Option("a", "int", "", native="-k (computed)").declaration() == ""
    assert WORKER_OPTIONS["preflight_timeout"].declaration() == W["log_format"].declaration() == "prodserver"
