"""Live contract layer for web backends: a real server from the test project, real HTTP."""

from __future__ import annotations

import signal
import socket
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

import pytest

from django_prodserver.errors import ConfigError
from django_prodserver.logs.access import LOGGER as ACCESS_LOGGER
from django_prodserver.testing.jsonlogs import parse_json_lines, user_logging
from django_prodserver.testing.load import load_past_deadline, receive, reload_under_load, shutdown_under_load
from django_prodserver.testing.processes import (
    RunningProcess,
    children_of,
    free_port,
    http_get,
    prodserver_argv,
    project_environ,
    start,
    wait_for_output,
    wait_http,
)
from django_prodserver.testing.static import BackendContract

#: The options that ask for each capability of the contract options (``backends.base.Capability``).
CAPABILITY_OPTIONS: Mapping[str, Mapping[str, Any]] = {
    "wsgi": {"interface": "wsgi"},
    "asgi": {"interface": "asgi"},
    "websockets": {"interface": "asgi", "websockets": True},
    "tls": {"tls_cert": "/etc/ssl/prodserver-cert.pem", "tls_key": "/etc/ssl/prodserver-key.pem"},
    # with the threads gunicorn's HTTP/2 worker needs (a tuning option: warned where not declared)
    "http2": {
        "http2": True,
        "tls_cert": "/etc/ssl/prodserver-cert.pem",
        "tls_key": "/etc/ssl/prodserver-key.pem",
        "threads": 2,
    },
}


ServerFactory = Any  # Callable[..., tuple[RunningProcess, int]]

#: Seconds a server may take past its stop deadline to exit: the interpreter's own teardown
#: and the last 503s' lingering close (``django_prodserver.served.turnaway.LAST_ANSWERS``).
STOP_EXIT_MARGIN = 1.0


class WebServerContract(BackendContract):
    """The static contract plus live HTTP tests, selected by ``capabilities``."""

    #: Extra settings for the test project (JSON-serialisable), e.g. INSTALLED_APPS additions.
    project_settings: ClassVar[Mapping[str, Any]] = {}
    #: Seconds a server may take to answer its first request.
    startup_timeout: ClassVar[float] = 60.0
    #: Worker processes to ask for in the workers test.
    workers_to_ask: ClassVar[int] = 2

    @pytest.mark.parametrize("capability", sorted(CAPABILITY_OPTIONS))
    def test_capabilities_say_what_plans(self, capability: str) -> None:
        """A web backend's ``capabilities`` match its plans: with ``wsgi``/``asgi``/``tls``/
        ``http2``/``websockets`` the options that ask for it plan; without, they are refused.
        Fix: list exactly what the backend honours in ``capabilities``."""
        options = dict(CAPABILITY_OPTIONS[capability])
        if "interface" not in {o.name for o in self.backend_class.declared_options()}:
            options.pop("interface", None)  # it serves its one interface, no option asks for it
            if not options and capability not in self.backend_class.capabilities:
                pytest.skip(f"no option asks for {capability!r}: the backend declares no 'interface'")
        backend = self.make_backend({**self.example_options, **options})
        if capability in self.backend_class.capabilities:
            backend.plan(self.make_context())
        else:
            with pytest.raises(ConfigError):
                backend.plan(self.make_context())

    def two_serving_units(self, declared: set[str]) -> dict[str, Any]:
        """Options for exactly two serving units (threads, else worker processes), one request
        at a time each: the stop-under-load test holds one with a long request and saturates
        the other, so connections queue in the kernel. Override where another pair does that."""
        if "threads" in declared:
            return {"threads": 2, **({"workers": 1} if "workers" in self.backend_class.capabilities else {})}
        return {"workers": 2} if "workers" in self.backend_class.capabilities else {}

    def count_workers(self, pid: int) -> int:
        """Worker processes of a server whose main PID is ``pid`` (override if it forks helpers)."""
        return len(children_of(pid))

    @pytest.fixture
    def start_server(self, tmp_path: Path) -> Iterator[ServerFactory]:
        """Start ``prodserver web`` with given OPTIONS (and project ``settings`` over
        ``project_settings``) on a free port; stopped by PID after."""
        started: list[RunningProcess] = []

        def factory(
            options: Mapping[str, Any] | None = None,
            *,
            extra_env: Mapping[str, str] | None = None,
            wait: bool = True,
            settings: Mapping[str, Any] | None = None,
            **entry: Any,
        ) -> tuple[RunningProcess, int]:
            port = free_port()
            opts = {**self.example_options, **(options or {}), "host": "127.0.0.1", "port": port}
            process: dict[str, Any] = {"BACKEND": self.entry_point_name, "OPTIONS": opts}
            if self.example_app:
                process["APP"] = self.example_app
            process.update(entry)
            project = {**self.project_settings, **(settings or {})}
            env = project_environ({"web": process}, tmp_path, settings=project, extra=extra_env)
            proc = start(prodserver_argv("web"), env, tmp_path, tmp_path / f"server-{len(started)}.log")
            started.append(proc)
            if wait:
                wait_http(proc, port, timeout=self.startup_timeout)
            return proc, port

        yield factory
        for proc in started:
            proc.stop(timeout=5)

    def test_serves_http_200(self, start_server: ServerFactory) -> None:
        """The real server starts from the test project and answers a real request with 200.
        Fix: check the plan's command with ``prodserver --dry-run``."""
        _proc, port = start_server()
        resp = http_get(port, "/")
        assert resp.status == 200 and resp.json()["ok"] is True

    def test_serves_database_view(self, start_server: ServerFactory) -> None:
        """A view that queries the database answers 200 (DB works after the server forks).
        Fix: close DB connections before forking workers."""
        _proc, port = start_server()
        assert http_get(port, "/db/").status == 200

    def test_collector_runs_while_serving(self, start_server: ServerFactory) -> None:
        """The process that serves has Python's garbage collector on: prodserver turns it off
        while a start imports the project and must hand over with it on again.
        Fix: let the launch go through ``django_prodserver.launch.runner.run`` (it resumes it)."""
        _proc, port = start_server()
        got = http_get(port, "/gc/").json()
        assert got["enabled"] is True, got

    def test_honours_port(self, start_server: ServerFactory) -> None:
        """The server listens on exactly the configured port and host.
        Fix: map the uniform ``port``/``host`` options to the native bind flags."""
        proc, port = start_server()
        assert wait_http(proc, port).status == 200

    def test_honours_workers(self, start_server: ServerFactory) -> None:
        """``workers: N`` gives N worker processes.
        Fix: map the uniform ``workers`` option; override ``count_workers`` if helpers fork."""
        if "workers" not in self.backend_class.capabilities:
            pytest.skip("backend has no worker processes")
        n = self.workers_to_ask
        proc, _port = start_server({"workers": n})
        deadline = time.monotonic() + 15
        while self.count_workers(proc.pid) != n and time.monotonic() < deadline:
            time.sleep(0.1)
        assert self.count_workers(proc.pid) == n, proc.output()[-2000:]

    def test_json_logs_every_line_matches_the_schema(self, start_server: ServerFactory, tmp_path: Path) -> None:
        """With ``log_format: "json"`` every line the server writes, from start to exit (stdout
        and stderr), is one JSON object of prodserver's log schema (``logs.schema``): the
        request's access line and the view's own record included.
        Fix: route the server's own loggers through ``django_prodserver.api.formatter()`` (or
        run its logging through ``configure_from_env``); never write log text to fd 1/2 directly."""
        declared = {o.name for o in self.backend_class.declared_options()}
        if "log_format" not in declared:
            pytest.skip("the backend declares no 'log_format'")
        options: dict[str, Any] = {"log_format": "json"}
        if "drain_delay" in declared:
            options["drain_delay"] = 0.0  # nothing to drain: stop at once
        token = uuid.uuid4().hex
        settings = {"LOGGING": user_logging(tmp_path / "app.log")}  # the project's records at INFO
        proc, port = start_server(options, settings=settings)
        assert http_get(port, "/").status == 200
        assert http_get(port, f"/log/?token={token}").status == 200
        proc.signal(signal.SIGTERM)
        assert proc.wait(30) is not None, f"no exit within 30 s of SIGTERM:\n{proc.output()[-3000:]}"
        records = parse_json_lines(proc.output(), "web")
        access = [r for r in records if r["logger"] == ACCESS_LOGGER]
        assert any(r["http.path"] == "/" and r["http.status"] == 200 for r in access), access
        assert any(r["message"] == f"view log record {token}" for r in records), records

    def test_graceful_shutdown_under_load(self, start_server: ServerFactory) -> None:
        """SIGTERM while clients keep sending for 1 s more (slow requests among them): every
        request gets a complete response and the process exits 0 within drain + graceful timeout.
        Fix: keep serving for ``drain_delay`` after SIGTERM, then stop gracefully."""
        options = {"graceful_timeout": 10.0}
        if "workers" in self.backend_class.capabilities:
            options["workers"] = 2
        proc, port = start_server(options)
        for _ in range(4):  # warm every worker
            http_get(port, "/")
        result = shutdown_under_load(port, lambda: proc.signal(signal.SIGTERM))
        budget = 2.0 + 10.0 + 5.0  # default drain_delay + graceful_timeout + process exit margin
        code = proc.wait(budget)
        assert result.failures == [], f"{len(result.failures)} of {result.total} failed: {result.failures[:5]}"
        assert result.sent_after_signal > 0, "no request was sent after SIGTERM: the test proved nothing"
        assert code == 0, f"exit code {code}\n{proc.output()[-3000:]}"

    def test_reload_under_load_loses_no_request(self, tmp_path: Path) -> None:
        """``prodserver reload`` three times in a row while keep-alive clients keep sending: no
        request fails, every answer to a request sent after a reload returned comes from the new
        code, and the worker count is back to the configured one.
        Fix: serve on ``django_prodserver.api.listen_socket()`` when it is set, and declare
        ``inherits_listener = True``."""
        if not self.backend_class.inherits_listener:
            pytest.skip(
                f"{self.backend_class.name} does not declare inherits_listener: a reload restarts it, "
                "and connections are refused while it starts"
            )
        import json
        import subprocess

        release = tmp_path / "release.txt"
        release.write_text("0")
        port, ops = free_port(), free_port()
        opts: dict[str, Any] = {**self.example_options, "host": "127.0.0.1", "port": port}
        workers = self.workers_to_ask if "workers" in self.backend_class.capabilities else 0
        if workers:
            opts["workers"] = workers
        process: dict[str, Any] = {"BACKEND": self.entry_point_name, "OPTIONS": opts}
        if self.example_app:
            process["APP"] = self.example_app
        extra = {
            "PRODSERVER_OPS_PORT": str(ops),  # one process under the supervisor
            "PRODSERVER_CONTROL": str(tmp_path / "control.sock"),
            "PRODSERVER_TEST_RELEASE_FILE": str(release),
        }
        env = project_environ({"web": process}, tmp_path, settings=dict(self.project_settings), extra=extra)
        proc = start(prodserver_argv("web"), env, tmp_path, tmp_path / "server.log")
        try:
            wait_http(proc, port, "/release/", timeout=self.startup_timeout)
            said: list[str] = []

            def reload(n: int) -> int:
                release.write_text(str(n))
                done = subprocess.run(
                    prodserver_argv("reload"), env=env, cwd=tmp_path, capture_output=True, text=True, timeout=180
                )
                said.append(done.stdout + done.stderr)
                return done.returncode

            # A fast server answers ~700/s; on a loaded machine three reloads (each a fresh
            # ``prodserver reload`` interpreter) took 30 s: 20000 requests ran out before the third.
            result = reload_under_load(port, "/release/", reload, max_requests=100000)
            status = subprocess.run(
                prodserver_argv("status", extra=["--json"]), env=env, cwd=tmp_path, capture_output=True, timeout=30
            )
            row = json.loads(status.stdout)["processes"][0]
            if workers:
                deadline = time.monotonic() + 15
                while self.count_workers(row["pid"]) != workers and time.monotonic() < deadline:
                    time.sleep(0.1)
                counted = self.count_workers(row["pid"])
        finally:
            proc.stop(timeout=10)
        log = proc.output()[-4000:]
        assert [r[2] for r in result.reloads] == [0, 0, 0], f"{said}\n{log}"
        print(
            f"{self.backend_class.name}: {result.total} requests, {len(result.failures)} failed, "
            f"{result.retried} retried on a new connection, slowest {result.worst:.3f}s, reloads took "
            + ", ".join(f"{end - began:.2f}s" for began, end, _ in result.reloads)
        )
        assert result.failures == [], f"{len(result.failures)} of {result.total} failed: {result.failures[:5]}\n{log}"
        for n, (_began, returned, _status) in enumerate(result.reloads, 1):
            after = [json.loads(body)["release"] for sent, _, body in result.answers if sent > returned]
            old = [r for r in after if int(r) < n]
            assert not old, f"{len(old)} answers after reload {n} returned came from older code ({set(old)})"
            assert after, f"no request was sent after reload {n}: the test proved nothing"
        if workers:
            assert counted == workers, f"{counted} worker processes after the reloads, configured {workers}\n{log}"

    def test_backlog_answered_after_drain_delay(self, start_server: ServerFactory) -> None:
        """Connections queued in the listen backlog when ``drain_delay`` ends are answered, not
        reset: the server stops listening only once its backlog is empty (django_prodserver.drain).
        Fix: drive ``django_prodserver.drain.Drain`` and pass it the backlog on every tick."""
        declared = {o.name for o in self.backend_class.declared_options()}
        if "drain_delay" not in declared:
            pytest.skip("the backend declares no 'drain_delay': it has no drain (a development server)")
        options: dict[str, Any] = {"drain_delay": 0.5}
        if "graceful_timeout" in declared:
            options["graceful_timeout"] = 10.0
        if "workers" in self.backend_class.capabilities:
            options["workers"] = 1
        if "threads" in declared:
            options["threads"] = 1
        proc, port = start_server(options)
        http_get(port, "/")
        blocked: list[Any] = []
        blocker = threading.Thread(target=lambda: blocked.append(_answer(port, "/block/?seconds=2.5")), daemon=True)
        blocker.start()
        time.sleep(0.5)  # the one serving unit is blocked now: new connections wait in the backlog
        queued = [_send(port, f"/?queued={i}") for i in range(4)]
        time.sleep(0.2)
        proc.signal(signal.SIGTERM)  # the drain (0.5 s) ends while the block (2.5 s) still runs
        answers = [receive(sock) for sock in queued]
        blocker.join(20)
        code = proc.wait(20)
        assert blocked == [200], f"the blocking request got {blocked}\n{proc.output()[-3000:]}"
        assert answers == [200] * len(queued), f"queued connections got {answers}\n{proc.output()[-3000:]}"
        assert code == 0, f"exit code {code}\n{proc.output()[-3000:]}"

    def test_sigterm_again_keeps_the_stop_graceful(self, start_server: ServerFactory) -> None:
        """Orchestrators and scripts send SIGTERM twice: a repeat neither ends the drain (the
        load balancer may still send) nor cuts the request in flight once listening stopped.
        Fix: let ``django_prodserver.drain.Drain.on_signal`` decide; it ignores a repeated SIGTERM."""
        declared = {o.name for o in self.backend_class.declared_options()}
        if "drain_delay" not in declared or "graceful_timeout" not in declared:
            pytest.skip("the backend declares no 'drain_delay'/'graceful_timeout': it has no drain")
        delay = 2.0
        options: dict[str, Any] = {"drain_delay": delay, "graceful_timeout": 10.0}
        proc, port = start_server({**options, **self.two_serving_units(declared)})
        http_get(port, "/")
        held: list[int | str] = []
        holder = threading.Thread(target=lambda: held.append(_answer(port, "/slow/?seconds=5&say=1")), daemon=True)
        holder.start()
        wait_for_output(proc, "slow request running", timeout=20)
        proc.signal(signal.SIGTERM)
        wait_for_output(proc, "still serving for", timeout=20)
        signalled = time.monotonic()
        proc.signal(signal.SIGTERM)
        answer = http_get(port, "/").status  # still inside drain_delay: still served
        assert time.monotonic() - signalled < delay, "the check came too late to say anything"
        assert answer == 200, f"a repeated SIGTERM ended the drain: {answer}\n{proc.output()[-3000:]}"
        stopped = time.monotonic() + 20
        while listening(port) and time.monotonic() < stopped:
            time.sleep(0.05)
        assert not listening(port), proc.output()[-3000:]
        proc.signal(signal.SIGTERM)  # while the slow request is still running
        holder.join(20)
        assert held == [200], f"a repeated SIGTERM cut the request in flight: {held}\n{proc.output()[-3000:]}"
        assert proc.wait(20) == 0, proc.output()[-3000:]

    def test_stop_under_sustained_load_answers_every_connection_within_the_deadline(
        self, start_server: ServerFactory
    ) -> None:
        """Load that outlasts the whole stop (``drain_delay + graceful_timeout``), and one
        request longer than that: every other connection the kernel accepted gets an HTTP
        answer (200, or 503 once the server stops listening), none is reset, and the process
        exits 0 within that one deadline (the long request is cut then).
        Fix: drive ``django_prodserver.drain.Drain`` (one deadline) and answer the accept queue
        with ``django_prodserver.served.turnaway.TurnAway`` when you stop listening."""
        declared = {o.name for o in self.backend_class.declared_options()}
        if "drain_delay" not in declared or "graceful_timeout" not in declared:
            pytest.skip("the backend declares no 'drain_delay'/'graceful_timeout': it has no drain")
        delay, graceful = 1.0, 3.0
        options: dict[str, Any] = {"drain_delay": delay, "graceful_timeout": graceful}
        proc, port = start_server({**options, **self.two_serving_units(declared)})
        http_get(port, "/")
        # sent first, on an idle server: it holds one serving unit past the deadline
        long = threading.Thread(target=lambda: _answer(port, "/slow/?seconds=20"), daemon=True)
        long.start()
        exited: list[float] = []
        watcher = threading.Thread(target=lambda: exited.append(_exit_time(proc)), daemon=True)

        def stop() -> None:
            proc.signal(signal.SIGTERM)
            watcher.start()

        counts = load_past_deadline(port, "/slow/?seconds=0.2", stop, deadline=delay + graceful)
        watcher.join(30)
        long.join(5)
        took = exited[0] - counts.signalled_at if exited else float("inf")
        report = (
            f"answers {counts.answers}, refused {counts.refused}, lost {len(counts.lost)} {counts.lost[:5]}, "
            f"sent after the deadline {counts.sent_after_deadline}, exit {took:.2f}s after SIGTERM\n"
            + proc.output()[-3000:]
        )
        assert counts.lost == [], report
        assert counts.answers.get(200, 0) > 0 and counts.sent_after_deadline > 0, report
        assert took <= delay + graceful + STOP_EXIT_MARGIN, report
        assert proc.wait(5) == 0, report


def listening(port: int) -> bool:
    """True while a connection to ``port`` is accepted promptly (a listener that stopped, or
    that turns new connections away while it answers its queue, refuses or drops them)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.3):
            return True
    except OSError:
        return False


def _send(port: int, path: str) -> socket.socket:
    """Connect and send one request without waiting (the kernel queues the connection)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=20)
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
    return sock


def _answer(port: int, path: str) -> int | str:
    return receive(_send(port, path))


def _exit_time(proc: RunningProcess) -> float:
    """The monotonic time ``proc`` exited (waits for it, 30 s at most; inf if it did not)."""
    return time.monotonic() if proc.wait(30) is not None else float("inf")
