"""log_format json under large records written at once by several workers into one pipe: every
line of the output is one JSON object, each record keeps its own pid and request id, records too
long for one atomic write say they were cut; a one-shot command's plain text is wrapped too."""

from __future__ import annotations

import json
import re
import signal
import threading
from pathlib import Path
from typing import Any

import pytest

from django_prodserver.logs.lines import LINE_LIMIT
from django_prodserver.testing.jsonlogs import user_logging
from django_prodserver.testing.processes import free_port, http_get, prodserver_argv, project_environ, start, wait_http

#: Starts real servers/workers: excluded from `python3 dev.py test --fast`.
pytestmark = pytest.mark.live

SIZES = (5_000, 70_000, 1_000_000)
PER_SIZE = 12
TOKEN = re.compile(r"view log record (\w+)-(\d+)-(\d+) pid=(\d+) ")


@pytest.mark.timeout(300)
def test_concurrent_large_records_of_three_workers_stay_whole_lines(tmp_path: Path) -> None:
    ports = {"web": free_port(), "api": free_port()}
    common = {"host": "127.0.0.1", "log_format": "json", "workers": 3, "drain_delay": 0.0, "graceful_timeout": 5.0}
    processes: dict[str, Any] = {
        "migrate": {"BACKEND": "command", "ARGS": ["migrate", "--noinput"]},
        **{name: {"BACKEND": "gunicorn", "OPTIONS": {**common, "port": port}} for name, port in ports.items()},
    }
    env = project_environ(processes, tmp_path, settings={"LOGGING": user_logging(tmp_path / "app.log")})
    proc = start(prodserver_argv("--all"), env, tmp_path, tmp_path / "out.log")
    try:
        for port in ports.values():
            wait_http(proc, port, "/")
        jobs = [(name, size, i) for name in ports for size in SIZES for i in range(PER_SIZE)]
        failures: list[str] = []
        lock = threading.Lock()

        def client() -> None:
            while True:
                with lock:
                    if not jobs:
                        return
                    name, size, i = jobs.pop()
                token = f"{name}-{size}-{i}"
                resp = http_get(ports[name], f"/log/?token={token}&size={size}", timeout=60)
                if resp.status != 200:
                    failures.append(f"{token}: {resp.status}")

        clients = [threading.Thread(target=client) for _ in range(6)]  # all sizes at once, both servers
        for t in clients:
            t.start()
        for t in clients:
            t.join(240)
        assert not failures, failures
        proc.signal(signal.SIGTERM)
        assert proc.wait(30) == 0, proc.output()[-4000:]
    finally:
        proc.stop()

    records = []
    for line in proc.output().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            raise AssertionError(f"a line that is not JSON: {line[:300]!r}") from None
        assert isinstance(record, dict) and record["process"] in ("prodserver", "migrate", "web", "api"), line[:300]
        records.append(record)
    views = {}
    for r in records:
        m = TOKEN.match(r["message"])
        if r["logger"] != "prodserver.access" and m:
            name, size, i, pid = m.groups()
            assert r["process"] == name and r["pid"] == int(pid), f"a record with another's pid: {r}"
            views[(name, int(size), int(i))] = r
    assert len(views) == 2 * len(SIZES) * PER_SIZE, sorted(views)
    for (_name, size, _i), r in views.items():
        assert len(json.dumps(r, ensure_ascii=False).encode()) < LINE_LIMIT
        if size > LINE_LIMIT:
            assert r["truncated"] is True and r["original_length"]["message"] > size, r
    # each view record and its request's access line carry the same request id
    access = {r["request_id"]: r for r in records if r["logger"] == "prodserver.access" and r["http.path"] == "/log/"}
    for r in views.values():
        assert access[r["request_id"]]["pid"] == r["pid"], r
    # the one-shot migrate printed plain text: each of its lines is a record of its own
    migrate = [r for r in records if r["process"] == "migrate"]
    assert any(r["message"].startswith("Operations to perform") for r in migrate), migrate
    assert all(r["logger"] in ("stdout", "stderr") for r in migrate), migrate
