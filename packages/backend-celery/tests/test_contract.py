"""The celery backends pass the contract suite exactly as a third party's backend would."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from django_prodserver.testing import BackendContract, WorkerContract
from django_prodserver_celery import CeleryBeat, CeleryWorker
from django_prodserver_celery.testing import AMQP_URL, APP, REDIS_URL, filesystem_broker, unreachable


class CeleryWorkerContract(WorkerContract):
    backend_class = CeleryWorker
    entry_point_name = "celery-worker"
    example_app = APP
    example_options = {"concurrency": 2}
    native_override = (("-c", "3"), "--concurrency")
    ready_text = " ready."
    reloads = True
    broker_url = ""
    #: The environment variable pointing the tests at another broker (none: embedded broker).
    broker_env = ""

    def broker_available(self) -> str | None:
        return unreachable(self.broker_url, self.broker_env) if self.broker_env else None

    def settings_for(self, workdir: Path) -> Mapping[str, Any]:
        # A queue of its own per test: leftovers of another run can never reach this worker.
        return {"CELERY_BROKER_URL": self.broker_url, "CELERY_TASK_DEFAULT_QUEUE": f"contract-{uuid.uuid4().hex}"}

    def enqueue_code(self, token: str, seconds: float) -> str:
        return f"from django_prodserver_celery.testing import touch\ntouch.delay({token!r}, {seconds!r})\n"


class TestCeleryRedisContract(CeleryWorkerContract):
    reload_skip = "the reload contract runs on the RabbitMQ variant: the one broker with a clash of its own"
    broker_url = REDIS_URL
    broker_env = "PRODSERVER_TEST_REDIS_URL"


class TestCeleryRabbitMQContract(CeleryWorkerContract):
    broker_url = AMQP_URL
    broker_env = "PRODSERVER_TEST_AMQP_URL"


class TestCeleryFilesystemContract(CeleryWorkerContract):
    """celery's embedded filesystem transport: no service at all (single host)."""

    reload_skip = "the reload contract runs on the RabbitMQ variant: the one broker with a clash of its own"

    example_app = "django_prodserver_celery.testing.app"  # the dotted spelling upstream used
    broker_url = "filesystem://"

    def settings_for(self, workdir: Path) -> Mapping[str, Any]:
        return {**super().settings_for(workdir), "CELERY_BROKER_TRANSPORT_OPTIONS": filesystem_broker(workdir)}


class TestCeleryBeatContract(BackendContract):
    backend_class = CeleryBeat
    entry_point_name = "celery-beat"
    example_app = APP
    example_options = {"max_interval": 5}
    native_override = (("-s", "/var/beat.db"), "--schedule")
