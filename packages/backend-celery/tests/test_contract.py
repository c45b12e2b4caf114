"""The celery backends pass the contract suite exactly as a third party's backend would."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django_prodserver.testing import BackendContract, WorkerContract
from django_prodserver_celery import CeleryBeat, CeleryWorker

APP = "django_prodserver_celery.testing:app"
REDIS_URL = os.environ.get("PRODSERVER_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
AMQP_URL = os.environ.get("PRODSERVER_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")


def unreachable(url: str, env_var: str) -> str | None:
    """None when something listens at the URL's host:port, else a skip reason naming the env var."""
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 0), timeout=3):
            return None
    except OSError as e:
        return f"broker {url} unreachable ({e}); start it or set {env_var}"


def filesystem_broker(workdir: Path) -> dict[str, str]:
    """Transport options of kombu's filesystem broker in ``workdir`` (it does not create the folder)."""
    queue = workdir / "broker"
    queue.mkdir(exist_ok=True)
    return {"data_folder_in": str(queue), "data_folder_out": str(queue), "control_folder": str(workdir / "control")}


class CeleryWorkerContract(WorkerContract):
    backend_class = CeleryWorker
    entry_point_name = "celery-worker"
    example_app = APP
    example_options = {"concurrency": 2}
    native_override = (("-c", "3"), "--concurrency")
    ready_text = " ready."
    broker_url = ""

    def settings_for(self, workdir: Path) -> Mapping[str, Any]:
        # A queue of its own per test: leftovers of another run can never reach this worker.
        return {"CELERY_BROKER_URL": self.broker_url, "CELERY_TASK_DEFAULT_QUEUE": f"contract-{uuid.uuid4().hex}"}

    def enqueue_code(self, token: str, seconds: float) -> str:
        return f"from django_prodserver_celery.testing import touch\ntouch.delay({token!r}, {seconds!r})\n"


class TestCeleryRedisContract(CeleryWorkerContract):
    broker_url = REDIS_URL

    def broker_available(self) -> str | None:
        return unreachable(self.broker_url, "PRODSERVER_TEST_REDIS_URL")


class TestCeleryRabbitMQContract(CeleryWorkerContract):
    broker_url = AMQP_URL

    def broker_available(self) -> str | None:
        return unreachable(self.broker_url, "PRODSERVER_TEST_AMQP_URL")


class TestCeleryFilesystemContract(CeleryWorkerContract):
    """celery's embedded filesystem transport: no service at all (single host)."""

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
