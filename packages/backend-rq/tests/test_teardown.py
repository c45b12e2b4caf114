"""A stopping RQ worker never waits long on its pub/sub thread: a real Worker on a real Redis,
its teardown reached with the thread in the states that made it hang."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from django_prodserver_rq import _teardown, host
from django_prodserver_rq._teardown import NOT_STOPPED, STOP_TIMEOUT, install

from . import _support as s

#: rq's own ``join(timeout=1)`` after ``stop()``, then Redis round trips: generous on a loaded box.
SLACK = 3.0


@pytest.fixture
def worker(redis_ready: None) -> Iterator[Any]:
    """A real rq Worker subscribed to its command channel, as ``work()`` leaves it (the fix on)."""
    import redis
    from rq import Queue, Worker

    install()
    conn = redis.Redis.from_url(s.REDIS_URL)
    w = Worker([Queue(s.QUEUE, connection=conn)], connection=conn)
    w.subscribe()
    yield w
    conn.close()


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} within {timeout}s"
        time.sleep(0.01)


def teardown_seconds(worker: Any, deadline: float) -> float:
    """Run the worker's real teardown; fail (without waiting it out) if it takes past ``deadline``."""
    started = time.monotonic()
    runner = threading.Thread(target=worker.teardown, name="test-rq-teardown", daemon=True)
    runner.start()
    runner.join(deadline)
    assert not runner.is_alive(), f"the worker's teardown still waits after {deadline}s"
    return time.monotonic() - started


def test_the_reply_that_wakes_the_thread_ends_it(worker: Any, caplog: pytest.LogCaptureFixture) -> None:
    """The stop that hung in the field: the pub/sub thread reads UNSUBSCRIBE's reply before rq
    calls ``stop()`` (made certain here by returning from UNSUBSCRIBE only once it has). It must
    end on that reply, not go back to waiting 60 s for a subscription while ``stop()`` joins it."""
    pubsub, thread = worker.pubsub, worker.pubsub_thread
    send = pubsub.unsubscribe

    def unsubscribe_then_let_the_thread_read_the_reply(*args: Any) -> Any:
        result = send(*args)
        wait_until(lambda: not pubsub.subscribed, 5, "the pub/sub thread read the reply")
        return result

    pubsub.unsubscribe = unsubscribe_then_let_the_thread_read_the_reply
    with caplog.at_level(logging.WARNING):
        seconds = teardown_seconds(worker, STOP_TIMEOUT + SLACK + 5)
    assert not thread.is_alive(), "the pub/sub thread went back to waiting instead of ending"
    assert seconds < STOP_TIMEOUT, f"teardown took {seconds:.2f}s"
    assert "did not stop" not in caplog.text


def test_a_thread_that_will_not_stop_is_waited_for_a_bounded_time(
    worker: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Teardown reached with the thread already waiting for a subscription (nothing will wake
    it for 60 s): the worker waits ``STOP_TIMEOUT`` (plus rq's own second), says so, and exits."""
    worker.pubsub.unsubscribe()
    wait_until(lambda: not worker.pubsub.subscribed, 5, "the pub/sub thread read the reply")
    with caplog.at_level(logging.WARNING):
        seconds = teardown_seconds(worker, STOP_TIMEOUT + SLACK + 5)
    assert seconds < STOP_TIMEOUT + SLACK, f"teardown took {seconds:.2f}s"
    assert NOT_STOPPED % (worker.name, STOP_TIMEOUT) in caplog.text


def test_the_host_installs_the_bounded_stop_before_the_worker_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """``rqworker`` (and the pool's forked workers) must find the bounded stop already in place."""
    from rq.worker import BaseWorker

    original = getattr(BaseWorker, _teardown._ORIGINAL, BaseWorker.unsubscribe)
    monkeypatch.setattr(BaseWorker, "unsubscribe", original)
    monkeypatch.delattr(BaseWorker, _teardown._ORIGINAL, raising=False)
    seen: list[tuple[Any, ...]] = []
    monkeypatch.setattr(
        "django.core.management.call_command", lambda *args: seen.append((*args, BaseWorker.unsubscribe))
    )
    launch = SimpleNamespace(program=("python", "-m", "django", "rqworker"), args=("default",))
    with pytest.raises(SystemExit) as exited:
        host.run(launch)  # type: ignore[arg-type]
    assert exited.value.code == 0
    assert seen == [("rqworker", "default", _teardown._unsubscribe)]
