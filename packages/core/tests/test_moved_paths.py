"""Old import paths from before core's tree showed the pipeline keep working, with a warning."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from django_prodserver._moved import MOVED

CORE = Path(__file__).resolve().parents[1] / "src" / "django_prodserver"


@pytest.mark.parametrize("old", sorted(MOVED))
def test_old_path_is_the_new_module_with_a_deprecation_warning(old: str) -> None:
    """A third party's ``import django_prodserver.conf`` gets the very module at the new path
    (not a copy whose classes would differ) and is told what to type instead."""
    new = importlib.import_module(MOVED[old])
    code = (
        "import warnings, importlib, sys\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        f"    module = importlib.import_module({old!r})\n"
        f"print(module is sys.modules[{MOVED[old]!r}], *(str(w.message) for w in caught))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.startswith("True ") and f"import {MOVED[old]} instead" in out, out
    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning, match=MOVED[old]):
        module = importlib.import_module(old)
    assert module is new


def test_old_paths_are_not_files_any_more() -> None:
    """The finder only answers for paths that really moved: a file left behind at an old path
    would shadow the new module (two copies of every class)."""
    for old in MOVED:
        rel = Path(*old.split(".")[1:])
        assert not (CORE / rel).with_suffix(".py").exists() and not (CORE / rel / "__init__.py").exists(), old


def test_core_top_level_shows_the_pipeline() -> None:
    """Core's top level holds the pipeline's packages and a few cross-cutting modules only:
    a new module belongs in one of the packages (or this list grows on purpose)."""
    modules = {p.stem for p in CORE.glob("*.py")} - {"__init__", "__about__", "_moved"}
    packages = {p.name for p in CORE.iterdir() if (p / "__init__.py").exists()}
    assert packages == {
        "settings",
        "backends",
        "launch",
        "served",
        "ops",
        "logs",
        "export",
        "bench",
        "management",
        "testing",
    }
    assert modules == {"apps", "checks", "describe", "drain", "errors", "masking", "plan", "preflight"}
