"""huey (huey.contrib.djhuey's run_huey) passes the contract suite on Redis and on SQLite storage."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

import pytest

from django_prodserver.testing import WorkerContract
from django_prodserver_huey import HueyBackend

from . import _support as s


class _HueyContract(WorkerContract):
    backend_class = HueyBackend
    entry_point_name = "huey"
    example_options: ClassVar[dict[str, Any]] = {"concurrency": 2}
    native_override = (("-w", "3"), "--workers")
    project_env: ClassVar[dict[str, str]] = {"PYTHONPATH": s.TESTS_DIR}
    ready_text = "Huey consumer started with"
    reloads = True

    @pytest.fixture(autouse=True)
    def _huey_settings(self, settings: Any) -> Iterator[None]:
        """The static tests plan against the in-process test settings: give them huey too."""
        settings.INSTALLED_APPS = [*settings.INSTALLED_APPS, "huey.contrib.djhuey"]
        settings.HUEY = self.project_settings["HUEY"]
        yield

    def enqueue_code(self, token: str, seconds: float) -> str:
        return s.ENQUEUE.format(token=token, seconds=seconds)


class TestHueyRedisContract(_HueyContract):
    project_settings = s.redis_settings()

    @pytest.fixture(autouse=True)
    def _forget_keys(self, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[None]:
        yield
        if "worker_env" in request.fixturenames and not s.unreachable():
            s.forget(tmp_path)

    def broker_available(self) -> str | None:
        return s.unreachable()

    def settings_for(self, workdir: Path) -> Mapping[str, Any]:
        return s.redis_settings(workdir)


class TestHueySqliteContract(_HueyContract):
    """SQLite storage polls: a short poll_interval keeps the suite quick."""

    reload_skip = "the reload contract runs on one variant of the family, to keep the suite's time"

    example_options: ClassVar[dict[str, Any]] = {"concurrency": 2, "poll_interval": 0.2}
    project_settings = s.sqlite_settings()

    def settings_for(self, workdir: Path) -> Mapping[str, Any]:
        return s.sqlite_settings(workdir)
