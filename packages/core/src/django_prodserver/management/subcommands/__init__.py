"""Subcommands of ``prodserver`` (``prodserver probe``, ``prodserver export``, ...).

Each module here defines ``Command``, a Django ``BaseCommand`` subclass; the module's name is
the word the user types after ``prodserver``. Those words are reserved: no process may be
called like a subcommand (``settings.config.SUBCOMMANDS`` lists them and ``load_process``
refuses them), so ``prodserver export`` can never mean "start the process named export".
"""

from __future__ import annotations

import importlib

from django.core.management.base import BaseCommand


def load(name: str) -> BaseCommand:
    """An instance of the subcommand ``name`` (``ImportError`` bubbles: it is our bug)."""
    module = importlib.import_module(f"{__name__}.{name}")
    command: BaseCommand = module.Command()
    return command
