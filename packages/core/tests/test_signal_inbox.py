"""The supervisor's signal inbox loses nothing that arrives while it is read."""

from __future__ import annotations


def test_a_signal_that_arrives_while_the_inbox_is_read_is_not_lost() -> None:
    """A handler runs between two bytecodes of ``take()``: what it queues then comes out now or
    at the next call, never dropped (a SIGTERM lost this way left the supervisor running)."""
    from collections import deque

    from django_prodserver.launch.supervisor.signals import SignalInbox

    class Racing(deque[int]):
        """Queues SIGTERM the moment the first queued signal is read, as the handler would."""

        fired = False

        def _fire(self) -> None:
            if not self.fired:
                self.fired = True
                self.append(15)

        def popleft(self) -> int:
            value = super().popleft()
            self._fire()
            return value

        def __iter__(self):  # type: ignore[no-untyped-def]
            yield from list(super().__iter__())
            self._fire()

    inbox = SignalInbox()
    try:
        inbox.pending = Racing([17])
        taken = inbox.take() + inbox.take()
        assert taken == [17, 15]
    finally:
        inbox.restore()
