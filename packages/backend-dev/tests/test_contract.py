"""The development backends pass the contract suite exactly as a third party's backend would.

``prodserver`` refuses development backends unless PRODSERVER_ALLOW_DEV=1, so the live tests
set it (the refusal itself is tested in test_dev.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from django_prodserver.testing import WebServerContract
from django_prodserver_dev import GranianReloadBackend, RunserverBackend, UvicornReloadBackend

NO_DRAIN = "a development server does not drain: requests in flight or sent after SIGTERM are cut (by design)"


class _AllowDev:
    @pytest.fixture(autouse=True)
    def _allow_dev(self, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
        monkeypatch.setenv("PRODSERVER_ALLOW_DEV", "1")
        yield


class TestRunserverContract(_AllowDev, WebServerContract):
    backend_class = RunserverBackend
    entry_point_name = "runserver"
    native_override = (("--nothreading",), "--nothreading")
    expected_failures = {"test_graceful_shutdown_under_load": NO_DRAIN}


class TestUvicornReloadContract(_AllowDev, WebServerContract):
    backend_class = UvicornReloadBackend
    entry_point_name = "uvicorn-reload"
    native_override = (("--log-level", "debug"), "--log-level")
    expected_failures = {"test_graceful_shutdown_under_load": NO_DRAIN}


class TestGranianReloadContract(_AllowDev, WebServerContract):
    backend_class = GranianReloadBackend
    entry_point_name = "granian-reload"
    native_override = (("--log-level", "debug"), "--log-level")
    expected_failures = {"test_graceful_shutdown_under_load": NO_DRAIN}
