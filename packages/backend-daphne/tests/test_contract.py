"""daphne passes the contract suite exactly as a third party's backend would."""

from __future__ import annotations

from django_prodserver.testing import WebServerContract
from django_prodserver_daphne import DaphneBackend


class TestDaphneContract(WebServerContract):
    backend_class = DaphneBackend
    entry_point_name = "daphne"
    native_override = (("-t", "9"), "--http-timeout")
