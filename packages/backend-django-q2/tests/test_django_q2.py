"""What is special about qcluster: config read at import, one queue per cluster, broker preflight."""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.test import override_settings

from django_prodserver.backends.base import LaunchContext
from django_prodserver.backends.loading import plan_process
from django_prodserver.errors import ConfigError
from django_prodserver.settings.config import load_process
from django_prodserver.testing.plugin import ProcessStarter, broker_or_skip
from django_prodserver.testing.processes import (
    RunningProcess,
    free_port,
    prodserver_argv,
    project_environ,
    run_django,
    run_with_django,
    start,
    wait_for_output,
)
from django_prodserver_django_q2 import DjangoQ2Backend
from django_prodserver_django_q2._argv import cluster_name_from_argv
from django_prodserver_django_q2.backend import OVERRIDES_ENV
from django_prodserver_django_q2.host import merged_conf

SETTINGS = "django_prodserver.testing.project.settings"
LEGACY = "django_prodserver.backends.workers.django_q2.DjangoQ2Worker"
LEGACY_FLAT = "django_prodserver.backends.django_q2.DjangoQ2Worker"
TOUCH = "django_prodserver.testing.project.tasks.touch"


def ctx() -> LaunchContext:
    return LaunchContext(environ={}, cwd="/srv/app", settings_module=SETTINGS, python="python")


def plan_for(options: dict[str, Any] | None = None, **entry: Any) -> Any:
    raw = {"BACKEND": "django-q2", "OPTIONS": options or {}, **entry}
    return plan_process(load_process("worker", raw), ctx())[1]


# -- planning -------------------------------------------------------------------------


def test_uniform_options_become_q_cluster_overrides() -> None:
    plan = plan_for({"concurrency": 3, "max_tasks": 200, "log_level": "warning", "queues": ["emails"]})
    assert json.loads(plan.env[OVERRIDES_ENV]) == {"workers": 3, "recycle": 200, "log_level": "WARNING"}
    assert plan.env["Q_CLUSTER_NAME"] == "emails"
    assert plan.command[1:4] == ["-m", "django_prodserver_django_q2", "qcluster"]
    assert not plan.in_process


def test_cluster_name_in_args_is_the_plans_queue() -> None:
    """qcluster has no flag for workers/recycle (prodserver writes Q_CLUSTER), but --name is the queue."""
    plan = plan_for(ARGS=["--name", "emails"])
    assert (plan.options["queues"], plan.options.source("queues")) == (["emails"], "settings ARGS --name")
    assert plan.env["Q_CLUSTER_NAME"] == "emails"
    backend = DjangoQ2Backend(
        load_process("w", {"BACKEND": "django-q2", "OPTIONS": {"queues": ["low"]}, "ARGS": ["-n", "high"]})
    )
    [message] = backend.check(ctx())
    assert message.id == "prodserver.E021"
    assert "['OPTIONS']['queues']: is ['low'] but ARGS '-n high' sets queues to ['high']" in message.msg


def test_unset_options_leave_q_cluster_alone_and_run_in_process() -> None:
    """Q_CLUSTER is where the project keeps its config: defaults must not override it, and
    with nothing to change before setup qcluster runs in-process (Django set up once)."""
    plan = plan_for({"log_level": "debug"})
    assert OVERRIDES_ENV not in plan.env and "Q_CLUSTER_NAME" not in plan.env
    assert plan.in_process and plan.command[1:4] == ["-m", "django", "qcluster"]


@pytest.mark.parametrize(
    ("options", "entry"),
    [({"concurrency": 2}, {}), ({"queues": ["q"]}, {}), ({}, {"ARGS": ["-n", "q"]}), ({}, {"ENV": {"A": "1"}})],
)
def test_changes_before_setup_need_the_launcher(options: dict[str, Any], entry: dict[str, Any]) -> None:
    plan = plan_for(options, **entry)
    assert not plan.in_process and plan.command[2] == "django_prodserver_django_q2"


def test_several_queues_say_run_one_cluster_per_queue() -> None:
    with pytest.raises(ConfigError) as info:
        plan_for({"queues": ["a", "b"]})
    assert "['OPTIONS']['queues']" in str(info.value) and "one process per queue" in str(info.value)


def test_ambient_cluster_name_is_reported() -> None:
    backend = DjangoQ2Backend(load_process("worker", {"BACKEND": "django-q2"}))
    plan = backend.plan(LaunchContext(environ={"Q_CLUSTER_NAME": "x"}, cwd="/srv", settings_module=SETTINGS))
    assert plan.ambient_env == {"Q_CLUSTER_NAME": "x"}


@pytest.mark.parametrize("path", [LEGACY, LEGACY_FLAT])
def test_upstream_path_and_args_keep_working(path: str) -> None:
    """Upstream 3.x passed ARGS to call_command('qcluster'): they stay qcluster flags, and
    the launcher turns --name into Q_CLUSTER_NAME early enough to take effect."""
    with pytest.warns(DeprecationWarning, match="django-q2"):
        plan = plan_for(BACKEND=path, ARGS={"name": "emails"})
    assert plan.backend == "django-q2" and "--name=emails" in plan.args
    assert cluster_name_from_argv(plan.args[1:]) == "emails"


def test_cluster_name_from_argv_spellings() -> None:
    assert cluster_name_from_argv(["-n", "a"]) == "a"
    assert cluster_name_from_argv(["--name", "b", "--run-once"]) == "b"
    assert cluster_name_from_argv(["--name=c"]) == "c"
    assert cluster_name_from_argv(["--run-once"]) is None


def test_foreign_cluster_name_gets_alt_clusters() -> None:
    """django-q2 pops ALT_CLUSTERS for a name that is not Q_CLUSTER's own: KeyError without it."""
    conf = merged_conf({"name": "site", "orm": "default"}, {"workers": 2}, "emails")
    assert conf == {"name": "site", "orm": "default", "workers": 2, "ALT_CLUSTERS": {}}
    assert "ALT_CLUSTERS" not in merged_conf({"name": "site"}, {}, "site")
    alt = {"emails": {"workers": 9}}
    assert merged_conf({"name": "site", "ALT_CLUSTERS": alt}, {}, "emails")["ALT_CLUSTERS"] is alt


def test_check_errors_name_the_setting() -> None:
    backend = DjangoQ2Backend(load_process("worker", {"BACKEND": "django-q2"}))
    messages = backend.check(ctx())
    assert {m.id for m in messages} == {"prodserver_django_q2.E001", "prodserver_django_q2.E002"}
    assert any("Q_CLUSTER" in m.msg and "'orm'" in (m.hint or "") for m in messages)
    with override_settings(Q_CLUSTER={"name": "x", "orm": "default"}):
        assert {m.id for m in backend.check(ctx())} == {"prodserver_django_q2.E001"}
    with override_settings(Q_CLUSTER="redis://"):
        assert "prodserver_django_q2.E003" in {m.id for m in backend.check(ctx())}


# -- live -----------------------------------------------------------------------------


def _env(tmp_path: Path, options: dict[str, Any], q_cluster: dict[str, Any] | None, **entry: Any) -> dict[str, str]:
    settings: dict[str, Any] = {"EXTRA_INSTALLED_APPS": ["django_q"]}
    if q_cluster is not None:
        settings["Q_CLUSTER"] = {"timeout": 30, "retry": 60, "poll": 0.1, **q_cluster}
    process = {"BACKEND": "django-q2", "OPTIONS": options, **entry}
    return project_environ({"worker": process}, tmp_path, settings=settings)


def _run(env: dict[str, str], cwd: Path, *args: str, code: str | None = None) -> subprocess.CompletedProcess[str]:
    return run_with_django(env, cwd, code) if code else run_django(env, cwd, *args)


def _start(env: dict[str, str], tmp_path: Path, prodserver_process: ProcessStarter, *extra: str) -> RunningProcess:
    log = tmp_path / f"worker-{len(prodserver_process.started)}.log"
    return prodserver_process.adopt(start(prodserver_argv("worker", extra=extra), env, tmp_path, log), stop_timeout=15)


def test_missing_q_cluster_fails_the_start_naming_it(tmp_path: Path, prodserver_process: ProcessStarter) -> None:
    env = _env(tmp_path, {}, None)
    proc = _start(env, tmp_path, prodserver_process)
    assert proc.wait(timeout=60) not in (None, 0)
    assert "prodserver_django_q2.E002" in proc.output() and "Q_CLUSTER" in proc.output()
    proc = _start(env, tmp_path, prodserver_process, "--skip-checks")
    # in-process: the backend's preflight refuses the start (a ConfigError, exit 1 like every backend)
    assert proc.wait(timeout=60) == 1, proc.output()
    assert "cannot start 'worker': settings.Q_CLUSTER: is not set" in proc.output()
    assert "Traceback" not in proc.output()


def test_unreachable_redis_is_a_clear_error_naming_the_setting(
    tmp_path: Path, prodserver_process: ProcessStarter
) -> None:
    """Without the preflight the cluster starts and logs connection errors forever."""
    url = f"redis://127.0.0.1:{free_port()}/0"
    env = _env(tmp_path, {"concurrency": 1}, {"name": "x", "redis": url})
    proc = _start(env, tmp_path, prodserver_process)
    assert proc.wait(timeout=60) == 78, proc.output()
    out = proc.output()
    assert "Q_CLUSTER['redis']" in out and url in out and "Traceback" not in out, out


_PING_HERE = """
import sys
from django_prodserver.api import ConfigError
from django_prodserver_django_q2.preflight import check
try:
    check(5)
    print("ok")
except ConfigError as e:
    print(e.message)
print("redis imported here:", any(m == "redis" or m.startswith("redis.") for m in sys.modules))
"""


@pytest.mark.live
def test_broker_ping_leaves_the_redis_client_out_of_the_checking_process(tmp_path: Path) -> None:
    """The checking process becomes qcluster's main process: native qcluster never imports redis
    there (about 6 MiB), so the ping runs in a forked child; same verdicts and messages."""
    dead = f"redis://:secret@127.0.0.1:{free_port()}/0"
    env = _env(tmp_path, {}, {"name": "x", "redis": dead})
    out = _run(env, tmp_path, code=_PING_HERE).stdout
    assert "settings.Q_CLUSTER['redis']: cannot reach the broker at redis://:***@127.0.0.1:" in out, out
    assert "Connection refused" in out and "secret" not in out, out
    assert out.endswith("redis imported here: False\n"), out
    live = broker_or_skip(os.environ.get("PRODSERVER_TEST_REDIS_URL", "redis://127.0.0.1:6379/14"), timeout=3)
    env = _env(tmp_path, {}, {"name": "x", "redis": live})
    assert _run(env, tmp_path, code=_PING_HERE).stdout == "ok\nredis imported here: False\n"


@pytest.mark.parametrize("options", [{}, {"concurrency": 1}], ids=["in-process", "launcher"])
def test_unmigrated_orm_queue_says_migrate(
    tmp_path: Path, prodserver_process: ProcessStarter, options: dict[str, Any]
) -> None:
    env = _env(tmp_path, options, {"name": "x", "orm": "default"})
    proc = _start(env, tmp_path, prodserver_process)
    # in-process: the backend's preflight (exit 1); the launcher checks after its overrides (exit 78)
    assert proc.wait(timeout=60) == (78 if options else 1), proc.output()
    assert "django_q_ormq" in proc.output() and "migrate" in proc.output()


def test_queue_option_without_alt_clusters_and_concurrency(tmp_path: Path, prodserver_process: ProcessStarter) -> None:
    """queues=['emails'] on a cluster named 'site' (no ALT_CLUSTERS: KeyError natively), two
    workers from 'concurrency', and only the 'emails' queue consumed."""
    env = _env(
        tmp_path, {"queues": ["emails"], "concurrency": 2, "log_level": "info"}, {"name": "site", "orm": "default"}
    )
    assert _run(env, tmp_path, "migrate", "--noinput").returncode == 0
    proc = _start(env, tmp_path, prodserver_process)
    wait_for_output(proc, "running.", timeout=90)
    token, other = uuid.uuid4().hex, uuid.uuid4().hex
    code = (
        "from django_q.tasks import async_task\n"
        f"async_task({TOUCH!r}, {other!r}, 0)\n"
        f"async_task({TOUCH!r}, {token!r}, 0, cluster='emails')\n"
    )
    assert _run(env, tmp_path, code=code).returncode == 0
    deadline = time.monotonic() + 60
    while not (tmp_path / f"done-{token}").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert (tmp_path / f"done-{token}").exists(), proc.output()[-3000:]
    time.sleep(1.0)
    assert not (tmp_path / f"started-{other}").exists()
    assert proc.output().count("ready for work at") == 2, proc.output()[-3000:]
    assert "[emails] running." in proc.output()


def test_log_level_applies_despite_project_logging(tmp_path: Path, prodserver_process: ProcessStarter) -> None:
    """The test project has a root LOGGING handler at WARNING, so django-q2 never sets its own
    logger level and Q_CLUSTER['log_level'] = 'INFO' shows nothing natively; the uniform
    log_level must still show django-q2's INFO lines."""
    q_cluster = {"name": "x", "orm": "default", "log_level": "INFO"}
    env = _env(tmp_path, {"concurrency": 1, "log_level": "info"}, q_cluster)
    assert _run(env, tmp_path, "migrate", "--noinput").returncode == 0
    proc = _start(env, tmp_path, prodserver_process)
    wait_for_output(proc, "Q Cluster", timeout=90)
