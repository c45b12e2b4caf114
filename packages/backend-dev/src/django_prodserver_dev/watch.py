"""Which file changes restart a process: watchfiles' default filter, our ignored directories
(virtualenvs found by their ``pyvenv.cfg`` too), MEDIA_ROOT/STATIC_ROOT, and code patterns only."""

from __future__ import annotations

import fnmatch
import functools
import os
from collections.abc import Sequence

from watchfiles import Change, DefaultFilter

from ._ignore import IGNORE_DIRS, INCLUDE_PATTERNS


@functools.lru_cache(maxsize=4096)
def _is_virtualenv(directory: str) -> bool:
    return os.path.isfile(os.path.join(directory, "pyvenv.cfg"))


class CodeFilter(DefaultFilter):
    """A change counts when its file name matches ``include`` and no part of its path is ignored."""

    def __init__(
        self,
        *,
        roots: Sequence[str],
        include: Sequence[str] = INCLUDE_PATTERNS,
        ignore_dirs: Sequence[str] = (),
        ignore_paths: Sequence[str] = (),
    ) -> None:
        super().__init__(
            ignore_dirs=tuple(dict.fromkeys((*DefaultFilter.ignore_dirs, *IGNORE_DIRS, *ignore_dirs))),
            ignore_paths=[os.path.abspath(p) for p in ignore_paths],
        )
        self.include = tuple(include)
        self.roots = tuple(os.path.abspath(r) for r in roots)

    def __call__(self, change: Change, path: str) -> bool:
        path = os.path.abspath(path)
        # Judge directory names below the watched root only: a project may itself live under "venv/".
        root = self._root_of(path)
        relative = os.path.relpath(path, root) if root else path.lstrip(os.sep)
        if not super().__call__(change, os.sep + relative):
            return False
        if self._ignore_paths and path.startswith(self._ignore_paths):
            return False
        name = os.path.basename(path)
        if not any(fnmatch.fnmatch(name, pattern) for pattern in self.include):
            return False
        return not self._in_virtualenv(os.path.dirname(os.path.abspath(path)))

    def _root_of(self, path: str) -> str | None:
        return next((r for r in self.roots if path == r or path.startswith(r.rstrip(os.sep) + os.sep)), None)

    def _in_virtualenv(self, directory: str) -> bool:
        """A virtualenv under a name we do not know (``env/``, ``.direnv/python-3.12``)."""
        root = self._root_of(directory)
        while directory and directory != root:
            if _is_virtualenv(directory):
                return True
            parent = os.path.dirname(directory)
            if parent == directory:
                break
            directory = parent
        return False
