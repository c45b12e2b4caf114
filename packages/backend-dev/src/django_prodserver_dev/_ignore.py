"""What a code change is: file patterns that count, and the directories whose changes never do."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

#: Directory names never watched: virtualenvs, VCS data, caches, front-end dependencies.
IGNORE_DIRS: tuple[str, ...] = (
    ".git",
    ".hg",
    ".svn",
    "__pycache__",
    ".venv",
    "venv",
    "site-packages",
    "dist-packages",
    "node_modules",
    ".tox",
    ".nox",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    ".hypothesis",
    ".idea",
)

#: File name patterns that count as a code change by default.
INCLUDE_PATTERNS: tuple[str, ...] = ("*.py", "*.mo", ".env")


def output_roots(settings: Any = None) -> list[str]:
    """MEDIA_ROOT and STATIC_ROOT: files written there are output, never code."""
    if settings is None:
        from django.conf import settings as django_settings

        settings = django_settings
    roots: list[str] = []
    for name in ("MEDIA_ROOT", "STATIC_ROOT"):
        value = getattr(settings, name, None)
        if value:
            roots.append(os.path.abspath(os.fspath(value)))
    return roots


def unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(i for i in items if i))
