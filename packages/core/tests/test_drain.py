"""The drain state machine every server adapter drives, with a fake clock (pure logic)."""

from __future__ import annotations

import logging
import signal
import socket

import pytest

from django_prodserver.drain import Drain, Phase, Step, accept_queue_length, backlog_of, listen_backlog


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make(clock: Clock, delay: float = 2.0, graceful: float = 10.0) -> Drain:
    return Drain(delay, graceful, logging.getLogger("test.drain"), clock=clock)


def test_sigterm_serves_for_the_delay_then_stops_listening(clock: Clock, caplog: pytest.LogCaptureFixture) -> None:
    drain = make(clock)
    with caplog.at_level(logging.INFO, "test.drain"):
        assert drain.on_signal(signal.SIGTERM) is Step.NOTHING
    assert drain.phase is Phase.DRAINING
    assert "SIGTERM: still serving for 2.0s (drain), then stopping gracefully" in caplog.text
    clock.now += 1.9
    assert drain.check(0) is Step.NOTHING
    clock.now += 0.2
    assert drain.check(0) is Step.STOP_LISTENING
    assert drain.phase is Phase.STOPPING
    assert drain.check(0) is Step.NOTHING  # said once; in-flight requests now have graceful_timeout
    clock.now += 10.0
    assert drain.check(0) is Step.STOP_NOW
    assert drain.check(0) is Step.NOTHING


def test_a_queued_backlog_keeps_it_listening_until_empty_but_bounded(clock: Clock) -> None:
    drain = make(clock, delay=1.0, graceful=5.0)
    drain.on_signal(signal.SIGTERM)
    clock.now += 1.5
    assert drain.check(3) is Step.NOTHING  # three connections queued: accept and answer them
    assert drain.check(None) is Step.STOP_LISTENING  # unknown counts as empty
    other = make(clock, delay=1.0, graceful=5.0)
    other.on_signal(signal.SIGTERM)
    clock.now += 1.0 + 5.0
    assert other.check(3) is Step.STOP_LISTENING  # never waits forever


def test_sigint_and_recycle_stop_without_the_delay(clock: Clock) -> None:
    drain = make(clock)
    drain.on_signal(signal.SIGINT)
    assert drain.check(1) is Step.NOTHING  # still answers what is queued
    assert drain.check(0) is Step.STOP_LISTENING
    recycled = make(clock)
    recycled.recycle()
    assert recycled.check(0) is Step.STOP_LISTENING
    recycled.recycle()  # no effect once stopping
    assert recycled.phase is Phase.STOPPING


def test_sigint_ends_the_drain_and_a_second_stops_now(clock: Clock, caplog: pytest.LogCaptureFixture) -> None:
    drain = make(clock)
    with caplog.at_level(logging.INFO, "test.drain"):
        drain.on_signal(signal.SIGTERM)
        assert drain.on_signal(signal.SIGINT) is Step.STOP_LISTENING  # backlog wait skipped too
        assert drain.on_signal(signal.SIGINT) is Step.STOP_NOW
    assert "SIGINT again: ending the drain now" in caplog.text
    assert "SIGINT again: stopping now" in caplog.text


def test_sigterm_again_changes_nothing_in_any_phase(clock: Clock, caplog: pytest.LogCaptureFixture) -> None:
    drain = make(clock, delay=2.0)
    with caplog.at_level(logging.INFO, "test.drain"):
        drain.on_signal(signal.SIGTERM)
        deadline = drain.deadline
        assert drain.on_signal(signal.SIGTERM) is Step.NOTHING and drain.phase is Phase.DRAINING
        clock.now += 2.0
        assert drain.check(0) is Step.STOP_LISTENING
        assert drain.on_signal(signal.SIGTERM) is Step.NOTHING and drain.phase is Phase.STOPPING
    assert drain.deadline == deadline
    assert caplog.text.count("SIGTERM again: already stopping gracefully") == 2


def test_zero_delay_stops_listening_on_the_next_check(clock: Clock) -> None:
    drain = make(clock, delay=0.0)
    assert drain.on_signal(signal.SIGTERM) is Step.NOTHING
    assert drain.check(0) is Step.STOP_LISTENING


def test_backlog_is_read_from_the_socket_and_from_proc() -> None:
    """Real loopback connections that nobody accepts are counted both ways."""
    listener = socket.socket()
    clients: list[socket.socket] = []
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        port = listener.getsockname()[1]
        assert accept_queue_length(listener) == 0 and listen_backlog(port) == 0
        for _ in range(3):
            clients.append(socket.create_connection(("127.0.0.1", port)))
        assert accept_queue_length(listener) == 3
        assert backlog_of([listener]) == 3
        assert listen_backlog(port) == 3
        listener.accept()[0].close()
        assert listen_backlog(port) == 2
    finally:
        for c in clients:
            c.close()
        listener.close()
    assert listen_backlog(port) is None  # nobody listens there any more


def test_one_deadline_bounds_the_backlog_wait_and_the_in_flight_requests(clock: Clock) -> None:
    """drain_delay + graceful_timeout from SIGTERM, however long the backlog stays full."""
    drain = make(clock, delay=2.0, graceful=10.0)
    start = clock.now
    drain.on_signal(signal.SIGTERM)
    assert drain.deadline == start + 12.0
    clock.now = start + 6.9
    assert drain.check(5) is Step.NOTHING  # a full backlog keeps it serving ...
    clock.now = start + 7.0
    assert drain.check(5) is Step.STOP_LISTENING  # ... for half the graceful timeout at most
    assert drain.remaining() == 5.0  # in-flight requests get the rest, not a second 10 s
    clock.now = start + 11.9
    assert drain.check(None) is Step.NOTHING
    clock.now = start + 12.0
    assert drain.check(None) is Step.STOP_NOW


def test_deadline_of_a_stop_without_delay_is_the_graceful_timeout(clock: Clock) -> None:
    drain = make(clock, delay=2.0, graceful=10.0)
    assert drain.remaining() == 10.0  # before any stop: a whole graceful timeout
    start = clock.now
    drain.on_signal(signal.SIGINT)
    assert drain.deadline == start + 10.0
    drain.on_signal(signal.SIGINT)  # a second signal ends the drain, not the deadline
    assert drain.deadline == start + 10.0 and drain.phase is Phase.STOPPING
