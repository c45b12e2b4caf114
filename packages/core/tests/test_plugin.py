"""The pytest plugin core ships: plan_for(), prodserver_process, broker_or_skip() and the live marker."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from django_prodserver.testing.plugin import ProcessStarter, broker_or_skip, broker_unreachable, plan_for
from django_prodserver.testing.processes import free_port


def test_plan_for_a_backend_name_and_options_is_the_dry_run_plan() -> None:
    plan = plan_for("gunicorn", {"workers": 3, "port": 8123})
    assert plan.process == "web" and plan.backend == "gunicorn"
    assert "-w" in plan.args and plan.args[plan.args.index("-w") + 1] == "3"
    assert "127.0.0.1:8123" in plan.args and plan.options.source("workers") == "settings OPTIONS"


def test_plan_for_an_entry_dict_with_context_changes_is_pure() -> None:
    entry = {"BACKEND": "gunicorn", "OPTIONS": {"workers": 2}, "ENV": {"A": "1"}}
    plan = plan_for(entry, name="api", environ={"PORT": "9001"}, overrides={"workers": "5"})
    assert plan.process == "api" and plan.env["A"] == "1"
    assert "0.0.0.0:9001" in plan.args and plan.args[plan.args.index("-w") + 1] == "5"
    assert plan_for(entry) == plan_for(entry)  # nothing from the machine leaks in
    assert plan_for(entry).options.source("port") == "default"  # this machine's PORT is not read


def test_broker_or_skip_returns_a_reachable_url_and_skips_naming_an_unreachable_one() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        url = f"redis://:secret@127.0.0.1:{listener.getsockname()[1]}/0"
        assert broker_or_skip(url) == url and broker_unreachable(url) is None
    dead = f"amqp://guest:hunter2@127.0.0.1:{free_port()}//"
    with pytest.raises(pytest.skip.Exception) as skipped:
        broker_or_skip(dead, "PRODSERVER_TEST_AMQP_URL")
    reason = str(skipped.value)
    assert "not reachable at 127.0.0.1:" in reason and "PRODSERVER_TEST_AMQP_URL" in reason
    assert "hunter2" not in reason and "guest:***@" in reason


@pytest.mark.live
def test_prodserver_process_starts_by_entry_and_stops_by_pid(tmp_path: Path) -> None:
    starter = ProcessStarter(tmp_path)
    try:
        web = starter("gunicorn", {"workers": 1})
        assert web.port is not None and web.get("/").status == 200
        pid = web.pid
    finally:
        starter.stop_all()
    assert web.process.popen.poll() is not None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_live_marker_is_applied_to_fixture_users_and_live_contract_tests(tmp_path: Path) -> None:
    """Collected in a fresh pytest with only the plugin: -m live selects exactly the live ones."""
    (tmp_path / "test_sample.py").write_text(
        textwrap.dedent(
            """
            from django_prodserver.testing import WebServerContract
            from django_prodserver_gunicorn import GunicornBackend

            class TestContract(WebServerContract):
                backend_class = GunicornBackend
                entry_point_name = "gunicorn"

            def test_uses_the_fixture(prodserver_process):
                pass

            def test_pure():
                pass
            """
        )
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
    env["DJANGO_SETTINGS_MODULE"] = "django_prodserver.testing.project.settings"
    argv = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "-W", "error"]
    live, fast = (
        subprocess.run([*argv, "-m", expr, "test_sample.py"], cwd=tmp_path, env=env, capture_output=True, text=True)
        for expr in ("live", "not live")
    )
    assert live.returncode == 0 and fast.returncode == 0, live.stdout + live.stderr + fast.stdout
    selected = {line.split("::")[-1] for line in live.stdout.splitlines() if "::" in line}
    rest = {line.split("::")[-1] for line in fast.stdout.splitlines() if "::" in line}
    assert "test_uses_the_fixture" in selected and "test_serves_http_200" in selected
    assert "test_graceful_shutdown_under_load" in selected
    assert "test_pure" in rest and "test_plan_is_deterministic" in rest and not selected & rest
