"""``prodserver_queue_depth``: the tasks waiting in each worker's queues, read at scrape time.

A worker's plan may carry a :class:`~django_prodserver.plan.QueueDepth`; the supervisor imports
its reader at the first scrape and calls the sampler it returned at every scrape, on one thread
per worker, waiting at most ``SAMPLE_TIMEOUT`` (a silent broker delays no scrape and piles up
no threads)."""

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
    """One worker's sampler on a thread of its own (clients that keep a connection per thread,
    like pika's, reuse it), built on first use and rebuilt after an error (a reconnect)."""

    def __init__(self, depth: QueueDepth) -> None:
        self.depth = depth
        self.sampler: Sampler | None = None
        self.lock = threading.Lock()
        self.wanted = threading.Event()
        self.answered = threading.Event()
        self.answer: Mapping[str, int] | None = None
        self.thread: threading.Thread | None = None

    @property
    def busy(self) -> bool:
        """A read is still waiting for the broker."""
        return self.wanted.is_set()

    def sample(self, timeout: float = SAMPLE_TIMEOUT) -> Mapping[str, int] | None:
        """``{queue: depth}``, or None when the broker did not answer in time or failed."""
        with self.lock:  # one scrape at a time per worker
            if self.wanted.is_set():
                return None  # the last scrape's read is still waiting for the broker
            if self.thread is None:
                self.thread = threading.Thread(target=self._loop, name="prodserver-queue-depth", daemon=True)
                self.thread.start()
            self.answered.clear()
            self.wanted.set()
            if not self.answered.wait(timeout):
                return None
            return self.answer

    def _loop(self) -> None:
        while True:
            self.wanted.wait()
            try:
                if self.sampler is None:
                    self.sampler = load_reader(self.depth)
                self.answer = dict(self.sampler())
            except Exception:  # a broker error leaves the samples out; the next scrape reconnects
                self.sampler = None
                self.answer = None
            self.answered.set()  # before ``wanted`` clears: a new request never sees this answer
            self.wanted.clear()


def samples(samplers: Mapping[str, DepthSampler]) -> Iterator[tuple[str, str, int]]:
    """(process, queue, depth) of every worker whose broker answered."""
    for process, sampler in samplers.items():
        depths = sampler.sample()
        for queue, count in sorted((depths or {}).items()):
            yield process, queue, int(count)
