"""``prodserver_queue_depth``: the tasks waiting in each worker's queues, read at scrape time.

A worker's plan may carry a :class:`~django_prodserver.plan.QueueDepth`; the supervisor imports
its reader at the first scrape and calls the sampler it returned at every scrape, in a thread
bounded by ``SAMPLE_TIMEOUT`` (a silent broker delays no scrape and piles up no threads)."""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Iterator, Mapping

from django_prodserver.plan import QueueDepth

#: Seconds one scrape waits for a worker's queue depth before it leaves it out.
SAMPLE_TIMEOUT = 2.0
Sampler = Callable[[], Mapping[str, int]]


def load_reader(depth: QueueDepth) -> Sampler:
    """Import ``depth.reader`` ("module:function") and build the sampler from it."""
    module, _, attr = depth.reader.partition(":")
    factory = getattr(importlib.import_module(module), attr)
    sampler: Sampler = factory(depth)
    return sampler


class DepthSampler:
    """One worker's sampler, built on first use; rebuilt after an error (a reconnect)."""

    def __init__(self, depth: QueueDepth) -> None:
        self.depth = depth
        self.sampler: Sampler | None = None
        self.busy = threading.Lock()

    def sample(self, timeout: float = SAMPLE_TIMEOUT) -> Mapping[str, int] | None:
        """``{queue: depth}``, or None when the broker did not answer in time or failed."""
        if not self.busy.acquire(blocking=False):
            return None  # the last scrape's read is still waiting for the broker
        result: list[Mapping[str, int] | None] = []

        def read() -> None:
            try:
                if self.sampler is None:
                    self.sampler = load_reader(self.depth)
                result.append(dict(self.sampler()))
            except Exception:  # a broker error leaves the samples out; the next scrape reconnects
                self.sampler = None
                result.append(None)
            finally:
                self.busy.release()

        thread = threading.Thread(target=read, name="prodserver-queue-depth", daemon=True)
        thread.start()
        thread.join(timeout)
        return result[0] if result else None


def samples(samplers: Mapping[str, DepthSampler]) -> Iterator[tuple[str, str, int]]:
    """(process, queue, depth) of every worker whose broker answered."""
    for process, sampler in samplers.items():
        depths = sampler.sample()
        for queue, count in sorted((depths or {}).items()):
            yield process, queue, int(count)
