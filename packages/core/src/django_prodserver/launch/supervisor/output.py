"""Children's output, line by line: each complete line is written whole with its process' prefix,
so lines of different processes never mix mid-line and a crashed child's last bytes still appear."""

from __future__ import annotations

import errno
import json
import os
import re
import select
import socket
import stat
import time
from collections import deque
from collections.abc import Callable

from django_prodserver.logs.lines import LINE_LIMIT, fit, line_as_json, text_record

#: A line longer than this is written in pieces (each prefixed) rather than held in memory.
MAX_LINE = 64 * 1024
_COLOURS = (36, 33, 32, 35, 34, 31, 96, 93, 92, 95, 94, 91)


#: Bytes of output held for a reader that does not keep up (a stalled log shipper, a pipe
#: nobody reads); lines beyond are dropped and counted, never waited for.
QUEUE_LIMIT = 4 * 1024 * 1024
#: At exit, a reader that takes nothing for this long is not waited for any more.
STALLED = 0.5


Closer = Callable[[], None]


def _writer(fd: int) -> tuple[Callable[[bytes], int], int, Closer | None]:
    """A write to ``fd`` that never waits (BlockingIOError instead), and the fd to select on.

    Our stdout's open file description is shared (a terminal with the shell, a pipe): setting
    O_NONBLOCK on it would change it for them too, so a pipe or terminal is opened again through
    /proc (a description of our own); a socket (journald) takes MSG_DONTWAIT; a pipe we cannot
    reopen gets writes of PIPE_BUF bytes after select says it has room (such a write never
    waits); files and /dev/null are written as they are (they never wait for a reader)."""
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        return (lambda data: os.write(fd, data)), fd, None  # EBADF: the sink turns itself off
    if stat.S_ISSOCK(mode):
        sock = socket.socket(fileno=os.dup(fd))
        sock.setblocking(True)  # only this write is non-blocking
        return (lambda data: sock.send(data, socket.MSG_DONTWAIT)), sock.fileno(), sock.close
    if not (stat.S_ISFIFO(mode) or os.isatty(fd)):
        return (lambda data: os.write(fd, data)), fd, None
    try:
        own = os.open(f"/proc/self/fd/{fd}", os.O_WRONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError:
        own = -1
    if own >= 0:
        return (lambda data: os.write(own, data)), own, lambda: os.close(own)

    def write(data: bytes) -> int:
        if not select.select([], [fd], [], 0)[1]:
            raise BlockingIOError(errno.EAGAIN, "no room")
        return os.write(fd, data[: select.PIPE_BUF])

    return write, fd, None


class Sink:
    """One of our own output fds (1 or 2). ``write`` queues and never waits: what the reader does
    not take now is written when ``flush`` finds room; beyond QUEUE_LIMIT bytes queued, new lines
    are dropped and counted (``dropped``). A closed reader turns the sink off."""

    def __init__(self, fd: int, limit: int = QUEUE_LIMIT) -> None:
        self.fd = fd
        self.limit = limit
        self.broken = False
        self.queue: deque[bytes] = deque()
        self.queued = 0
        #: Lines dropped since we started; of which not yet told (``unreported``).
        self.dropped = 0
        self.unreported = 0
        self._write: Callable[[bytes], int] | None = None
        self._select_fd = fd
        self._close: Closer | None = None

    def fileno(self) -> int:
        """What to select on for room to write."""
        self._open()
        return self._select_fd

    @property
    def pending(self) -> bool:
        return bool(self.queue)

    def write(self, data: bytes) -> None:
        if self.broken or not data:
            return
        if self.queued + len(data) > self.limit:
            lines = data.count(b"\n") or 1
            self.dropped += lines
            self.unreported += lines
            return
        self.queue.append(data)
        self.queued += len(data)
        self.flush()

    def flush(self) -> None:
        """Write what the reader takes now, without waiting."""
        write = self._open()
        while self.queue and not self.broken:
            head = self.queue[0]
            try:
                written = write(head)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:
                if e.errno in (errno.EPIPE, errno.EBADF, errno.EIO, errno.ECONNRESET):
                    self._off()  # nobody reads our output any more: keep supervising
                    return
                raise
            if written >= len(head):
                self.queue.popleft()
            else:
                self.queue[0] = head[written:]
            self.queued -= written

    def flush_until(self, deadline: float) -> None:
        """Wait (for our exit) until all is written, ``deadline``, or the reader took nothing for
        STALLED seconds; what is left counts as dropped."""
        while self.pending and not self.broken:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                room = select.select([], [self.fileno()], [], min(left, STALLED))[1]
            except (OSError, ValueError):  # pragma: no cover
                break
            if not room:  # not a byte taken for STALLED seconds: a stuck reader, not a slow one
                break
            self.flush()
        lines = sum(chunk.count(b"\n") for chunk in self.queue)
        self.dropped += lines
        self.unreported += lines
        self.queue.clear()
        self.queued = 0

    def close(self) -> None:
        """Close the fds of our own (a reopened pipe, a socket); fd 1 or 2 itself stays open."""
        close, self._close, self._write = self._close, None, None
        if close is not None:
            try:
                close()
            except OSError:  # pragma: no cover
                pass

    def _off(self) -> None:
        self.broken = True
        self.queue.clear()
        self.queued = 0

    def _open(self) -> Callable[[bytes], int]:
        if self._write is None:
            self._write, self._select_fd, self._close = _writer(self.fd)
        return self._write


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


class JsonWrap:
    """log_format json: every line of one child's stream made one valid JSON line (a JSON object
    passes as it is, other text becomes a record; see ``logs.lines``)."""

    def __init__(self, process: str, stream: str, pid: int) -> None:
        self.process = process
        self.stream = stream
        self.pid = pid

    def line(self, raw: bytes) -> bytes:
        if raw[:1] == b"{":  # the common case, a record of a JSON-mode child: checked, kept as it is
            try:
                if isinstance(json.loads(raw), dict):
                    return raw
            except ValueError:
                pass
        text = raw.decode("utf-8", "replace")
        return line_as_json(text, process=self.process, stream=self.stream, pid=self.pid, limit=MAX_LINE).encode()

    def overlong(self, head: bytes, length: int) -> bytes:
        """A line of ``length`` bytes of which we kept ``head``: one record that says it was cut,
        with the fields the head shows (a record's own pid and level rather than ours)."""
        text = head.decode("utf-8", "replace")
        level = "info" if self.stream == "stdout" else "warning"
        record = text_record(text, process=self.process, logger=self.stream, level=level, pid=self.pid)
        if text.startswith("{"):
            for key, value in _FIELD.findall(text[:LINE_LIMIT]):
                if key in record and key != "message":
                    record[key] = int(value) if value.isdigit() else json.loads(value)
        record["original_length"] = {"message": length}
        return fit(record).encode()


#: ``"key": value`` of the short fields at the head of a JSON record too long to parse.
_FIELD = re.compile(r'"(timestamp|level|logger|pid|request_id)": ?("(?:[^"\\]|\\.)*"|\d+)')


class LineStream:
    """Bytes from one child pipe, cut into lines; ``feed`` returns what is ready to write.

    A line longer than MAX_LINE is written in prefixed pieces; in JSON mode (``json``) it is one
    record instead, cut (a piece of JSON is not JSON) and saying how long the line was."""

    def __init__(self, prefix: bytes) -> None:
        self.prefix = prefix
        self.pending = b""
        self.json: JsonWrap | None = None
        #: JSON mode, inside an over-long line: the head kept, and the bytes seen so far.
        self.head = b""
        self.overflow: int | None = None

    def feed(self, data: bytes) -> bytes:
        out = []
        if self.overflow is not None and self.json is not None:
            end = data.find(b"\n")
            if end < 0:
                self.overflow += len(data)
                return b""
            out.append(self.json.overlong(self.head, self.overflow + end) + b"\n")
            self.head, self.overflow, data = b"", None, data[end + 1 :]
        buf = self.pending + data
        cut = buf.rfind(b"\n") + 1
        ready, self.pending = buf[:cut], buf[cut:]
        if ready:
            out.append(self._lines(ready))
        if len(self.pending) >= MAX_LINE and self.json is not None:
            self.head, self.overflow, self.pending = self.pending[:MAX_LINE], len(self.pending), b""
        while len(self.pending) >= MAX_LINE:
            piece, self.pending = self.pending[:MAX_LINE], self.pending[MAX_LINE:]
            out.append(self.prefix + piece + b"\n")
        return b"".join(out)

    def finish(self) -> bytes:
        """At end of stream: the unterminated last line, terminated (a crash mid-line keeps it)."""
        if self.overflow is not None and self.json is not None:
            head, length, self.head, self.overflow = self.head, self.overflow, b"", None
            return self.json.overlong(head, length) + b"\n"
        rest, self.pending = self.pending, b""
        if not rest:
            return b""
        return self._lines(rest + b"\n") if self.json is not None else self.prefix + rest + b"\n"

    def _lines(self, ready: bytes) -> bytes:
        """Complete lines (``ready`` ends with a newline), prefixed or made JSON."""
        if self.json is not None:
            return b"".join(self.json.line(line) + b"\n" for line in ready.split(b"\n")[:-1] if line.strip())
        if not self.prefix:
            return ready
        return b"".join(self.prefix + line for line in ready.splitlines(keepends=True))


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
    return fit(text_record(message, process=process, logger=logger, level=level)).encode() + b"\n"


class Tap(Sink):
    """A child's output sink that also shows each chunk to ``seen`` (the ops endpoint's watch of a
    ready log line)."""

    def __init__(self, inner: Sink, seen: Callable[[bytes], None]) -> None:
        self.inner = inner
        self.fd = inner.fd
        self.broken = False
        self.seen = seen

    def write(self, data: bytes) -> None:
        self.seen(data)
        self.inner.write(data)
