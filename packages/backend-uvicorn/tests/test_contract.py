"""uvicorn passes the contract suite exactly as a third party's backend would."""

from __future__ import annotations

from pathlib import Path

from django_prodserver.testing import WebServerContract
from django_prodserver.testing.processes import children_of
from django_prodserver_uvicorn import UvicornBackend


def is_worker(pid: int) -> bool:
    """uvicorn's spawn workers, not multiprocessing's resource tracker helper."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"resource_tracker" not in cmdline


class TestUvicornContract(WebServerContract):
    backend_class = UvicornBackend
    entry_point_name = "uvicorn"
    example_options = {"workers": 2}
    native_override = (("--workers", "3"), "--workers")

    def count_workers(self, pid: int) -> int:
        return len([child for child in children_of(pid) if is_worker(child)])
