"""log_format json on each of the six web servers, one real start each.

Every captured line (stdout and stderr of the whole process tree) is one JSON object with the
required fields; the access line's method/path/status/duration/bytes are right; the request id
sent in X-Request-ID is in the access line, in the view's record (sync and async views), in the
exception's record and in the response header; a request without one gets a generated id; the
project's own LOGGING file handler still receives the view's records."""

from __future__ import annotations

import http.client
import json
import time
from pathlib import Path
from typing import Any

import pytest

from django_prodserver.logs.schema import ACCESS
from django_prodserver.testing.jsonlogs import parse_json_lines, user_logging
from django_prodserver.testing.processes import free_port, prodserver_argv, project_environ, start, wait_http

#: Starts real servers/workers: excluded from `python3 dev.py test --fast`.
pytestmark = pytest.mark.live

SERVERS = ["gunicorn", "uvicorn", "granian", "hypercorn", "waitress", "daphne"]
SINGLE = {"waitress", "daphne"}


def get(port: int, path: str, rid: str | None) -> tuple[int, dict[str, str]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        headers = {"User-Agent": "prodserver-logs-test/1"}
        if rid:
            headers["X-Request-ID"] = rid
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}
    finally:
        conn.close()


@pytest.mark.parametrize("backend", SERVERS)
def test_json_logs(backend: str, tmp_path: Path) -> None:
    port = free_port()
    options: dict[str, Any] = {"host": "127.0.0.1", "port": port, "log_format": "json", "access_log": True}
    options["drain_delay"] = 0.0
    options["graceful_timeout"] = 5.0
    if backend not in SINGLE:
        options["workers"] = 1
    logfile = tmp_path / "app.log"
    env = project_environ(
        {"web": {"BACKEND": backend, "OPTIONS": options}}, tmp_path, settings={"LOGGING": user_logging(logfile)}
    )
    proc = start(prodserver_argv("web"), env, tmp_path, tmp_path / "out.log")
    try:
        wait_http(proc, port, "/")
        tag = backend
        status, headers = get(port, f"/log/?token={tag}-1", f"rid-{tag}-1")
        assert status == 200
        assert headers["x-request-id"] == f"rid-{tag}-1"
        status, headers = get(port, f"/boom/?token={tag}-2", f"rid-{tag}-2")
        assert status == 500 and headers["x-request-id"] == f"rid-{tag}-2"
        status, headers = get(port, f"/alog/?token={tag}-3", f"rid-{tag}-3")
        assert status == 200 and headers["x-request-id"] == f"rid-{tag}-3"
        status, headers = get(port, "/log/?token=none", None)
        generated = headers["x-request-id"]
        assert status == 200 and len(generated) == 32
        time.sleep(0.5)
    finally:
        proc.stop()
    output = proc.output()
    records = parse_json_lines(output, "web")
    access = [r for r in records if r["logger"] == "prodserver.access"]
    by_rid = {r["request_id"]: r for r in access}
    assert f"rid-{tag}-1" in by_rid, output
    line = by_rid[f"rid-{tag}-1"]
    assert all(f in line for f in ACCESS), line
    assert line["http.method"] == "GET" and line["http.path"] == "/log/" and line["http.status"] == 200
    assert isinstance(line["http.duration_ms"], float) and 0 < line["http.duration_ms"] < 10_000
    assert line["http.bytes"] == len(b'{"ok": true}') and line["client.address"] == "127.0.0.1"
    assert line["http.user_agent"] == "prodserver-logs-test/1"
    assert by_rid[f"rid-{tag}-2"]["http.status"] == 500 and by_rid[f"rid-{tag}-2"]["http.path"] == "/boom/"
    assert by_rid[f"rid-{tag}-3"]["http.status"] == 200
    assert generated in by_rid
    view = [r for r in records if r["message"] == f"view log record {tag}-1"]
    assert view and view[0]["request_id"] == f"rid-{tag}-1", output
    aview = [r for r in records if r["message"] == f"async view log record {tag}-3"]
    assert aview and aview[0]["request_id"] == f"rid-{tag}-3", output
    errors = [r for r in records if "exc_info" in r and f"boom {tag}-2" in r["exc_info"]]
    assert errors and errors[0]["request_id"] == f"rid-{tag}-2" and errors[0]["level"] == "error", output
    assert "Traceback (most recent call last)" in errors[0]["exc_info"]
    print(backend, json.dumps(line))  # the issue note shows one access line per server
    text = logfile.read_text()
    assert f"INFO django_prodserver.testing.project.views view log record {tag}-1" in text
