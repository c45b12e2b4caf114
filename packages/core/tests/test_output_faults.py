"""Output under faults, part by part: JSON records cut to one atomic pipe write, the supervisor's
JSON line cutter, a sink whose reader stopped reading, and /livez of a loop that stopped turning."""

from __future__ import annotations

import io
import json
import logging
import os
import socket
import threading
import time

import pytest

from django_prodserver.launch.supervisor.output import MAX_LINE, JsonWrap, LineStream, Sink
from django_prodserver.logs.lines import LINE_LIMIT, fit
from django_prodserver.logs.streams import JsonLines
from django_prodserver.testing.processes import free_port, http_get

pytestmark = pytest.mark.timeout(60)

BASE = {"timestamp": "2026-12-07T10:00:00.000Z", "level": "error", "logger": "app", "process": "web", "pid": 7}


@pytest.mark.parametrize("size", [5_000, 70_000, 1_000_000])
def test_fit_keeps_a_record_within_one_pipe_write_and_says_what_it_cut(size: int) -> None:
    tb = "Traceback (most recent call last):\n" + '  File "x.py", line 1, in f\n' * (size // 30) + "ValueError: boom"
    record = {**BASE, "message": 'SELECT é "q"\n' * (size // 12), "exc_info": tb, "request_id": "r1", "n": 3}
    line = fit(record)
    assert len(line.encode()) < LINE_LIMIT  # the newline makes LINE_LIMIT
    out = json.loads(line)
    assert {k: out[k] for k in (*BASE, "request_id", "n")} == {**BASE, "request_id": "r1", "n": 3}
    assert out["truncated"] is True
    assert out["original_length"] == {"message": len(record["message"]), "exc_info": len(tb)}
    assert out["message"].startswith('SELECT é "q"\nSELECT')  # the head of a message
    assert out["exc_info"].startswith("Traceback") and out["exc_info"].endswith("ValueError: boom")  # both ends
    assert fit({**BASE, "message": "short"}) == json.dumps({**BASE, "message": "short"}, ensure_ascii=False)


def test_json_formatter_cuts_a_long_record_with_its_traceback() -> None:
    from django_prodserver.logs.formatter import JsonFormatter

    try:
        raise RuntimeError("x" * 100_000)
    except RuntimeError:
        import sys

        exc = sys.exc_info()
    record = logging.LogRecord("django.request", logging.ERROR, "v.py", 1, "failed %s", ("y" * 70_000,), exc)
    line = JsonFormatter(process="web").format(record)
    assert len(line.encode()) < LINE_LIMIT
    out = json.loads(line)
    assert out["truncated"] is True and out["pid"] == os.getpid() and out["process"] == "web"
    assert out["original_length"]["message"] == len("failed ") + 70_000
    assert out["exc_info"].endswith("x" * 20) and "RuntimeError" in out["exc_info"]


class Writes(io.StringIO):
    """A text stream that remembers each write."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[str] = []

    def write(self, s: str) -> int:
        self.writes.append(s)
        return len(s)


def test_printed_text_is_written_one_line_per_write_each_within_the_limit() -> None:
    stream = Writes()
    lines = JsonLines(stream, "stdout", "web")  # type: ignore[arg-type]
    lines.write("banner one\nbanner two\n" + "z" * 200_000 + "\n" + '{"ok": 1}\n' + '{"half": \n')
    assert len(stream.writes) == 5, stream.writes
    for w in stream.writes:
        assert w.endswith("\n") and w.count("\n") == 1 and len(w.encode()) <= LINE_LIMIT
        assert isinstance(json.loads(w), dict)
    assert json.loads(stream.writes[2])["original_length"] == {"message": 200_000}
    assert stream.writes[3] == '{"ok": 1}\n'
    assert json.loads(stream.writes[4])["message"] == '{"half": '  # looks like JSON, is not: wrapped


def test_supervisor_line_cutter_in_json_mode_makes_every_line_one_object() -> None:
    s = LineStream(b"")
    s.json = JsonWrap("migrate", "stdout", 4242)
    out = s.feed(b"Operations to perform:\n" + b'{"message": "ok", "pid": 9}\n' + b"no newline yet")
    first, second = out.decode().splitlines()
    assert json.loads(first)["message"] == "Operations to perform:" and json.loads(first)["pid"] == 4242
    assert json.loads(first)["process"] == "migrate" and json.loads(first)["logger"] == "stdout"
    assert second == '{"message": "ok", "pid": 9}'
    assert json.loads(s.feed(b" ... done\n\n"))["message"] == "no newline yet ... done"  # blank lines: none


def test_an_over_long_line_in_json_mode_is_one_cut_record_not_pieces() -> None:
    s = LineStream(b"")
    s.json = JsonWrap("web", "stderr", 4242)
    record = '{"timestamp": "2026-12-07T10:00:00.000Z", "level": "error", "logger": "app", "pid": 77, "message": "'
    line = record.encode() + b"m" * (3 * MAX_LINE) + b'"}\n'
    out = b"".join(s.feed(line[i : i + 10_000]) for i in range(0, len(line), 10_000)) + s.feed(b"after\n")
    cut, after = out.decode().splitlines()
    obj = json.loads(cut)
    assert obj["truncated"] is True and obj["original_length"] == {"message": len(line) - 1}
    assert (obj["pid"], obj["level"], obj["logger"], obj["process"]) == (77, "error", "app", "web")
    assert len(cut.encode()) < LINE_LIMIT
    assert json.loads(after)["message"] == "after"
    # At end of stream in the middle of an over-long line: one cut record still.
    s.feed(b"x" * (MAX_LINE + 5))
    assert json.loads(s.finish())["original_length"] == {"message": MAX_LINE + 5}


def fills_without_waiting(sink: Sink, line: bytes, count: int) -> bool:
    """Write ``line`` ``count`` times into ``sink`` from a thread; False when that did not end
    within 30 s (a write waited for the reader)."""
    done = threading.Event()

    def writer() -> None:
        for _ in range(count):
            sink.write(line)
        done.set()

    threading.Thread(target=writer, daemon=True).start()
    return done.wait(30)


def test_a_sink_whose_reader_stopped_never_waits_and_drops_whole_lines() -> None:
    read_end, write_end = os.pipe()
    sink = Sink(write_end, limit=256 * 1024)
    line = b"x" * 99 + b"\n"
    assert fills_without_waiting(sink, line, 100_000), "Sink.write waited for the reader"  # 10 MB, 64 KiB pipe
    assert sink.queued <= 256 * 1024 and sink.dropped > 90_000 and sink.unreported == sink.dropped
    kept = 100_000 - sink.dropped
    got = b""
    deadline = time.monotonic() + 20
    while len(got) < kept * len(line) and time.monotonic() < deadline:
        got += os.read(read_end, 65536)
        sink.flush()
    assert got == line * kept  # what was kept went out whole, in order
    assert not sink.pending
    sink.close()
    os.close(read_end)
    os.close(write_end)


def test_a_pipe_that_cannot_be_opened_again_gets_writes_that_fit(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without /proc (or not allowed to reopen it), a pipe is written PIPE_BUF bytes at a time
    once select says there is room: such a write never waits either."""
    read_end, write_end = os.pipe()
    sink = Sink(write_end, limit=128 * 1024)
    with monkeypatch.context() as m:

        def no_proc(path: str, *args: object, **kwargs: object) -> int:
            raise PermissionError(13, "denied", path)

        m.setattr(os, "open", no_proc)
        assert sink.fileno() == write_end  # no fd of its own: it selects on the pipe itself
    assert fills_without_waiting(sink, b"p" * 99 + b"\n", 20_000), "Sink.write waited for the reader"
    assert sink.dropped > 0
    os.close(read_end)
    sink.flush()  # the reader is gone: EPIPE turns the sink off, nothing raised
    assert sink.broken and not sink.pending
    os.close(write_end)


def test_flush_until_gives_up_at_its_deadline_and_counts_what_was_left() -> None:
    read_end, write_end = os.pipe()
    sink = Sink(write_end)
    for _ in range(2000):
        sink.write(b"y" * 99 + b"\n")  # 200 KB: more than the pipe holds
    assert sink.pending and sink.dropped == 0
    began = time.monotonic()
    sink.flush_until(time.monotonic() + 0.3)
    assert time.monotonic() - began < 5
    assert not sink.pending and 0 < sink.dropped < 2000
    sink.close()
    os.close(read_end)
    os.close(write_end)


def test_a_socket_sink_does_not_wait_either() -> None:
    ours, theirs = socket.socketpair()
    ours.setblocking(True)
    sink = Sink(ours.fileno(), limit=64 * 1024)
    assert fills_without_waiting(sink, b"s" * 99 + b"\n", 50_000) and sink.dropped > 0
    sink.close()
    ours.close()
    theirs.close()


def test_livez_fails_when_the_supervisor_loop_stops_turning() -> None:
    from django_prodserver.ops.config import OpsConfig
    from django_prodserver.ops.runtime import LOOP_LIMIT, OpsRuntime, Watched
    from django_prodserver.ops.server import bind

    port = free_port()
    rt = OpsRuntime(OpsConfig("127.0.0.1", port, metrics=False), [Watched("web", "web", None, service=True)], bind)
    rt.start()
    try:
        rt.tick({"stdout": 0, "stderr": 0})
        assert http_get(port, "/livez").status == 200
        rt.ticked_at -= LOOP_LIMIT + 1  # as if the loop had been stuck that long
        resp = http_get(port, "/livez")
        assert resp.status == 503 and b"loop has not turned" in resp.body, resp.body
        rt.tick({"stdout": 3, "stderr": 0})
        assert http_get(port, "/livez").status == 200
    finally:
        rt.close()
