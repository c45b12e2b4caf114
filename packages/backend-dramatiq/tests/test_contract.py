"""Dramatiq passes the contract suite over Redis (with django-dramatiq) and RabbitMQ (without)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import pytest

from django_prodserver.testing import WorkerContract
from django_prodserver_dramatiq import DramatiqBackend

from . import _support as s


class _DramatiqContract(WorkerContract):
    backend_class = DramatiqBackend
    entry_point_name = "dramatiq"
    example_options: ClassVar[dict[str, Any]] = {"processes": 1, "concurrency": 2, "queues": ["prodserver-contract"]}
    native_override = (("-p", "2"), "--processes")
    project_env: ClassVar[dict[str, str]] = {"PYTHONPATH": s.TESTS_DIR}
    ready_text = "Worker process is ready for action."
    reloads = True
    broker_url: ClassVar[str]
    env_var: ClassVar[str]

    @pytest.fixture(autouse=True)
    def _broker_setting(self, settings: Any) -> Iterator[None]:
        """The static tests plan against the in-process test settings: give them the broker too."""
        settings.DRAMATIQ_BROKER = self.project_settings["DRAMATIQ_BROKER"]
        yield

    def broker_available(self) -> str | None:
        return s.unreachable(self.broker_url, self.env_var)

    def enqueue_code(self, token: str, seconds: float) -> str:
        return s.ENQUEUE.format(token=token, seconds=seconds)


class TestDramatiqRedisContract(_DramatiqContract):
    broker_url = s.REDIS_URL
    env_var = "PRODSERVER_TEST_REDIS_URL"
    project_settings = s.broker_settings(s.REDIS_BROKER, s.REDIS_URL, django_dramatiq=True)


class TestDramatiqRabbitmqContract(_DramatiqContract):
    reload_skip = "the reload contract runs on one variant of the family, to keep the suite's time"
    broker_url = s.AMQP_URL
    env_var = "PRODSERVER_TEST_AMQP_URL"
    project_settings = s.broker_settings(s.RABBIT_BROKER, s.AMQP_URL, django_dramatiq=False)
