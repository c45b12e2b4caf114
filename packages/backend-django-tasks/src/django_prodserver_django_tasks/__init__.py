"""django-prodserver backend for django-tasks' database worker (``db_worker``)."""

from .__about__ import __version__
from .backend import DjangoTasksBackend, TasksBackend

__all__ = ["DjangoTasksBackend", "TasksBackend", "__version__"]
