"""JSON mode's last line of defence: text a server ``print``s to sys.stdout/sys.stderr (banners,
"Warm shutdown", warnings shown without logging) becomes one JSON object per line.

Lines that already are JSON objects (our handlers' output) pass through untouched. Writes
below Python (C/Rust code writing to fd 1/2) are not seen: docs/logging.md lists them."""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any, TextIO

from django_prodserver.logs.formatter import timestamp


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
        out = []
        for line in lines:
            if not line.strip():
                continue
            if line.lstrip().startswith("{"):
                out.append(line + "\n")
            else:
                out.append(self._wrap(line))
        if out:
            self._stream.write("".join(out))
            self._stream.flush()
        return len(text)

    def _wrap(self, line: str) -> str:
        record = {
            "timestamp": timestamp(time.time()),
            "level": "info" if self._name == "stdout" else "warning",
            "logger": self._name,
            "message": line.rstrip("\r"),
            "process": self._process,
            "pid": os.getpid(),
        }
        return json.dumps(record, ensure_ascii=False) + "\n"

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
