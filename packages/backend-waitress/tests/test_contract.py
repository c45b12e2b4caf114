"""waitress passes the contract suite exactly as a third party's backend would."""

from __future__ import annotations

from django_prodserver.testing import WebServerContract
from django_prodserver_waitress import WaitressBackend


class TestWaitressContract(WebServerContract):
    backend_class = WaitressBackend
    entry_point_name = "waitress"
    example_options = {"threads": 4}
    native_override = (("--threads=3",), "--threads")
