"""Live contract layer for task workers: a real worker, a real broker, a real task."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

import pytest

from django_prodserver.testing.jsonlogs import TASK_MESSAGE, parse_json_lines, task_lines, user_logging
from django_prodserver.testing.ops import metric, metric_samples, until
from django_prodserver.testing.processes import (
    RunningProcess,
    free_port,
    prodserver_argv,
    project_environ,
    run_with_django,
    start,
    wait_for_output,
)
from django_prodserver.testing.static import BackendContract

WorkerFactory = Any  # Callable[..., RunningProcess]


class WorkerContract(BackendContract):
    """Static contract plus live task tests. Subclasses say how to enqueue ``touch``.

    ``enqueue_code(token, seconds)`` returns Python source run in a subprocess with the test
    project's settings (Django already set up) that enqueues
    ``django_prodserver.testing.project.tasks.touch(token, seconds)`` through the real broker.
    """

    #: Extra settings for the test project (broker URLs, INSTALLED_APPS additions...).
    project_settings: ClassVar[Mapping[str, Any]] = {}
    #: Extra environment for worker and enqueuer (e.g. PYTHONPATH to a tasks module).
    project_env: ClassVar[Mapping[str, str]] = {}
    #: A log line that means the worker is consuming.
    ready_text: ClassVar[str] = ""
    #: Seconds the worker may take to become ready / run a quick task.
    startup_timeout: ClassVar[float] = 60.0
    task_timeout: ClassVar[float] = 60.0
    #: Exit codes that count as a clean stop after SIGTERM.
    clean_exit_codes: ClassVar[frozenset[int]] = frozenset({0})
    #: Management commands to run before the worker starts (e.g. ``("migrate", "--noinput")``).
    setup_commands: ClassVar[tuple[tuple[str, ...], ...]] = ()
    #: A part of the ``touch`` task's name as the worker reports it in ``task.name``.
    task_name_part: ClassVar[str] = "touch"
    #: Opt in to the reload contract (``prodserver reload`` beside a running task) once the
    #: family's next generation can start beside the old one and its warm stop finishes tasks.
    reloads: ClassVar[bool] = False
    #: Why this family's reload contract is skipped although it opted in ("" runs it).
    reload_skip: ClassVar[str] = ""

    def enqueue_code(self, token: str, seconds: float) -> str:
        raise NotImplementedError("say how to enqueue touch(token, seconds) through the real broker")

    def broker_available(self) -> str | None:
        """None when the broker is reachable, else the reason to skip (name the env URL)."""
        return None

    def settings_for(self, workdir: Path) -> Mapping[str, Any]:
        """Settings for one test's project: ``project_settings`` by default. Override when a
        setting depends on the test's own directory (an embedded broker's folder, a queue name)."""
        return self.project_settings

    # -- fixtures ----------------------------------------------------------------------

    def worker_environ(
        self, workdir: Path, options: Mapping[str, Any] | None = None, settings: Mapping[str, Any] | None = None
    ) -> dict[str, str]:
        """The environment of a worker in ``workdir``: ``example_options`` with ``options`` over
        them, ``settings_for(workdir)`` with ``settings`` over them (no setup commands run)."""
        process: dict[str, Any] = {
            "BACKEND": self.entry_point_name,
            "OPTIONS": {**self.example_options, **(options or {})},
        }
        if self.example_app:
            process["APP"] = self.example_app
        project = {**self.settings_for(workdir), **(settings or {})}
        return project_environ({"worker": process}, workdir, settings=project, extra=self.project_env)

    @pytest.fixture
    def worker_env(self, tmp_path: Path) -> dict[str, str]:
        reason = self.broker_available()
        if reason:
            pytest.skip(reason)
        env = self.worker_environ(tmp_path)
        for command in self.setup_commands:
            subprocess.run(
                [sys.executable, "-m", "django", *command],
                env=env,
                cwd=tmp_path,
                check=True,
                timeout=120,
                capture_output=True,
            )
        return env

    @pytest.fixture
    def start_worker(self, tmp_path: Path, worker_env: dict[str, str]) -> Iterator[WorkerFactory]:
        """``start_worker()`` starts ``prodserver worker`` in ``worker_env`` (or in ``env``,
        one from ``worker_environ``) and waits for ``ready_text``; stopped by PID after."""
        started: list[RunningProcess] = []

        def factory(env: Mapping[str, str] | None = None) -> RunningProcess:
            chosen = worker_env if env is None else env
            proc = start(prodserver_argv("worker"), chosen, tmp_path, tmp_path / f"worker-{len(started)}.log")
            started.append(proc)
            if self.ready_text:
                wait_for_output(proc, self.ready_text, timeout=self.startup_timeout)
            return proc

        yield factory
        for proc in started:
            proc.stop(timeout=10)

    def enqueue(self, env: Mapping[str, str], cwd: Path, token: str, seconds: float) -> None:
        code = "import django; django.setup()\n" + self.enqueue_code(token, seconds)
        out = subprocess.run(
            [sys.executable, "-c", code],
            env=dict(env),
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert out.returncode == 0, f"enqueue failed:\n{out.stdout}\n{out.stderr}"

    @staticmethod
    def wait_file(path: Path, proc: RunningProcess, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if path.exists():
                return
            if proc.popen.poll() is not None:
                raise AssertionError(f"worker exited with {proc.popen.returncode}:\n{proc.output()[-4000:]}")
            time.sleep(0.1)
        raise AssertionError(f"{path.name} not written within {timeout}s:\n{proc.output()[-4000:]}")

    @staticmethod
    def supervised_pid(env: Mapping[str, str], cwd: Path) -> int:
        """The pid of the one supervised worker now, from ``prodserver status --json``."""
        out = subprocess.run(
            prodserver_argv("status", extra=["--json"]), env=dict(env), cwd=cwd, capture_output=True, timeout=30
        )
        assert out.returncode == 0, f"prodserver status failed:\n{out.stdout!r}\n{out.stderr!r}"
        return int(json.loads(out.stdout)["processes"][0]["pid"])

    @staticmethod
    def runs(workdir: Path, token: str) -> list[list[int]]:
        """One entry per run of ``touch(token)``: the pid that ran it, then its ancestors."""
        path = workdir / f"runs-{token}"
        lines = path.read_text().splitlines() if path.exists() else []
        return [[int(pid) for pid in line.split()] for line in lines]

    # -- the contract ------------------------------------------------------------------

    def test_stop_signal_reaches_the_main_process_only(self) -> None:
        """A supervisor signals the worker's main PID, never its pool children: those often keep
        SIG_DFL for SIGTERM and die mid-task (celery prefork, rq work-horse, django-q2).
        Fix: leave ``signal_group = False`` and let the worker stop its own children."""
        plan = self.make_backend().plan(self.make_context())
        assert plan.signal_group is False, "the stop signal must go to the main process only"

    def test_ready_probe_waits_for_the_ready_line(self) -> None:
        """The plan's ReadyProbe (what the ops endpoint's /readyz waits for) names the line this
        contract waits for before it sends a task. Fix: return ``ReadyProbe(log_line=...)`` with
        the worker's own "consuming" line from ``ready_probe``."""
        if not self.ready_text:
            pytest.skip("no ready_text set")
        plan = self.make_backend().plan(self.make_context())
        assert plan.ready.log_line == self.ready_text, plan.ready

    def test_runs_a_real_task(self, start_worker: WorkerFactory, worker_env: dict[str, str], tmp_path: Path) -> None:
        """A task enqueued through the real broker runs in the worker started by prodserver.
        Fix: check the worker's queues and that the broker settings reach it."""
        proc = start_worker()
        token = uuid.uuid4().hex
        self.enqueue(worker_env, tmp_path, token, 0.0)
        self.wait_file(tmp_path / f"done-{token}", proc, self.task_timeout)

    def test_sigterm_lets_the_running_task_finish(
        self, start_worker: WorkerFactory, worker_env: dict[str, str], tmp_path: Path
    ) -> None:
        """SIGTERM while a task runs: the task finishes and the worker exits cleanly in time.
        Fix: send the stop signal to the main process only; never to the pool children."""
        proc = start_worker()
        token = uuid.uuid4().hex
        self.enqueue(worker_env, tmp_path, token, 3.0)
        self.wait_file(tmp_path / f"started-{token}", proc, self.task_timeout)
        proc.signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
        assert (tmp_path / f"done-{token}").exists(), f"task was cut:\n{proc.output()[-3000:]}"
        assert code in self.clean_exit_codes, f"exit {code}:\n{proc.output()[-3000:]}"

    def test_json_logs_every_line_matches_the_schema(
        self, start_worker: WorkerFactory, worker_env: dict[str, str], tmp_path: Path
    ) -> None:
        """With ``log_format: "json"`` every line the worker writes, from start to exit after
        SIGTERM (stdout and stderr), is one JSON object of prodserver's log schema
        (``logs.schema``), and the task's own log record is one of them.
        Fix: route the worker's own loggers through ``django_prodserver.api.formatter()`` (or
        run its logging through ``configure_from_env``); never write log text to fd 1/2 directly."""
        declared = {o.name for o in self.backend_class.declared_options()}
        if "log_format" not in declared:
            pytest.skip("the backend declares no 'log_format'")
        settings = {"LOGGING": user_logging(tmp_path / "app.log")}  # the task's record at INFO
        # The same tmp_path as worker_env, whose setup commands (migrate...) prepared it.
        env = self.worker_environ(tmp_path, {"log_format": "json"}, settings)
        proc = start_worker(env)
        token = uuid.uuid4().hex
        self.enqueue(env, tmp_path, token, 0.0)
        self.wait_file(tmp_path / f"done-{token}", proc, self.task_timeout)
        proc.signal(signal.SIGTERM)
        assert proc.wait(30) is not None, f"no exit within 30 s of SIGTERM:\n{proc.output()[-3000:]}"
        records = parse_json_lines(proc.output(), "worker")  # task lines: every task field, typed
        message = TASK_MESSAGE.format(token=token)
        assert any(r["message"] == message for r in records), f"{message!r} not logged:\n{proc.output()[-3000:]}"
        for status in ("started", "succeeded"):
            lines = task_lines(records, status, self.task_name_part)
            assert lines, f"no prodserver.tasks line with task.status {status!r}:\n{proc.output()[-3000:]}"
        ended = task_lines(records, "succeeded", self.task_name_part)[0]
        assert any(r["task.id"] == ended["task.id"] for r in task_lines(records, "started")), ended

    def test_task_metrics_and_queue_depth_follow_real_tasks(
        self, start_worker: WorkerFactory, worker_env: dict[str, str], tmp_path: Path
    ) -> None:
        """Two tasks enqueued while no worker runs raise the queue depth the ops endpoint reads
        (the plan's ``QueueDepth`` reader, over the real broker) by two; a worker started with
        the ops endpoint on runs them and its /metrics shows them in ``prodserver_tasks_total``
        (started, succeeded), ``prodserver_task_duration_seconds`` and ``prodserver_queue_depth``.
        Fix: call ``django_prodserver.api.task_events()`` in the worker and report each task's
        start and end to it; return a ``QueueDepth`` from ``queue_depth()`` whose reader counts
        the queues ``enqueue_code`` uses."""
        pytest.importorskip("prometheus_client")
        tokens = [uuid.uuid4().hex for _ in range(2)]
        code = (
            "import json\nfrom django_prodserver.testing.ops import queue_depth_now\n"
            "before = queue_depth_now()\n"
            + "".join(self.enqueue_code(t, 0.0) + "\n" for t in tokens)
            + "print(json.dumps([before, queue_depth_now()]))\n"
        )
        out = run_with_django(worker_env, tmp_path, code, timeout=60)
        assert out.returncode == 0, f"{out.stdout}\n{out.stderr}"
        before, after = json.loads(out.stdout.strip().splitlines()[-1])
        assert before is not None, "the plan carries no QueueDepth"
        assert sum(after.values()) - sum(before.values()) == 2, f"depth before {before}, after two tasks {after}"

        ops = free_port()
        proc = start_worker({**worker_env, "PRODSERVER_OPS_PORT": str(ops)})
        for token in tokens:
            self.wait_file(tmp_path / f"done-{token}", proc, self.task_timeout)

        def counted() -> bool:
            samples = metric_samples(ops)
            return metric(samples, "prodserver_tasks_total", process="worker", outcome="succeeded") >= 2

        until(counted, 10, lambda: f"two succeeded tasks on /metrics\n{proc.output()[-3000:]}")
        samples = metric_samples(ops)
        assert metric(samples, "prodserver_tasks_total", process="worker", outcome="started") >= 2
        assert metric(samples, "prodserver_task_duration_seconds_count", process="worker") >= 2
        assert metric(samples, "prodserver_tasks_total", outcome="failed") == 0
        depths = {dict(labels).get("queue") for (name, labels) in samples if name == "prodserver_queue_depth"}
        assert set(after) <= depths, f"prodserver_queue_depth has queues {depths}, expected {sorted(after)}"

    def test_reload_finishes_the_running_task_and_the_next_runs_in_the_new_generation(
        self, start_worker: WorkerFactory, worker_env: dict[str, str], tmp_path: Path
    ) -> None:
        """``prodserver reload`` while a task runs: the reload succeeds, the running task
        finishes in the old generation, tasks enqueued during the handover and after it run
        exactly once, and one enqueued after it runs in the new generation's process tree.
        Fix: let two generations run side by side (no fixed worker name, node name, lock or
        pidfile shared between them) and finish running tasks on the stop signal."""
        if not self.reloads:
            pytest.skip("the family did not opt in to the reload contract (reloads = True)")
        if self.reload_skip:
            pytest.skip(self.reload_skip)
        env = {
            **worker_env,
            "PRODSERVER_OPS_PORT": str(free_port()),  # one process under the supervisor
            "PRODSERVER_CONTROL": str(tmp_path / "control.sock"),
        }
        proc = start_worker(env)
        old = self.supervised_pid(env, tmp_path)
        running = uuid.uuid4().hex
        self.enqueue(env, tmp_path, running, -120.0)  # works until release-<running> appears
        self.wait_file(tmp_path / f"started-{running}", proc, self.task_timeout)
        during = [uuid.uuid4().hex for _ in range(3)]
        source = "import django; django.setup()\n" + "".join(self.enqueue_code(t, 0.0) + "\n" for t in during)
        reload, enqueuer = (
            subprocess.Popen(argv, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for argv in (prodserver_argv("reload"), [sys.executable, "-c", source])
        )
        try:  # the tasks in `during` reach the broker while the two generations hand over
            said, _ = reload.communicate(timeout=180)
            cut_short = (tmp_path / f"done-{running}").exists()
            enqueued, _ = enqueuer.communicate(timeout=60)
        finally:
            for child in (reload, enqueuer):
                if child.poll() is None:
                    child.kill()
                    child.wait(10)
        assert reload.returncode == 0, f"prodserver reload exited {reload.returncode}: {said}\n{proc.output()[-4000:]}"
        assert enqueuer.returncode == 0, f"enqueue failed: {enqueued}"
        assert not cut_short, f"the task ended before it was released:\n{proc.output()[-4000:]}"
        (tmp_path / f"release-{running}").write_text("")  # the old generation was told to stop: finish now
        new = self.supervised_pid(env, tmp_path)
        assert new != old, f"status still shows pid {old} after the reload: {said}"
        self.wait_file(tmp_path / f"done-{running}", proc, self.task_timeout)
        until(lambda: not Path(f"/proc/{old}").exists(), 60, lambda: f"old generation {old} exited")
        after = uuid.uuid4().hex
        self.enqueue(env, tmp_path, after, 0.0)
        self.wait_file(tmp_path / f"done-{after}", proc, self.task_timeout)
        for token in during:
            self.wait_file(tmp_path / f"done-{token}", proc, self.task_timeout)
        counts = {token: self.runs(tmp_path, token) for token in [running, *during, after]}
        assert all(len(chains) == 1 for chains in counts.values()), f"runs per task (pid, ancestors): {counts}"
        assert old in counts[running][0], f"the running task ran outside generation {old}: {counts[running]}"
        assert new in counts[after][0], f"the task after the reload ran outside generation {new}: {counts[after]}"
        assert proc.popen.poll() is None, f"the supervisor exited:\n{proc.output()[-4000:]}"
        print(
            f"{self.backend_class.name}: reload {old} -> {new}; {len(counts)} tasks, each run once; "
            f"the running one in pid {counts[running][0][0]}, the next in pid {counts[after][0][0]}"
        )
