"""Flower passes the static contract suite exactly as a third party's backend would."""

from __future__ import annotations

from django_prodserver.testing import BackendContract
from django_prodserver_celery.testing import APP
from django_prodserver_flower import Flower


class TestFlowerContract(BackendContract):
    backend_class = Flower
    entry_point_name = "flower"
    example_app = APP
    example_options = {"port": 5555}
    native_override = (("--port=5556",), "--port")
