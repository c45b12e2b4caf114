"""gunicorn passes the contract suite exactly as a third party's backend would."""

from __future__ import annotations

from django_prodserver.testing import WebServerContract
from django_prodserver_gunicorn import GunicornBackend


class TestGunicornContract(WebServerContract):
    backend_class = GunicornBackend
    entry_point_name = "gunicorn"
    example_options = {"workers": 2}
    native_override = (("-w", "3"), "--workers")
