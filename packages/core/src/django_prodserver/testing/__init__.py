"""The contract suite: subclass these in your backend's tests (like ``django.test``).

Only the contract modules import pytest, and only when a contract class is first used, so the
shipped test project (``django_prodserver.testing.project``) runs where pytest is absent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django_prodserver.testing.static import BackendContract
    from django_prodserver.testing.web import WebServerContract
    from django_prodserver.testing.worker import WorkerContract

__all__ = ["BackendContract", "WebServerContract", "WorkerContract"]

_HOMES = {"BackendContract": "static", "WebServerContract": "web", "WorkerContract": "worker"}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    import pytest

    # Asserts in the shipped suite print their operands only if rewritten before import.
    pytest.register_assert_rewrite(*(f"{__name__}.{m}" for m in _HOMES.values()))
    return getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
