"""Backends: the protocol (``base``), option declarations (``options``), native argv
(``argv``), names to classes (``registry``, ``legacy``) and name to plan (``loading``).

Nothing is imported here, so ``settings`` can use ``argv`` without loading the protocol.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Backend", "LaunchContext", "WebBackend", "WorkerBackend"]


def __getattr__(name: str) -> Any:
    """``from django_prodserver.backends import WebBackend`` still works (resolved on use)."""
    if name in __all__:
        from django_prodserver.backends import base

        return getattr(base, name)
    raise AttributeError(f"module 'django_prodserver.backends' has no attribute {name!r}")
