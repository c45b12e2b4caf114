"""The pytest plugin django-prodserver-core ships (entry point ``pytest11``): plan and start
configured processes in a project's own tests, and a ``live`` marker that ``-m "not live"`` skips.

    def test_plan(): assert "-w" in plan_for("gunicorn", {"workers": 2}).args
    def test_serves(prodserver_process): assert prodserver_process("granian").get("/").status == 200

Importing this module touches neither Django settings nor any backend (pytest loads it first).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from django_prodserver.backends.base import LaunchContext
    from django_prodserver.plan import LaunchPlan
    from django_prodserver.testing.processes import Response, RunningProcess

LIVE = "live"
LIVE_HELP = "starts real server, worker or broker processes (deselect with -m 'not live'; dev.py test --fast)"
#: Fixtures that start real processes: a test using any of them is marked ``live``.
LIVE_FIXTURES = frozenset({"prodserver_process", "start_server", "start_worker"})

Entry = str | Mapping[str, Any]


#: The ini option naming a project's own process-starting fixtures (they mark their users live too).
LIVE_FIXTURES_INI = "prodserver_live_fixtures"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        LIVE_FIXTURES_INI,
        "names of this project's fixtures that start real processes: tests using them are marked live",
        type="linelist",
        default=[],
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{LIVE}: {LIVE_HELP}")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark ``live`` every test that uses a process-starting fixture: the live contract tests
    of ``testing.web`` / ``testing.worker``, anything using ``prodserver_process``, and users of
    the fixtures listed in the ``prodserver_live_fixtures`` ini option."""
    live_fixtures = LIVE_FIXTURES.union(config.getini(LIVE_FIXTURES_INI) or ())
    for item in items:
        if live_fixtures.intersection(getattr(item, "fixturenames", ())) and not item.get_closest_marker(LIVE):
            item.add_marker(LIVE)


def entry_of(entry: Entry, options: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A ``PRODUCTION_PROCESSES`` entry from a backend name + options, or an entry dict."""
    if isinstance(entry, str):
        return {"BACKEND": entry, "OPTIONS": dict(options or {})}
    if "BACKEND" not in entry:
        raise TypeError(f"expected a backend name or an entry with BACKEND, found {dict(entry)!r}")
    out = dict(entry)
    if options:
        out["OPTIONS"] = {**(entry.get("OPTIONS") or {}), **options}
    return out


def plan_for(
    entry: Entry,
    options: Mapping[str, Any] | None = None,
    *,
    name: str = "web",
    ctx: LaunchContext | None = None,
    **ctx_changes: Any,
) -> LaunchPlan:
    """The LaunchPlan ``--dry-run`` would print for one entry, computed purely: the shipped test
    project's context (empty environment, fixed paths) unless ``ctx`` is given; ``ctx_changes``
    replace its fields (``environ={"PORT": "9000"}``, ``overrides={"workers": "3"}``...)."""
    from dataclasses import replace

    from django_prodserver.backends.loading import plan_process
    from django_prodserver.settings.config import load_process
    from django_prodserver.testing.helpers import project_context

    context = replace(ctx, **ctx_changes) if ctx is not None else project_context(**ctx_changes)
    return plan_process(load_process(name, entry_of(entry, options)), context)[1]


def refused(entry: Entry, options: Mapping[str, Any] | None = None, **kwargs: Any) -> str:
    """The :class:`ConfigError` text planning ``entry`` raises (``plan_for``'s arguments); the
    test fails when the entry plans."""
    from django_prodserver.errors import ConfigError

    try:
        planned = plan_for(entry, options, **kwargs)
    except ConfigError as e:
        return str(e)
    pytest.fail(f"expected a ConfigError, but {entry_of(entry, options)!r} planned: {planned.args!r}")


def legacy_plan_for(backend_path: str, args: Any, replacement: str, **kwargs: Any) -> LaunchPlan:
    """Plan an upstream 2.x/3.x entry (``BACKEND`` a class path, ``ARGS``); the test fails
    unless it warns naming the replacement ``"BACKEND": "<replacement>"``."""
    with pytest.warns(DeprecationWarning, match=f'"BACKEND": "{replacement}"'):
        return plan_for({"BACKEND": backend_path, "ARGS": args}, **kwargs)


def broker_unreachable(url: str, *, timeout: float = 2.0) -> str | None:
    """None when a TCP connection to the URL's host and port opens, else why not (password masked)."""
    from django_prodserver.masking import mask
    from django_prodserver.preflight import probe_url

    problem = probe_url(url, timeout)
    return None if problem is None else f"{mask(url)} is not reachable at {problem}"


def broker_or_skip(url: str, env_var: str = "", *, timeout: float = 2.0) -> str:
    """``url`` when its broker answers; otherwise skip the test, naming the URL (and the
    environment variable that points the tests at another broker)."""
    reason = broker_unreachable(url, timeout=timeout)
    if reason:
        hint = f"; set {env_var} to a reachable broker" if env_var else ""
        pytest.skip(f"broker {reason}{hint}")
    return url


@dataclass
class LiveProcess:
    """A started ``prodserver`` process: its RunningProcess, and the port for web processes."""

    process: RunningProcess
    port: int | None
    names: tuple[str, ...]
    workdir: Path
    #: Seconds the fixture's stop waits after SIGTERM before it kills the group.
    stop_timeout: float = 10.0

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        return self.process.output()

    def get(self, path: str = "/") -> Response:
        """One real GET on the web process' port."""
        from django_prodserver.testing.processes import http_get

        if self.port is None:
            raise AssertionError(f"{', '.join(self.names)} has no port (not a web process)")
        return http_get(self.port, path)

    def stop(self, timeout: float = 10.0) -> int | None:
        return self.process.stop(timeout=timeout)


@dataclass
class ProcessStarter:
    """What the ``prodserver_process`` fixture yields: call it to start a process; every process
    it started is stopped by PID (then its group killed) when the test ends."""

    workdir: Path
    started: list[LiveProcess] = field(default_factory=list)

    def __call__(
        self,
        entry: Entry,
        options: Mapping[str, Any] | None = None,
        *,
        name: str = "web",
        processes: Mapping[str, Mapping[str, Any]] | None = None,
        names: Sequence[str] | None = None,
        settings: Mapping[str, Any] | None = None,
        extra_env: Mapping[str, str] | None = None,
        args: Sequence[str] = (),
        wait: bool = True,
        wait_for: str | None = None,
        timeout: float = 60.0,
    ) -> LiveProcess:
        """Start ``entry`` (a backend name + ``options``, or an entry dict) as process ``name``
        of the shipped test project, beside ``processes`` (other entries) if given, and start
        ``names`` (default: just ``name``). A web entry gets 127.0.0.1 and a free port unless
        its options say otherwise; ``wait`` waits for its first 200 (or ``wait_for`` text)."""
        from django_prodserver.backends.registry import resolve_backend
        from django_prodserver.testing.processes import (
            free_port,
            prodserver_argv,
            project_environ,
            start,
            wait_for_output,
            wait_http,
        )

        process = entry_of(entry, options)
        port: int | None = None
        if resolve_backend(process["BACKEND"]).cls.kind == "web":
            opts = dict(process.get("OPTIONS") or {})
            opts.setdefault("host", "127.0.0.1")
            port = int(opts.setdefault("port", free_port()))
            process["OPTIONS"] = opts
        configured = {**(processes or {}), name: process}
        selected = tuple(names or (name,))
        env = project_environ(configured, self.workdir, settings=settings, extra=extra_env)
        log = self.workdir / f"prodserver-{len(self.started)}.log"
        running = start(prodserver_argv(*selected, extra=args), env, self.workdir, log)
        live = LiveProcess(running, port, selected, self.workdir)
        self.started.append(live)
        if wait_for is not None:
            wait_for_output(running, wait_for, timeout=timeout)
        elif wait and port is not None:
            wait_http(running, port, timeout=timeout)
        return live

    def web(self, entry: Entry, options: Mapping[str, Any] | None = None, **kwargs: Any) -> tuple[RunningProcess, int]:
        """Start a web entry like ``__call__`` (same keywords): its RunningProcess and its port."""
        live = self(entry, options, **kwargs)
        if live.port is None:
            raise AssertionError(f"{entry!r} is not a web process: it has no port")
        return live.process, live.port

    def adopt(self, process: RunningProcess, *, stop_timeout: float = 10.0) -> RunningProcess:
        """Stop ``process`` (started another way, e.g. with ``testing.processes.start``) by PID
        with the others when the test ends; returns it."""
        self.started.append(LiveProcess(process, None, (), self.workdir, stop_timeout))
        return process

    def stop_all(self) -> None:
        for live in reversed(self.started):
            live.stop(timeout=live.stop_timeout)


@pytest.fixture
def prodserver_process(tmp_path: Path) -> Iterator[ProcessStarter]:
    """Start configured processes of the shipped test project; each is stopped by PID afterwards."""
    starter = ProcessStarter(tmp_path)
    try:
        yield starter
    finally:
        starter.stop_all()
