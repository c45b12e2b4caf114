"""prodserver-sqlitequeue: an example third-party django-prodserver worker backend.

``enqueue("myapp.tasks:send_mail", ["to@example.com"])`` puts a task on the queue;
``python manage.py prodserver worker`` (``"BACKEND": "sqlitequeue"``) runs it.
"""

from .backend import SqliteQueueBackend
from .store import enqueue

__all__ = ["SqliteQueueBackend", "enqueue"]
