"""Every option of every installed backend says how it reaches the server: a native flag core
renders and reads back from ARGS, native tokens core reads back, "provided by prodserver", or
refused with a reason. Options a backend still maps by hand are listed here, and the list only
shrinks."""

from __future__ import annotations

import pytest

from django_prodserver.backends.base import Backend
from django_prodserver.backends.registry import installed_backends

#: Options a backend still maps in its own code, with no declaration core can render or read
#: back: the web servers' composite spellings. Shrink it; never grow it.
HAND_MAPPED: dict[str, set[str]] = {
    "daphne": {"http2"},
}
#: Kinds whose uniform options a backend may leave undeclared only with a reason of its own.
TASK_KINDS = ("worker", "scheduler")


def backends() -> list[pytest.ParameterSet]:
    """Every installed backend, once per entry-point name (``celery`` and ``celery-worker`` alike)."""
    return [pytest.param(entry.load(), id=name) for name, entry in sorted(installed_backends().items())]


def undeclared(cls: type[Backend]) -> set[str]:
    """Declared options with no flag, read-back or support (a reason in ``refused`` counts)."""
    return {o.name for o in cls.declared_options() if not o.declaration() and o.name not in cls.refused}


@pytest.mark.parametrize("cls", backends())
def test_every_option_is_a_declaration(cls: type[Backend]) -> None:
    """Fix: give the option ``flag=``/``switch=`` (core renders it and reads ARGS back), ``reads=``
    (the backend composes the tokens, core reads them back), ``support="prodserver"`` (prodserver
    provides it), or a reason in the backend's ``refused``; then build the argv with ``native_args``."""
    assert undeclared(cls) <= HAND_MAPPED.get(cls.name, set())


@pytest.mark.parametrize("cls", backends())
def test_the_hand_mapped_list_only_shrinks(cls: type[Backend]) -> None:
    """Fix: an option that is now declared leaves HAND_MAPPED."""
    assert HAND_MAPPED.get(cls.name, set()) <= undeclared(cls)


@pytest.mark.parametrize("cls", [p for p in backends() if p.values[0].kind in TASK_KINDS])
def test_task_backends_say_why_they_refuse_a_uniform_option(cls: type[Backend]) -> None:
    """Fix: add the reason to the backend's ``refused`` (the error and the docs table show it)."""
    missing = set(cls.catalog) - {o.name for o in cls.declared_options()} - set(cls.refused)
    assert not missing
