"""gunicorn passes the contract suite exactly as a third party's backend would."""

from __future__ import annotations

from django_prodserver.testing import WebServerContract
from django_prodserver_gunicorn import GunicornBackend


class TestGunicornContract(WebServerContract):
    backend_class = GunicornBackend
    entry_point_name = "gunicorn"
    example_options = {"workers": 2}
    native_override = (("-w", "3"), "--workers")

    def two_serving_units(self, declared: set[str]) -> dict[str, object]:
        # gunicorn's default sync workers take one connection at a time: the rest queue in the
        # kernel (threads would pick gthread, which accepts eagerly into its own queue)
        return {"workers": 2, "threads": 1}
