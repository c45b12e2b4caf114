"""The supervisor and the start lines with log_format json and text (issue 10, points 5 and 6).

JSON: the supervisor's own lines follow the schema (process "prodserver") and children's
lines are not prefixed. Text: prefixes and native access lines as before; a normal start
prints one line per process saying what started where, and the notes only with -v 2."""

from __future__ import annotations

import json
import re
import signal
from pathlib import Path
from typing import Any

import pytest

from django_prodserver.testing.jsonlogs import parse_json_lines
from django_prodserver.testing.processes import (
    free_port,
    http_get,
    prodserver_argv,
    project_environ,
    start,
    wait_for_output,
    wait_http,
)

#: Starts real servers/workers: excluded from `python3 dev.py test --fast`.
pytestmark = pytest.mark.live


def two_servers(log_format: str) -> tuple[dict[str, Any], int, int]:
    """waitress (exec) and gunicorn (in-process: the child re-runs prodserver) side by side."""
    ports = free_port(), free_port()
    common = {"host": "127.0.0.1", "log_format": log_format, "drain_delay": 0.0, "graceful_timeout": 5.0}
    processes = {
        "web": {"BACKEND": "waitress", "OPTIONS": {**common, "port": ports[0]}},
        "api": {"BACKEND": "gunicorn", "OPTIONS": {**common, "port": ports[1], "workers": 1}},
    }
    return processes, ports[0], ports[1]


def run_both(log_format: str, tmp_path: Path) -> tuple[str, int, int]:
    processes, web, api = two_servers(log_format)
    proc = start(prodserver_argv("--all"), project_environ(processes, tmp_path), tmp_path, tmp_path / "out.log")
    try:
        wait_http(proc, web, "/")
        wait_http(proc, api, "/")
        http_get(web, "/db/")
        http_get(api, "/db/")
        proc.signal(signal.SIGTERM)
        assert proc.wait(30) == 0, proc.output()
    finally:
        proc.stop()
    return proc.output(), web, api


def test_supervisor_json_lines_follow_the_schema_without_prefixes(tmp_path: Path) -> None:
    output, web, api = run_both("json", tmp_path)
    records = []
    for line in output.splitlines():
        obj = json.loads(line)  # every line, the supervisor's included, is one JSON object
        process = obj["process"]
        assert process in ("prodserver", "web", "api"), line
        records += parse_json_lines(line, process)
    own = [r for r in records if r["process"] == "prodserver"]
    assert {r["logger"] for r in own} <= {"prodserver.supervisor"}, own
    started = sorted(r["message"] for r in own if r["message"].startswith("started "))
    assert len(started) == 2, own
    assert re.fullmatch(rf"started 'api' \(pid \d+\): gunicorn on http://127.0.0.1:{api}/ \(from OPTIONS\)", started[0])
    assert re.fullmatch(rf"started 'web' \(pid \d+\): waitress on http://127.0.0.1:{web}/ \(from OPTIONS\)", started[1])
    paths = {(r["process"], r["http.path"]) for r in records if r["logger"] == "prodserver.access"}
    assert {("web", "/db/"), ("api", "/db/")} <= paths
    assert not any(r["message"].startswith("starting ") for r in records), "the re-run child said it again"


def test_text_mode_is_unchanged_but_quieter(tmp_path: Path) -> None:
    output, web, api = run_both("text", tmp_path)
    lines = output.splitlines()
    assert not any(line.lstrip().startswith("{") for line in lines), output
    started = [line for line in lines if " | started " in line]
    assert len(started) == 2, output
    for name, what in (
        ("web", f"waitress on http://127.0.0.1:{web}/ (from OPTIONS)"),
        ("api", f"gunicorn on http://127.0.0.1:{api}/ (from OPTIONS)"),
    ):
        pattern = rf"prodserver \| started '{name}' \(pid \d+\): {re.escape(what)}"
        assert any(re.fullmatch(pattern, s) for s in started), started
    assert "note:" not in output and "prodserver: starting" not in output, output
    # children keep their prefixes and their servers' own access lines
    assert any(re.match(r'web\s+\| 127\.0\.0\.1 - - \[.*\] "GET /db/ HTTP/1\.1" 200 ', line) for line in lines), output
    assert any(re.match(r'api\s+\| 127\.0\.0\.1 - - \[.*\] "GET /db/ HTTP/1\.1" 200 ', line) for line in lines), output


def test_single_process_start_says_what_started_where_and_notes_need_v2(tmp_path: Path) -> None:
    port = free_port()
    processes = {"web": {"BACKEND": "gunicorn", "OPTIONS": {"host": "127.0.0.1", "port": port, "workers": 1}}}
    env = project_environ(processes, tmp_path)
    outputs = []
    for extra in ((), ("-v", "2")):
        proc = start(prodserver_argv("web", extra=extra), env, tmp_path, tmp_path / f"out{len(extra)}.log")
        try:
            wait_for_output(proc, "Booting worker")
        finally:
            proc.stop()
        outputs.append(proc.output())
    quiet, verbose = outputs
    banner = f"prodserver: starting 'web': gunicorn on http://127.0.0.1:{port}/ (from OPTIONS)"
    assert quiet.splitlines()[0] == banner, quiet
    assert "note:" not in quiet
    assert "[web] note: runs in-process" in verbose, verbose
