"""docs/architecture.md lists core's layers exactly as the import-linter contract checks them."""

from __future__ import annotations

import configparser
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORE = ROOT / "packages" / "core" / "src" / "django_prodserver"


def contract_layers() -> list[str]:
    config = configparser.ConfigParser()
    config.read(ROOT / ".importlinter")
    raw = config["importlinter:contract:layers"]["layers"]
    return [line.strip().replace("django_prodserver.", "") for line in raw.strip().splitlines()]


def test_the_architecture_page_lists_the_contract_layers() -> None:
    """The fenced block under "## Layers" is the layers contract of .importlinter, top first:
    change both together."""
    text = (ROOT / "docs" / "architecture.md").read_text()
    block = re.search(r"^## Layers\n.*?^```\n(.*?)^```", text, re.M | re.S)
    assert block, "docs/architecture.md has no fenced block under '## Layers'"
    assert block.group(1).splitlines() == contract_layers()


def test_every_part_of_core_is_in_a_layer() -> None:
    """A new top-level module or package of core gets a place in the layers (or it would be
    outside the contract, free to import anything)."""
    parts = {p.stem for p in CORE.glob("*.py")} | {p.name for p in CORE.iterdir() if (p / "__init__.py").exists()}
    parts -= {"__init__", "__about__"}
    layered = {name.strip() for line in contract_layers() for name in line.split("|")}
    assert layered == parts
