"""Children's output, line by line: each complete line is written whole with its process' prefix,
so lines of different processes never mix mid-line and a crashed child's last bytes still appear."""

from __future__ import annotations

import errno
import json
import os
import select
import time

#: A line longer than this is written in pieces (each prefixed) rather than held in memory.
MAX_LINE = 64 * 1024
_COLOURS = (36, 33, 32, 35, 34, 31, 96, 93, 92, 95, 94, 91)


class Sink:
    """One of our own output fds (1 or 2): blocking-safe whole writes; a closed reader disables it."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.broken = False

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view and not self.broken:
            try:
                written = os.write(self.fd, view)
            except BlockingIOError:
                select.select([], [self.fd], [], 1.0)
                continue
            except InterruptedError:  # pragma: no cover - PEP 475 retries os.write
                continue
            except OSError as e:
                if e.errno in (errno.EPIPE, errno.EBADF, errno.EIO):
                    self.broken = True  # nobody reads our output any more: keep supervising
                    return
                raise
            view = view[written:]


class Prefixer:
    """Builds the ``name | `` prefix of each process, coloured per process when asked."""

    def __init__(self, names: list[str], *, enabled: bool = True, colour: bool = False, width: int = 0) -> None:
        width = width or max((len(n) for n in names), default=0)
        self.prefixes: dict[str, bytes] = {}
        for i, name in enumerate(names):
            if not enabled:
                self.prefixes[name] = b""
                continue
            text = f"{name.ljust(width)} | "
            if colour:
                text = f"\x1b[{_COLOURS[i % len(_COLOURS)]}m{text}\x1b[0m"
            self.prefixes[name] = text.encode()

    def __getitem__(self, name: str) -> bytes:
        return self.prefixes.get(name, b"")


class LineStream:
    """Bytes from one child pipe, cut into lines; ``feed`` returns what is ready to write."""

    def __init__(self, prefix: bytes) -> None:
        self.prefix = prefix
        self.pending = b""

    def feed(self, data: bytes) -> bytes:
        buf = self.pending + data
        cut = buf.rfind(b"\n") + 1
        ready, self.pending = buf[:cut], buf[cut:]
        out = self._prefixed(ready.splitlines(keepends=True)) if ready else b""
        while len(self.pending) >= MAX_LINE:
            piece, self.pending = self.pending[:MAX_LINE], self.pending[MAX_LINE:]
            out += self.prefix + piece + b"\n"
        return out

    def finish(self) -> bytes:
        """At end of stream: the unterminated last line, terminated (a crash mid-line keeps it)."""
        rest, self.pending = self.pending, b""
        return self.prefix + rest + b"\n" if rest else b""

    def _prefixed(self, lines: list[bytes]) -> bytes:
        if not self.prefix:
            return b"".join(lines)
        return b"".join(self.prefix + line for line in lines)


class Pipe:
    """A child's stdout or stderr read end, its line cutter and where its lines go."""

    def __init__(self, fd: int, stream: LineStream, sink: Sink) -> None:
        self.fd = fd
        self.stream = stream
        self.sink = sink
        self.closed = False
        os.set_blocking(fd, False)

    def read(self, limit: int = 16) -> bool:
        """Read what is there (up to ``limit`` chunks); False once the writer side is gone."""
        for _ in range(limit):
            try:
                chunk = os.read(self.fd, 65536)
            except BlockingIOError:
                return True
            except OSError:  # pragma: no cover - EIO from a vanished pty and the like
                chunk = b""
            if not chunk:
                self.close()
                return False
            data = self.stream.feed(chunk)
            if data:
                self.sink.write(data)
        return True

    def drain(self) -> None:
        """Take everything already written (the writer may still live: do not wait for EOF)."""
        while not self.closed and self.read(limit=64):
            try:
                if not select.select([self.fd], [], [], 0)[0]:
                    return
            except (OSError, ValueError):  # pragma: no cover
                return

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        tail = self.stream.finish()
        if tail:
            self.sink.write(tail)
        os.close(self.fd)


def json_line(message: str, *, process: str, logger: str = "prodserver", level: str = "info") -> bytes:
    """One line in prodserver's JSON log schema (docs/logging.md) for our own messages, so a
    JSON-mode supervisor's lines parse like its children's (no library needed for these)."""
    from django_prodserver.logs.formatter import timestamp

    record = {
        "timestamp": timestamp(time.time()),
        "level": level,
        "logger": logger,
        "message": message,
        "process": process,
        "pid": os.getpid(),
    }
    return json.dumps(record, ensure_ascii=False).encode() + b"\n"
