"""Backends are held to what a third party gets: every first-party backend and the example
backends import core only through ``django_prodserver.api`` (and the ``testing`` kit in tests)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BACKEND_SOURCES = sorted(
    [*ROOT.glob("packages/backend-*/src/**/*.py"), *ROOT.glob("examples/*/src/**/*.py")],
)
ALLOWED = ("django_prodserver.api", "django_prodserver.testing")


def core_imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import of a core module in ``path``, the package root included."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules = [node.module]
            if node.module == "django_prodserver":
                modules = [f"django_prodserver.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            modules = [a.name for a in node.names]
        else:
            continue
        for module in modules:
            if module == "django_prodserver" or module.startswith("django_prodserver."):
                found.append((node.lineno, module))
    return found


def allowed(module: str) -> bool:
    return any(module == name or module.startswith(name + ".") for name in ALLOWED)


def test_backends_import_core_only_through_the_public_api() -> None:
    assert BACKEND_SOURCES, "no backend sources found"
    offenders = [
        f"{path.relative_to(ROOT)}:{line}: imports {module}"
        for path in BACKEND_SOURCES
        for line, module in core_imports(path)
        if not allowed(module)
    ]
    assert not offenders, "import these from django_prodserver.api instead:\n" + "\n".join(offenders)


def test_every_public_name_resolves() -> None:
    import django_prodserver.api as api

    for name in api.__all__:
        assert getattr(api, name) is not None, name
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        api.nope  # noqa: B018


def test_the_checker_sees_a_private_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from django_prodserver.plan import LaunchPlan\nimport django_prodserver.drain\n")
    assert [m for _, m in core_imports(bad) if not allowed(m)] == ["django_prodserver.plan", "django_prodserver.drain"]


API = ROOT / "packages" / "core" / "src" / "django_prodserver" / "api.py"
GUIDE = ROOT / "docs" / "writing-a-backend.md"


def test_the_api_module_agrees_with_itself() -> None:
    """The TYPE_CHECKING imports (what type checkers see), the lazy table (what runs) and
    ``__all__`` name the same objects: add a new name to all three."""
    import django_prodserver.api as api

    typed = {
        alias.asname or alias.name: f"{node.module.removeprefix('django_prodserver.')}:{alias.name}"
        for node in ast.walk(ast.parse(API.read_text()))
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("django_prodserver.")
        for alias in node.names
    }
    grouped = [name for names in api.GROUPS.values() for name in names]
    assert typed == api._WHERE
    assert sorted(api.__all__) == sorted(grouped)


def test_the_guide_documents_exactly_the_api() -> None:
    """docs/writing-a-backend.md, "The API, name by name": one section per group of
    ``django_prodserver.api.GROUPS``, in that order, one table row per name of the group."""
    import django_prodserver.api as api

    text = GUIDE.read_text()
    section = text[text.index("## The API, name by name") :]
    documented: dict[str, list[str]] = {}
    group = ""
    for line in section.splitlines():
        if line.startswith("### "):
            group = line[4:].strip()
            documented[group] = []
        elif group and (row := re.match(r"^\| `([A-Za-z_][A-Za-z0-9_]*)` \|", line)):
            documented[group].append(row.group(1))
    assert documented == {title: list(names) for title, names in api.GROUPS.items()}
