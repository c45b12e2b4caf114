"""Import paths that moved when core's tree was arranged as the pipeline (settings, backends,
plan, launch): the old names keep working for third-party code, with a DeprecationWarning."""

from __future__ import annotations

import importlib
import importlib.abc
import sys
import warnings
from importlib.machinery import ModuleSpec
from types import ModuleType

#: old dotted path -> where it lives now (django-prodserver-core 0.3)
MOVED = {
    "django_prodserver.conf": "django_prodserver.settings.config",
    "django_prodserver.envfile": "django_prodserver.settings.envfile",
    "django_prodserver.supervisor.policy": "django_prodserver.settings.restart",
    "django_prodserver.registry": "django_prodserver.backends.registry",
    "django_prodserver.legacy": "django_prodserver.backends.legacy",
    "django_prodserver.options": "django_prodserver.backends.options",
    "django_prodserver.argv": "django_prodserver.backends.argv",
    "django_prodserver.loading": "django_prodserver.backends.loading",
    "django_prodserver.runner": "django_prodserver.launch.runner",
    "django_prodserver.supervision": "django_prodserver.launch.supervision",
    "django_prodserver.copies": "django_prodserver.launch.copies",
    "django_prodserver.supervisor": "django_prodserver.launch.supervisor",
    "django_prodserver.supervisor.core": "django_prodserver.launch.supervisor.core",
    "django_prodserver.supervisor.child": "django_prodserver.launch.supervisor.child",
    "django_prodserver.supervisor.signals": "django_prodserver.launch.supervisor.signals",
    "django_prodserver.supervisor.output": "django_prodserver.launch.supervisor.output",
    "django_prodserver.serving": "django_prodserver.served.layers",
    "django_prodserver.deadline": "django_prodserver.served.deadline",
}


class MovedModuleFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Resolve an old path to the module at its new one (the same object, not a copy)."""

    def find_spec(self, fullname: str, path: object = None, target: object = None) -> ModuleSpec | None:
        if fullname not in MOVED:
            return None
        return ModuleSpec(fullname, self, is_package=fullname == "django_prodserver.supervisor")

    def create_module(self, spec: ModuleSpec) -> ModuleType:
        new = MOVED[spec.name]
        warnings.warn(f"{spec.name} moved to {new}: import {new} instead", DeprecationWarning, stacklevel=2)
        return importlib.import_module(new)

    def exec_module(self, module: ModuleType) -> None:
        """Nothing to run: ``create_module`` returned the already imported module."""


def install() -> None:
    """Put the finder on ``sys.meta_path`` once (called when ``django_prodserver`` is imported)."""
    if not any(isinstance(finder, MovedModuleFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, MovedModuleFinder())  # before PathFinder: an old package's
        # __path__ is the new directory, where PathFinder would load a second copy of a submodule
