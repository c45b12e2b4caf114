"""Backend protocol (``base``); backends themselves live in their own distributions."""

from .base import Backend, LaunchContext, WebBackend, WorkerBackend

__all__ = ["Backend", "LaunchContext", "WebBackend", "WorkerBackend"]
