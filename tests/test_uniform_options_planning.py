"""Uniform options across the six web servers, planned (no start) and one live fork check.

The README's example runs unchanged under every server; contract options a server lacks are
refused with a reason; a native flag in ARGS or after ``--`` becomes the option's value with its
source; a backend's own errors carry its check namespace and can be silenced one by one.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from django_prodserver.backends.base import LaunchContext
from django_prodserver.backends.loading import load_backend
from django_prodserver.plan import LaunchPlan
from django_prodserver.settings.config import load_process
from django_prodserver.testing.helpers import project_context
from django_prodserver.testing.processes import (
    children_of,
    free_port,
    http_get,
    prodserver_argv,
    project_environ,
    start,
    wait_http,
)

SIX = ["gunicorn", "uvicorn", "granian", "waitress", "hypercorn", "daphne"]
README_OPTIONS = {"workers": 4, "timeout": 30}  # README.md's configuration example
CTX = project_context()


def plan(backend: str, options: dict[str, Any] | None = None, ctx: LaunchContext = CTX, **entry: Any) -> LaunchPlan:
    config = load_process("web", {"BACKEND": backend, "OPTIONS": options or {}, **entry})
    return load_backend(config)[0].plan(ctx)


def readme_processes() -> dict[str, Any]:
    """PRODUCTION_PROCESSES exactly as README.md's configuration example writes it."""
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    block = next(b for b in readme.split("```python")[1:] if "PRODUCTION_PROCESSES" in b).split("```")[0]
    namespace: dict[str, Any] = {}
    exec(block, namespace)  # the README's own text: literals only
    processes: dict[str, Any] = namespace["PRODUCTION_PROCESSES"]
    return processes


def test_readme_example_is_the_one_tested() -> None:
    assert readme_processes()["web"]["OPTIONS"] == README_OPTIONS


@pytest.mark.parametrize("backend", SIX)
def test_readme_example_plans_under_every_server(backend: str) -> None:
    web = {**readme_processes()["web"], "BACKEND": backend}  # the only edit
    config = load_process("web", web)
    p = load_backend(config)[0].plan(CTX)
    assert p.options["workers"] == 4 and p.options["timeout"] == 30
    assert p.warnings == (), p.warnings  # workers and a timeout mean the same everywhere
    assert p.options.source("workers") == "settings OPTIONS"


@pytest.mark.parametrize("backend", SIX)
def test_every_undeclared_uniform_option_is_a_contract_refused_with_a_reason(backend: str) -> None:
    cls = type(load_backend(load_process("web", {"BACKEND": backend}))[0])
    undeclared = set(cls.catalog) - {o.name for o in cls.declared_options()}
    assert all(cls.catalog[name].contract for name in undeclared), undeclared
    assert undeclared <= set(cls.refused), f"{backend}: no reason for {undeclared - set(cls.refused)}"
    for opt in cls.options:
        assert opt.support in ("native", "prodserver") or opt.instead, f"{opt.name}: say what is done instead"


def test_http2_on_waitress_is_refused_with_the_reason() -> None:
    from django_prodserver.errors import ConfigError

    with pytest.raises(ConfigError) as info:
        plan("waitress", {"http2": True})
    assert "['http2']" in str(info.value) and "HTTP/1.1 only" in str(info.value)


@pytest.mark.parametrize(
    ("backend", "args", "native", "option", "value", "source"),
    [
        ("uvicorn", ["--workers", "2"], (), "workers", 2, "settings ARGS --workers"),
        ("uvicorn", [], ("--workers", "3"), "workers", 3, "command line -- --workers"),
        ("uvicorn", ["--no-access-log"], (), "access_log", False, "settings ARGS --no-access-log"),
        ("gunicorn", ["-w", "5"], (), "workers", 5, "settings ARGS -w"),
        ("granian", {"blocking-threads": 3}, (), "threads", 3, "settings ARGS --blocking-threads"),
        ("waitress", {"threads": "6"}, (), "threads", 6, "settings ARGS --threads"),
        ("hypercorn", ["--keep-alive", "9"], (), "keepalive", 9, "settings ARGS --keep-alive"),
        ("daphne", ["--workers", "2"], (), "workers", 2, "settings ARGS --workers"),
    ],
)
def test_native_flags_are_written_back_with_their_source(
    backend: str, args: Any, native: tuple[str, ...], option: str, value: Any, source: str
) -> None:
    from dataclasses import replace

    p = plan(backend, ctx=replace(CTX, native_args=native), ARGS=args)
    assert (p.options[option], p.options.source(option)) == (value, source)
    if source != "default":
        assert f"{option} = {value!r}  [{source}]" in p.describe()


def test_dry_run_shows_the_args_value_not_web_concurrency(tmp_path: Path) -> None:
    entry = {"BACKEND": "uvicorn", "ARGS": ["--workers", "2"]}
    env = project_environ({"web": entry}, tmp_path, extra={"WEB_CONCURRENCY": "3"})
    out = subprocess.run(
        prodserver_argv("web", extra=["--dry-run", "--", "--workers", "8"]),
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert "workers = 8  [command line -- --workers]" in out.stdout, out.stdout


def test_backend_errors_carry_their_namespace_and_can_be_silenced(tmp_path: Path) -> None:
    entry = {"BACKEND": "gunicorn", "OPTIONS": {"http2": True, "threads": 2}}  # HTTP/2 without TLS
    [message] = load_backend(load_process("web", entry))[0].check(CTX)
    assert message.id == "prodserver_gunicorn.E001" and "needs TLS" in message.msg

    def check(silenced: list[str]) -> subprocess.CompletedProcess[str]:
        env = project_environ({"web": entry}, tmp_path, settings={"SILENCED_SYSTEM_CHECKS": silenced})
        return subprocess.run(
            [sys.executable, "-m", "django", "check"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
        )

    loud = check([])
    assert loud.returncode == 1 and "prodserver_gunicorn.E001" in loud.stderr
    quiet = check(["prodserver_gunicorn.E001"])
    assert quiet.returncode == 0, quiet.stderr


@pytest.mark.live
@pytest.mark.timeout(90)
def test_uvicorn_forks_the_workers_asked_for_in_args(tmp_path: Path) -> None:
    port = free_port()
    entry = {"BACKEND": "uvicorn", "OPTIONS": {"host": "127.0.0.1", "port": port}, "ARGS": ["--workers", "2"]}
    env = project_environ({"web": entry}, tmp_path)
    proc = start(prodserver_argv("web"), env, tmp_path, tmp_path / "uvicorn.log")
    try:
        wait_http(proc, port, timeout=60)
        deadline = time.monotonic() + 20
        while len(children_of(proc.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        kids = children_of(proc.pid)
        assert len(kids) == 2, proc.output()[-2000:]
        parent_cmd = Path(f"/proc/{proc.pid}/cmdline").read_bytes()
        # forked workers keep the parent's command line; spawned ones run multiprocessing.spawn
        assert all(Path(f"/proc/{k}/cmdline").read_bytes() == parent_cmd for k in kids)
        assert {http_get(port, "/").json()["pid"] for _ in range(20)} <= set(kids)
    finally:
        proc.stop(timeout=10)


def test_backend_pages_option_tables_match_the_declarations() -> None:
    """docs/backends/*.md tables are generated; regenerate with
    ``python -m django_prodserver.describe --markdown docs`` when this fails."""
    from django_prodserver.describe import installed_classes, sync_docs

    docs = str(Path(__file__).parents[1] / "docs")
    classes = installed_classes()
    assert set(SIX) <= set(classes)
    assert sync_docs(docs, classes, check=True) == []
    for name in SIX:
        page = (Path(docs) / "backends" / f"{name}.md").read_text()
        assert "<!-- options:begin" in page, f"{name}.md has no generated table"
