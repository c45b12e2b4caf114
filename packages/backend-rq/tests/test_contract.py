"""RQ (through django-rq) passes the contract suite over a real Redis."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import pytest

from django_prodserver.testing import WorkerContract
from django_prodserver_rq import RQBackend

from . import _support as s


class TestRQContract(WorkerContract):
    backend_class = RQBackend
    entry_point_name = "rq"
    example_options: ClassVar[dict[str, Any]] = {"queues": [s.QUEUE]}
    native_override = (("--max-jobs", "3"), "--max-jobs")
    project_settings = s.rq_settings()
    ready_text = "started with PID"
    reloads = True

    @pytest.fixture(autouse=True)
    def _rq_settings(self, settings: Any) -> Iterator[None]:
        """The static tests plan against the in-process test settings: give them django-rq too."""
        settings.INSTALLED_APPS = [*settings.INSTALLED_APPS, "django_rq"]
        settings.RQ_QUEUES = self.project_settings["RQ_QUEUES"]
        yield

    @pytest.fixture(autouse=True)
    def _empty_queue(self, request: pytest.FixtureRequest) -> None:
        if "worker_env" in request.fixturenames and not s.unreachable():
            s.flush()

    def broker_available(self) -> str | None:
        return s.unreachable()

    def enqueue_code(self, token: str, seconds: float) -> str:
        return s.enqueue_code(token, seconds)
