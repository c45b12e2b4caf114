"""prodserver_celery.W001: a worker whose queues never receive what the celery app sends by default."""

from __future__ import annotations

import re
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from django_prodserver.backends.base import LaunchContext
from django_prodserver.settings.config import load_process
from django_prodserver.testing.processes import project_environ, run_django
from django_prodserver_celery import CeleryWorker
from django_prodserver_celery.testing import APP

ROOT = Path(__file__).resolve().parents[3]
CTX = LaunchContext(environ={}, cwd="/srv/app", settings_module="mysite.settings")


@pytest.fixture
def celery_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """``make(**conf)`` -> the APP path of a real celery app module configured with ``conf``."""
    monkeypatch.syspath_prepend(str(tmp_path))
    made: list[str] = []

    def make(**conf: Any) -> str:
        module = f"celeryapp_{uuid.uuid4().hex[:8]}"
        (tmp_path / f"{module}.py").write_text(
            f"from celery import Celery\napp = Celery({module!r})\napp.conf.update(**{conf!r})\n"
        )
        made.append(module)
        return f"{module}:app"

    yield make
    for module in made:
        sys.modules.pop(module, None)


def worker(app: str, queues: list[str] | None, name: str = "worker") -> CeleryWorker:
    options = {} if queues is None else {"queues": queues}
    return CeleryWorker(load_process(name, {"BACKEND": "celery-worker", "APP": app, "OPTIONS": options}))


def ids(w: CeleryWorker) -> list[str]:
    return [m.id for m in w.check(CTX)]


def test_queues_without_the_apps_default_queue_warn_with_the_fix(celery_app: Any) -> None:
    [message] = worker(celery_app(), ["default"]).check(CTX)
    assert message.id == "prodserver_celery.W001"
    assert message.msg.startswith(
        "PRODUCTION_PROCESSES['worker']['OPTIONS']['queues']: the worker consumes ['default']"
    )
    assert "to the queue 'celery' (its task_default_queue)" in message.msg and "never run" in message.msg
    assert 'add "celery" to "queues"' in message.hint and "CELERY_TASK_DEFAULT_QUEUE" in message.hint


@pytest.mark.parametrize(
    ("conf", "queues"),
    [
        ({}, None),  # no queues: celery consumes the app's default queue
        ({}, ["celery"]),
        ({}, ["high", "celery"]),
        ({"task_default_queue": "default"}, ["default"]),  # the default is in queues
        ({"task_routes": {"*": {"queue": "default"}}}, ["default"]),  # every task is routed there
        ({"task_routes": [{"*": "default"}]}, ["default"]),
    ],
)
def test_queues_that_receive_the_default_route_do_not_warn(
    celery_app: Any, conf: dict[str, Any], queues: list[str] | None
) -> None:
    assert ids(worker(celery_app(**conf), queues)) == []


def test_a_dedicated_worker_beside_one_that_takes_the_default_queue_does_not_warn(
    celery_app: Any, settings: Any
) -> None:
    app = celery_app()
    entries = {
        "worker": {"BACKEND": "celery-worker", "APP": app},
        "high": {"BACKEND": "celery", "APP": app.replace(":", "."), "OPTIONS": {"queues": ["high"]}},
    }
    settings.PRODUCTION_PROCESSES = entries
    assert ids(worker(app, ["high"], name="high")) == []
    settings.PRODUCTION_PROCESSES = {"high": entries["high"]}
    assert ids(worker(app, ["high"], name="high")) == ["prodserver_celery.W001"]


def test_an_app_that_does_not_load_here_is_not_guessed_at() -> None:
    assert ids(worker("no_such_module.celery:app", ["default"])) == []


def test_the_readme_worker_consumes_the_apps_default_queue() -> None:
    """The settings block of the README, with its APP pointed at a stock celery app."""
    readme = (ROOT / "README.md").read_text()
    [block] = [b for b in re.findall(r"```python\n(.*?)```", readme, re.S) if "PRODUCTION_PROCESSES" in b]
    namespace: dict[str, Any] = {}
    exec(block, namespace)
    entry = namespace["PRODUCTION_PROCESSES"]["worker"]
    assert entry["BACKEND"] == "celery-worker"
    assert ids(CeleryWorker(load_process("worker", {**entry, "APP": APP}))) == []


def test_manage_py_check_reports_it_from_the_projects_celery_settings(tmp_path: Path) -> None:
    """The project's own celery app (config from Django settings, CELERY namespace), no broker."""
    entry = {"BACKEND": "celery-worker", "APP": APP, "OPTIONS": {"queues": ["default"]}}
    result = run_django(project_environ({"worker": entry}, tmp_path), tmp_path, "check")
    assert "(prodserver_celery.W001)" in result.stderr + result.stdout, result.stderr
    settings = {"CELERY_TASK_DEFAULT_QUEUE": "default"}
    result = run_django(project_environ({"worker": entry}, tmp_path, settings=settings), tmp_path, "check")
    assert result.returncode == 0 and "W001" not in result.stderr + result.stdout, result.stderr
