"""Upstream 3.x settings that bind through ARGS: the plan, --dry-run, the banner and /readyz
all name the address gunicorn really listens on (loopback only)."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from django_prodserver.testing.ops import status
from django_prodserver.testing.processes import (
    free_port,
    http_get,
    prodserver_argv,
    project_environ,
    run_django,
    start,
    wait_for_output,
)

UPSTREAM_GUNICORN = "django_prodserver.backends.servers.gunicorn.GunicornServer"


def upstream_entry(port: int) -> dict[str, object]:
    """An entry exactly as upstream 3.x documented it: a dotted BACKEND and an ARGS dict."""
    return {"BACKEND": UPSTREAM_GUNICORN, "ARGS": {"bind": f"127.0.0.1:{port}", "workers": "1"}}


def test_dry_run_of_an_upstream_bind_shows_the_bind_and_says_what_to_write(tmp_path: Path) -> None:
    port = free_port()
    env = project_environ({"web": upstream_entry(port)}, tmp_path)
    out = run_django(env, tmp_path, "prodserver", "web", "--dry-run")
    assert out.returncode == 0, out.stderr
    assert f"port = {port}  [settings ARGS --bind]" in out.stdout, out.stdout
    assert "host = '127.0.0.1'  [settings ARGS --bind]" in out.stdout
    assert "workers = 1  [settings ARGS --workers]" in out.stdout
    assert f"  listen: http://127.0.0.1:{port}/" in out.stdout
    # The deprecation names the new BACKEND and the OPTIONS that replace the ARGS.
    assert 'write "BACKEND": "gunicorn"' in out.stderr
    assert f'"OPTIONS": {{"host": "127.0.0.1", "port": {port}, "workers": 1}}' in out.stderr, out.stderr


@pytest.mark.live
@pytest.mark.timeout(120)
def test_upstream_args_bind_is_where_the_banner_and_readyz_look(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    port, ops = free_port(), free_port()
    env = project_environ({"web": upstream_entry(port)}, tmp_path, extra={"PRODSERVER_OPS_PORT": str(ops)})
    proc = start(prodserver_argv("web"), env, tmp_path, tmp_path / "web.log")
    request.addfinalizer(lambda: proc.stop(timeout=10))
    wait_for_output(proc, "started 'web'", timeout=60)
    banner = re.search(r"started 'web' \(pid \d+\): (.+)", proc.output())
    expected = f"gunicorn on http://127.0.0.1:{port}/ (from ARGS --bind)"
    assert banner is not None and banner.group(1).strip() == expected, proc.output()
    deadline = time.monotonic() + 60
    while status(ops, "/readyz", timeout=1) != 200:  # 503 forever when it probed 127.0.0.1:8000
        assert time.monotonic() < deadline, proc.output()[-3000:]
        assert proc.popen.poll() is None, proc.output()[-3000:]
        time.sleep(0.05)
    assert http_get(port, "/").status == 200  # where the plan said: the server really listens there
    verbose = http_get(ops, "/readyz?verbose").json()["processes"]["web"]
    assert verbose["ready"] is True, verbose
