"""A bounded stop of the RQ worker's pub/sub thread, so a stopping worker exits in time.

rq's ``unsubscribe`` sends UNSUBSCRIBE, then calls ``PubSubWorkerThread.stop()``. Redis'
reply wakes the thread; if it loops before ``stop()`` has cleared its running flag, it waits
again, now on "subscribed", for rq's ``sleep_time`` (60 s). redis-py 8.2's ``stop()`` joins
that thread without a time limit, so about every other stop took a minute and was killed by
the supervisor. Here the flag is cleared before UNSUBSCRIBE goes out (the reply then ends the
loop), and the join inside ``stop()`` waits at most :data:`STOP_TIMEOUT` whatever redis-py does.
"""

from __future__ import annotations

import inspect
from typing import Any

#: Seconds the worker's teardown waits for its pub/sub thread (rq's own join waits 1 s more).
STOP_TIMEOUT = 1.0
#: Logged when the thread is still there after that: the process exits without it (a daemon).
NOT_STOPPED = "Worker %s: the pub/sub thread did not stop within %gs; exiting without it"

_ORIGINAL = "_prodserver_original_unsubscribe"


def install() -> None:
    """Make every RQ worker class in this process stop its pub/sub thread in bounded time.

    Patches ``BaseWorker.unsubscribe`` (the pool's workers are forked, so they inherit it);
    a worker class that overrides ``unsubscribe`` itself keeps its own. Idempotent."""
    from rq.worker import BaseWorker

    if not hasattr(BaseWorker, _ORIGINAL):
        setattr(BaseWorker, _ORIGINAL, BaseWorker.unsubscribe)
        BaseWorker.unsubscribe = _unsubscribe  # type: ignore[method-assign]


def _unsubscribe(worker: Any) -> None:
    """rq's own ``unsubscribe``, with the thread told to stop first and the wait for it bounded."""
    thread = worker.pubsub_thread
    if thread:
        stop = thread.stop
        request_stop(stop)
        thread.stop = lambda *args, **kwargs: _bounded_stop(thread, stop)
    try:
        getattr(type(worker), _ORIGINAL)(worker)
    finally:
        if thread:
            del thread.stop
    if thread and thread.is_alive():
        worker.log.warning(NOT_STOPPED, worker.name, STOP_TIMEOUT)


def request_stop(stop: Any) -> None:
    """Clear the thread's running flag without waiting for it to end, on any redis-py.

    Before 8.2 ``stop()`` only clears the flag; from 8.2 it also joins, for ``timeout`` seconds."""
    if "timeout" in inspect.signature(stop).parameters:
        stop(timeout=0)
    else:
        stop()


def _bounded_stop(thread: Any, stop: Any) -> None:
    request_stop(stop)
    thread.join(STOP_TIMEOUT)
