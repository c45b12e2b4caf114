"""Core's top level shows the pipeline: a new module belongs in one of its packages."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[1] / "src" / "django_prodserver"


def test_core_top_level_shows_the_pipeline() -> None:
    """Core's top level holds the pipeline's packages and a few cross-cutting modules only:
    a new module belongs in one of the packages (or this list grows on purpose)."""
    modules = {p.stem for p in CORE.glob("*.py")} - {"__init__", "__about__"}
    packages = {p.name for p in CORE.iterdir() if (p / "__init__.py").exists()}
    assert packages == {
        "settings",
        "backends",
        "launch",
        "served",
        "ops",
        "control",
        "logs",
        "export",
        "bench",
        "profiling",
        "management",
        "testing",
    }
    # tasks: what every worker reports per task, as drain is what every server does on SIGTERM.
    cross_cutting = {
        "api",
        "apps",
        "checks",
        "describe",
        "drain",
        "errors",
        "handover",
        "masking",
        "plan",
        "preflight",
        "tasks",
    }
    assert modules == cross_cutting


@pytest.mark.parametrize(
    "old", ["django_prodserver.registry", "django_prodserver.runner", "django_prodserver.supervisor"]
)
def test_paths_of_unreleased_alphas_are_gone(old: str) -> None:
    """Paths that only 4.0 alphas had were never released: no alias keeps them (docs/stability.md)."""
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module(old)


def test_reserved_process_names_are_the_subcommands() -> None:
    """``settings.config.SUBCOMMANDS`` (the names no process may take) lists exactly the modules of
    ``management/subcommands``: add a new subcommand's word there too."""
    import pkgutil

    from django_prodserver.management import subcommands
    from django_prodserver.settings.config import SUBCOMMANDS

    modules = {m.name for m in pkgutil.iter_modules(subcommands.__path__) if not m.name.startswith("_")}
    assert modules == SUBCOMMANDS
