"""Subcommands of ``prodserver`` (``prodserver probe``, ``prodserver export``, ...).

Each module here defines ``Command``, a Django ``BaseCommand`` subclass; the module's name is
the word the user types after ``prodserver``. Those words are reserved: no process may be
called like a subcommand (``conf.load_process`` refuses it), so ``prodserver export`` can
never mean "start the process named export".
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import lru_cache

from django.core.management.base import BaseCommand


@lru_cache(maxsize=1)
def names() -> frozenset[str]:
    """The subcommand words, found from this package's modules (no import of them)."""
    return frozenset(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))


def load(name: str) -> BaseCommand:
    """An instance of the subcommand ``name`` (``ImportError`` bubbles: it is our bug)."""
    module = importlib.import_module(f"{__name__}.{name}")
    command: BaseCommand = module.Command()
    return command
