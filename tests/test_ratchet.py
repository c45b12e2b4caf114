"""Ratchet: every packages/backend-* keeps the layout a third party copies and CI relies on."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")

ROOT = Path(__file__).resolve().parent.parent
BACKENDS = sorted(p for p in (ROOT / "packages").glob("backend-*") if (p / "pyproject.toml").exists())
META = tomllib.loads((ROOT / "packages" / "prodserver" / "pyproject.toml").read_text())


def test_there_are_backends() -> None:
    assert len(BACKENDS) >= 1


@pytest.mark.parametrize("folder", BACKENDS, ids=lambda p: p.name)
def test_backend_package_layout(folder: Path) -> None:
    name = folder.name.removeprefix("backend-")
    project = tomllib.loads((folder / "pyproject.toml").read_text())["project"]
    assert project["name"] == f"django-prodserver-{name}"
    entry_points = project["entry-points"]["django_prodserver.backends"]
    assert name in entry_points or any(k.startswith(f"{name}-") for k in entry_points), entry_points
    module = f"django_prodserver_{name.replace('-', '_')}"
    src = folder / "src" / module
    assert re.search(r'__version__ = "\d+\.\d+\.\d+', (src / "__about__.py").read_text())
    assert (src / "py.typed").exists() and (src / "__init__.py").exists()
    assert (folder / "CHANGELOG.md").exists() and (folder / "README.md").exists()
    contract = (folder / "tests" / "test_contract.py").read_text()
    assert "Contract" in contract, "tests/test_contract.py must subclass the contract suite"
    core = [d for d in project["dependencies"] if d.startswith("django-prodserver-core")]
    assert core and "==" not in core[0] and ">=" in core[0] and "<" in core[0].split(">=", 1)[1], core
    assert any(
        any(req.startswith(f"django-prodserver-{name}") for req in reqs)
        for reqs in META["project"]["optional-dependencies"].values()
    ), f"no django-prodserver[...] extra installs django-prodserver-{name}"
    assert (ROOT / "docs" / "backends" / f"{name}.md").exists(), f"docs/backends/{name}.md is missing"


def test_sibling_dependencies_are_ranges() -> None:
    for folder in (ROOT / "packages").iterdir():
        pyproject = folder / "pyproject.toml"
        if not pyproject.exists():
            continue
        project = tomllib.loads(pyproject.read_text())["project"]
        reqs = list(project.get("dependencies", []))
        for extra in project.get("optional-dependencies", {}).values():
            reqs += extra
        for req in reqs:
            if req.startswith("django-prodserver"):
                assert "==" not in req, f"{folder.name}: {req} pins a sibling (use a range)"
