"""The queue: one SQLite table, written by ``enqueue`` and read by the worker.

Tasks are a function's import path (``"myapp.tasks:send_mail"``) and JSON arguments. A worker
claims the oldest task of its first non-empty queue inside ``BEGIN IMMEDIATE``, so several
worker threads and processes on one file never run a task twice.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS sqlitequeue_task (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        queue TEXT NOT NULL,
        func TEXT NOT NULL,
        arguments TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'queued',
        enqueued_at REAL NOT NULL,
        started_at REAL,
        finished_at REAL,
        result TEXT,
        error TEXT
    )""",
    "CREATE INDEX IF NOT EXISTS sqlitequeue_task_waiting ON sqlitequeue_task (state, queue, id)",
)

#: The Django setting naming the queue's file; without it, ``BASE_DIR / "sqlitequeue.sqlite3"``.
SETTING = "SQLITEQUEUE_DATABASE"
DEFAULT_NAME = "sqlitequeue.sqlite3"


@dataclass(frozen=True)
class Task:
    id: int
    queue: str
    func: str
    args: tuple[Any, ...]
    kwargs: Mapping[str, Any]


def database_path() -> Path:
    """The queue's file from the project's settings (the enqueuer and the worker agree on it)."""
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    configured = getattr(settings, SETTING, None)
    if configured:
        return Path(configured)
    base = getattr(settings, "BASE_DIR", None)
    if base:
        return Path(base) / DEFAULT_NAME
    raise ImproperlyConfigured(f"set {SETTING} to the SQLite file of the task queue (or BASE_DIR)")


def connect(path: Path | str) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), the table created."""
    conn = sqlite3.connect(os.fspath(path), timeout=30, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")  # readers never wait for a writer
    for statement in SCHEMA:
        conn.execute(statement)
    return conn


def import_path(func: Callable[..., Any] | str) -> str:
    """``"module:qualname"`` of a module-level function (a string is taken as it is)."""
    if isinstance(func, str):
        return func
    path = f"{func.__module__}:{func.__qualname__}"
    if "<" in path:
        raise ValueError(f"{path} cannot be imported by the worker: enqueue a module-level function")
    return path


def enqueue(
    func: Callable[..., Any] | str,
    args: Sequence[Any] = (),
    kwargs: Mapping[str, Any] | None = None,
    *,
    queue: str = "default",
    database: Path | str | None = None,
) -> int:
    """Put ``func(*args, **kwargs)`` on ``queue`` and return the task's id; the arguments must
    be JSON-serialisable. ``database`` defaults to the project's (:func:`database_path`)."""
    arguments = json.dumps({"args": list(args), "kwargs": dict(kwargs or {})})
    conn = connect(database if database is not None else database_path())
    try:
        cursor = conn.execute(
            "INSERT INTO sqlitequeue_task (queue, func, arguments, enqueued_at) VALUES (?, ?, ?, ?)",
            (queue, import_path(func), arguments, time.time()),
        )
        return int(cursor.lastrowid or 0)
    finally:
        conn.close()


def claim(conn: sqlite3.Connection, queues: Sequence[str]) -> Task | None:
    """Mark the next task of ``queues`` (in priority order) running and return it, or None."""
    marks = ",".join("?" * len(queues))
    order = "CASE queue " + " ".join(f"WHEN ? THEN {i}" for i in range(len(queues))) + " END"
    # Only placeholders and numbers are formatted in: the queue names are parameters.
    query = f"SELECT id, queue, func, arguments FROM sqlitequeue_task WHERE state = 'queued' AND queue IN ({marks}) ORDER BY {order}, id LIMIT 1"  # noqa: E501, S608
    params = (*queues, *queues)
    if conn.execute(query, params).fetchone() is None:  # the common case, without a write lock
        return None
    conn.execute("BEGIN IMMEDIATE")
    try:
        row = conn.execute(query, params).fetchone()
        if row is not None:
            conn.execute(
                "UPDATE sqlitequeue_task SET state = 'running', started_at = ? WHERE id = ?", (time.time(), row[0])
            )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    if row is None:
        return None
    arguments = json.loads(row[3])
    return Task(row[0], row[1], row[2], tuple(arguments["args"]), arguments["kwargs"])


def finish(conn: sqlite3.Connection, task_id: int, *, result: Any = None, error: str | None = None) -> bool:
    """Record a running task's end (``done``, or ``failed`` with ``error``); False when it had
    already ended (the worker marked it failed at its stop deadline)."""
    state = "failed" if error is not None else "done"
    cursor = conn.execute(
        "UPDATE sqlitequeue_task SET state = ?, finished_at = ?, result = ?, error = ? "
        "WHERE id = ? AND state = 'running'",
        (state, time.time(), json.dumps(result, default=str), error, task_id),
    )
    return cursor.rowcount == 1


def state_of(conn: sqlite3.Connection, task_id: int) -> str | None:
    """``queued``, ``running``, ``done`` or ``failed`` (None: no such task)."""
    row = conn.execute("SELECT state FROM sqlitequeue_task WHERE id = ?", (task_id,)).fetchone()
    return None if row is None else str(row[0])


def waiting(conn: sqlite3.Connection, queues: Sequence[str]) -> dict[str, int]:
    """Tasks queued and not yet claimed, per queue of ``queues`` (one grouped COUNT)."""
    marks = ",".join("?" * len(queues))
    query = f"SELECT queue, COUNT(*) FROM sqlitequeue_task WHERE state = 'queued' AND queue IN ({marks}) GROUP BY queue"  # noqa: S608
    counts = dict(conn.execute(query, tuple(queues)).fetchall())
    return {q: int(counts.get(q, 0)) for q in queues}
