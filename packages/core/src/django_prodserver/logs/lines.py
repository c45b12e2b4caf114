"""One JSON log line: a record for a line of plain text, and every record cut to one atomic write.

Several processes (gunicorn's workers) write to one pipe; the kernel keeps a write whole only up
to PIPE_BUF bytes, so a longer line can be spliced with another process' line. :func:`fit` keeps a
record's line within :data:`LINE_LIMIT` by shortening its longest fields, and says so in it:
``"truncated": true`` and ``"original_length": {"<field>": <characters before the cut>}``."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

#: Bytes of one line, newline included: PIPE_BUF on Linux (POSIX guarantees at least 512), the
#: most one write() to a pipe puts in whole when several processes write to it at once.
LINE_LIMIT = 4096
#: Fields a cut never touches (short, and what a log pipeline indexes on).
KEPT = ("timestamp", "level", "logger", "process", "pid", "request_id", "truncated", "original_length")
#: Fields cut in the middle (a traceback's last lines name the exception); others keep their head.
MIDDLE = ("exc_info", "stack_info")
MARK = " [...] "

Dumps = Callable[[dict[str, Any]], str]


_second: tuple[int, str] = (-1, "")  # a whole second and its "YYYY-MM-DDTHH:MM:SS." text


def timestamp(created: float) -> str:
    """RFC 3339, UTC, milliseconds: ``2026-12-02T13:36:03.123Z``. The text of the seconds is
    made once per second, not per line; the fraction is rounded as ``datetime`` rounds it."""
    global _second
    whole = int(created)
    micros = round((created - whole) * 1e6)
    if micros >= 1_000_000:
        whole, micros = whole + 1, micros - 1_000_000
    cached = _second
    if cached[0] != whole:
        text = datetime.fromtimestamp(whole, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.")
        cached = _second = (whole, text)  # one tuple: a thread never sees one second's text with another's
    return f"{cached[1]}{micros // 1000:03d}Z"


def dumps(record: Any) -> str:
    """The serialiser of our own records: UTF-8 text as it is, anything odd as its ``str``."""
    return json.dumps(record, ensure_ascii=False, default=str)


def size(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def fit(record: dict[str, Any], serialise: Dumps = dumps, limit: int = LINE_LIMIT) -> str:
    """``record`` serialised in at most ``limit - 1`` bytes (the newline is the last one): the
    longest fields are cut first, each cut recorded under ``original_length``."""
    text = serialise(record)
    if size(text) < limit:
        return text
    out = dict(record)
    lengths: dict[str, int] = dict(record.get("original_length") or {})
    out["truncated"] = True
    out["original_length"] = lengths
    # Share the room: the long fields are cut to one common length (a huge message must not
    # leave no room for the traceback), then each round takes off what is still over.
    sizes = _sizes(out)
    room = limit - 1 - size(serialise({k: v for k, v in out.items() if k not in sizes})) - 64 * len(sizes)
    level = _level(sorted(sizes.values()), room)
    for key, n in sizes.items():
        if n > level:
            whole = _text(out[key])
            lengths.setdefault(key, len(whole))
            out[key] = _cut(whole, n - level, middle=key in MIDDLE)
    for _ in range(64):  # each round shortens one field; a few rounds in practice
        text = serialise(out)
        over = size(text) - (limit - 1)
        if over <= 0:
            return text
        longest = _longest(out)
        if longest is None:
            break
        key, value = longest, out[longest]
        whole = _text(value)
        lengths.setdefault(key, len(whole))
        out[key] = _cut(whole, over, middle=key in MIDDLE)
    # Only the kept fields are left and they alone are too long (a logger name of kilobytes):
    # a line that still parses, with what little fits.
    lengths.update({k: len(str(v)) for k, v in out.items() if k not in ("truncated", "original_length")})
    head = {k: str(v)[:64] if isinstance(v, str) else v for k, v in out.items() if k in KEPT}
    return serialise({**head, "message": "", "truncated": True, "original_length": lengths})


def _text(value: Any) -> str:
    return value if isinstance(value, str) else dumps(value)


def _sizes(record: dict[str, Any]) -> dict[str, int]:
    """Bytes (as JSON) of each field a cut may shorten."""
    return {k: size(json.dumps(_text(v), ensure_ascii=False)) for k, v in record.items() if k not in KEPT}


def _level(sizes: list[int], room: int) -> int:
    """The largest length L with sum(min(s, L)) <= room (``sizes`` ascending)."""
    for i, n in enumerate(sizes):
        share = max(0, room) // (len(sizes) - i)
        if n > share:
            return share
        room -= n
    return sizes[-1] if sizes else 0


def _longest(record: dict[str, Any]) -> str | None:
    best, best_size = None, len(MARK) + 2
    for key, n in _sizes(record).items():
        if n > best_size:
            best, best_size = key, n
    return best


def _cut(text: str, over: int, *, middle: bool) -> str:
    """``text`` about ``over`` bytes (as JSON) shorter, with a mark where it was cut."""
    encoded = size(json.dumps(text, ensure_ascii=False))
    ratio = max(1.0, encoded / max(1, len(text)))  # JSON bytes per character (escapes, UTF-8)
    keep = int(len(text) - (over + len(MARK) + 8) / ratio)
    if keep <= 0:
        return MARK.strip()
    if middle:
        tail = keep // 2
        return text[: keep - tail] + MARK + text[len(text) - tail :]
    return text[:keep] + MARK


def text_record(message: str, *, process: str, logger: str, level: str, pid: int | None = None) -> dict[str, Any]:
    """Our schema's record for a line that was not JSON (or for our own messages)."""
    return {
        "timestamp": timestamp(time.time()),
        "level": level,
        "logger": logger,
        "message": message,
        "process": process,
        "pid": os.getpid() if pid is None else pid,
    }


def line_as_json(line: str, *, process: str, stream: str, pid: int | None = None, limit: int = LINE_LIMIT) -> str:
    """A line a process wrote to ``stream`` ("stdout"/"stderr") as one JSON line of at most
    ``limit`` bytes: a JSON object as it is (cut if too long), other text wrapped as a record."""
    line = line.rstrip("\r")
    if line.lstrip().startswith("{"):
        if size(line) < limit:
            try:
                if isinstance(json.loads(line), dict):
                    return line
            except ValueError:
                pass
        else:
            try:
                obj = json.loads(line)
            except ValueError:
                obj = None
            if isinstance(obj, dict):
                return fit(obj, limit=limit)
    level = "info" if stream == "stdout" else "warning"
    return fit(text_record(line, process=process, logger=stream, level=level, pid=pid), limit=limit)
