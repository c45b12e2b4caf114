"""Fixtures shared by this package's tests."""

from __future__ import annotations

import pytest

from . import _support as s


@pytest.fixture
def redis_ready() -> None:
    """Skip when the test Redis is unreachable; else empty its database."""
    if reason := s.unreachable():
        pytest.skip(reason)
    s.flush()
