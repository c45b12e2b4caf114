"""Each backend declares a bounded server/worker range that CI tests at its floor, and
docs/compatibility.md is generated from those ranges, never edited apart from them."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
import compat  # noqa: E402
import release  # noqa: E402

BACKENDS = [d for d in release.distributions() if d.folder.name.startswith("backend-")]


@pytest.mark.parametrize("dist", BACKENDS, ids=lambda d: d.folder.name)
def test_backend_declares_both_ranges(dist: release.Distribution) -> None:
    """`[tool.prodserver] upstream` names its server/worker; the dependency has a floor and a
    ceiling, and core's range starts at a final 4.x (no pre-release marker)."""
    ups = compat.upstreams(dist)
    assert ups, f'{dist.folder.name}/pyproject.toml: add [tool.prodserver] upstream = ["<server>"]'
    assert compat.core_range(dist) == ">=4.0,<5", compat.core_range(dist)
    for up in ups:
        assert ">=" in up.spec and "<" in up.spec, up


def test_compatibility_table_is_current() -> None:
    assert (ROOT / "docs" / "compatibility.md").read_text() == compat.table(), (
        "docs/compatibility.md is stale: run `python3 dev.py compat --table`"
    )


def test_ci_runs_the_floors() -> None:
    assert "dev.py compat" in (ROOT / ".ci" / "run").read_text()
