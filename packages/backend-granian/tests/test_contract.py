"""granian passes the contract suite exactly as a third party's backend would."""

from __future__ import annotations

from django_prodserver.testing import WebServerContract
from django_prodserver_granian import GranianBackend


class TestGranianContract(WebServerContract):
    backend_class = GranianBackend
    entry_point_name = "granian"
    example_options = {"workers": 2, "threads": 4}
    native_override = (("--workers", "3"), "--workers")
