"""Native argument normalisation (upstream ARGS forms) and merging without piling up."""

from __future__ import annotations

import pytest

from django_prodserver.backends.argv import FlagSpec, merge
from django_prodserver.errors import ConfigError
from django_prodserver.settings.config import normalise_args

SPEC = FlagSpec(aliases={"-w": "--workers", "-b": "--bind"}, switches=frozenset({"--preload"}))


def test_upstream_dict_with_bare_flag() -> None:
    assert normalise_args({"bind": "0.0.0.0:8111", "preload": None}, "w") == ["--bind=0.0.0.0:8111", "--preload"]


def test_raw_string_is_split_without_a_shell() -> None:
    assert normalise_args("--bind 0.0.0.0:8111 --name 'a b; rm -rf /'", "w") == [
        "--bind",
        "0.0.0.0:8111",
        "--name",
        "a b; rm -rf /",
    ]


def test_list_values_repeat_the_flag_and_false_drops_it() -> None:
    assert normalise_args({"bind": ["a:1", "b:2"], "preload": False}, "w") == ["--bind=a:1", "--bind=b:2"]


def test_bad_args_type_is_an_error() -> None:
    with pytest.raises(ConfigError):
        normalise_args(42, "PRODUCTION_PROCESSES['web']['ARGS']")


def test_later_layer_replaces_every_alias_spelling() -> None:
    base = ["app:application", "-b", "127.0.0.1:8000", "-w", "4", "--preload"]
    assert merge(base, ["--workers=2"], ["-w", "3"], spec=SPEC) == [
        "app:application",
        "-b",
        "127.0.0.1:8000",
        "--preload",
        "-w",
        "3",
    ]


def test_repeated_flag_in_one_layer_is_kept() -> None:
    assert merge(["-b", "x:1"], ["-b", "y:1", "-b", "z:1"], spec=SPEC) == ["-b", "y:1", "-b", "z:1"]


def test_switch_does_not_eat_the_next_positional() -> None:
    assert merge([], ["--preload", "app:application"], spec=SPEC) == ["--preload", "app:application"]


def test_multi_value_flag_is_replaced_whole() -> None:
    spec = FlagSpec(aliases={"-Q": "--queues"}, multi=frozenset({"--queues"}))
    assert merge(["boot", "--queues", "a", "b", "-p", "2"], ["-Q", "c"], spec=spec) == ["boot", "-p", "2", "-Q", "c"]
