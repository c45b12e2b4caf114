"""hypercorn passes the contract suite exactly as a third party's backend would."""

from __future__ import annotations

from pathlib import Path

from django_prodserver.testing import WebServerContract
from django_prodserver.testing.processes import children_of
from django_prodserver_hypercorn import HypercornBackend


def hypercorn_workers(pid: int) -> int:
    """Worker children: forked from ``manage.py`` (in-process launch) or running spawn_main,
    never multiprocessing's resource tracker helper."""
    count = 0
    for child in children_of(pid):
        try:
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:
            continue
        count += b"resource_tracker" not in cmdline
    return count


class TestHypercornContract(WebServerContract):
    backend_class = HypercornBackend
    entry_point_name = "hypercorn"
    example_options = {"workers": 2}
    native_override = (("-w", "3"), "--workers")

    def count_workers(self, pid: int) -> int:
        return hypercorn_workers(pid)


class TestHypercornASGIContract(TestHypercornContract):
    example_options = {"workers": 2, "interface": "asgi"}
