"""constraints.txt pins every third-party distribution the workspace installs, so a commit's CI
installs what it was tested with; a dependency added without ``python3 dev.py lock`` fails here."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
import dev  # noqa: E402

NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pinned() -> dict[str, list[str]]:
    pins: dict[str, list[str]] = {}
    for line in dev.CONSTRAINTS.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            match = re.match(r"^([A-Za-z0-9._-]+)==([^\s;]+)", line)
            assert match, f"constraints.txt: not a pin: {line!r}"
            pins.setdefault(canonical(match.group(1)), []).append(match.group(2))
    return pins


def required() -> dict[str, str]:
    """Third-party names the packages and the test tools ask for, with who asks."""
    ours = {canonical(tomllib.loads((d / "pyproject.toml").read_text())["project"]["name"]) for d in dev.package_dirs()}
    wanted: dict[str, str] = {}
    for d in dev.package_dirs():
        project = tomllib.loads((d / "pyproject.toml").read_text())["project"]
        specs = list(project.get("dependencies", []))
        for extra in project.get("optional-dependencies", {}).values():
            specs += extra
        for spec in specs:
            name = canonical(NAME.match(spec).group(1))  # type: ignore[union-attr]
            if name not in ours:
                wanted.setdefault(name, f"packages/{d.name}")
    for spec in dev.TEST_DEPS + dev.DOCS_DEPS:
        wanted.setdefault(canonical(NAME.match(spec).group(1)), "dev.py TEST_DEPS")  # type: ignore[union-attr]
    return wanted


def test_every_dependency_is_pinned() -> None:
    pins = pinned()
    missing = {name: who for name, who in required().items() if name not in pins}
    assert not missing, f"not in constraints.txt (run `python3 dev.py lock`): {missing}"


@pytest.mark.parametrize("django", [None, "4.2"])
def test_a_django_leg_drops_only_the_django_pin(tmp_path: Path, django: str | None) -> None:
    path = dev.constraints_for(tmp_path, django)
    lines = {line for line in path.read_text().splitlines() if line and not line.startswith("#")}
    everything = {line for line in dev.CONSTRAINTS.read_text().splitlines() if line and not line.startswith("#")}
    dropped = everything - lines
    if django is None:
        assert not dropped
    else:
        assert dropped and all(canonical(line.split("==")[0]) == "django" for line in dropped), dropped
