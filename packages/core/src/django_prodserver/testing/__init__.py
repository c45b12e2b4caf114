"""The contract suite: subclass these in your backend's tests (like ``django.test``).

Only this package imports pytest; the rest of django_prodserver never does.
"""

import pytest

pytest.register_assert_rewrite(
    "django_prodserver.testing.static",
    "django_prodserver.testing.web",
    "django_prodserver.testing.worker",
)

from .static import BackendContract  # noqa: E402
from .web import WebServerContract  # noqa: E402
from .worker import WorkerContract  # noqa: E402

__all__ = ["BackendContract", "WebServerContract", "WorkerContract"]
