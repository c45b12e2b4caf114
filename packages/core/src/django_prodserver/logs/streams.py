"""JSON mode's last line of defence: text a server ``print``s to sys.stdout/sys.stderr (banners,
"Warm shutdown", warnings shown without logging) becomes one JSON object per line.

Lines that already are JSON objects (our handlers' output) pass through untouched; every line is
written with a write of its own, within one atomic pipe write (``lines.LINE_LIMIT``). Writes
below Python (C/Rust code writing to fd 1/2) are not seen: docs/logging.md lists them."""

from __future__ import annotations

import sys
from typing import Any, TextIO

from django_prodserver.logs.lines import line_as_json


class JsonLines:
    """A text stream that wraps each non-JSON line it is given in prodserver's schema."""

    def __init__(self, stream: TextIO, name: str, process: str) -> None:
        self._stream = stream
        self._name = name
        self._process = process
        self._pending = ""

    def write(self, text: str) -> int:
        data = self._pending + text
        *lines, self._pending = data.split("\n")
        for line in lines:
            if line.strip():
                # One write per line, each within one atomic pipe write: other processes (a
                # server's workers) write to the same pipe.
                self._stream.write(line_as_json(line, process=self._process, stream=self._name) + "\n")
                self._stream.flush()
        return len(text)

    @property
    def wrapped(self) -> TextIO:
        """The stream this one writes to."""
        return self._stream

    def flush(self) -> None:
        self._stream.flush()

    def __getattr__(self, name: str) -> Any:  # fileno, isatty, encoding, buffer...
        return getattr(self._stream, name)


def wrap_std_streams(process: str) -> None:
    """Put :class:`JsonLines` in front of sys.stdout and sys.stderr (once), and of
    ``sys.__stdout__``/``sys.__stderr__``, which celery's shutdown messages write to."""
    for name in ("stdout", "stderr"):
        for attr in (name, f"__{name}__"):
            current = getattr(sys, attr)
            if current is not None and not isinstance(current, JsonLines):
                setattr(sys, attr, JsonLines(current, name, process))
