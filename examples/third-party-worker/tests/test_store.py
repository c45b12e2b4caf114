"""The queue itself, without a worker process: priority order, one claim per task, guarded ends."""

from __future__ import annotations

from pathlib import Path

from prodserver_sqlitequeue import store


def test_claims_follow_queue_priority_then_age(tmp_path: Path) -> None:
    db = tmp_path / "q.sqlite3"
    low = store.enqueue("m:f", [1], queue="low", database=db)
    first = store.enqueue("m:f", [2], database=db)
    second = store.enqueue("m:f", [3], {"k": "v"}, database=db)
    urgent = store.enqueue("m:f", database=db, queue="high")
    conn = store.connect(db)
    claimed = [store.claim(conn, ["high", "default", "low"]) for _ in range(5)]
    assert [t.id if t else None for t in claimed] == [urgent, first, second, low, None]
    assert claimed[2] is not None and claimed[2].args == (3,) and claimed[2].kwargs == {"k": "v"}


def test_a_task_is_claimed_once_and_ends_once(tmp_path: Path) -> None:
    db = tmp_path / "q.sqlite3"
    task_id = store.enqueue(store.import_path, ["x"], database=db)
    one, other = store.connect(db), store.connect(db)
    task = store.claim(one, ["default"])
    assert task is not None and task.func == "prodserver_sqlitequeue.store:import_path"
    assert store.claim(other, ["default"]) is None
    assert store.finish(other, task_id, error="interrupted") is True  # the stop deadline came first
    assert store.finish(one, task_id, result="late") is False  # the task's own end is then ignored
    assert store.state_of(one, task_id) == "failed"
