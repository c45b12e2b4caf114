"""daphne's Server with a drain: daphne alone cancels every pending request on SIGTERM.

On SIGTERM it keeps serving for ``drain_delay`` seconds and until the listen backlog is empty
(core's ``django_prodserver.drain.Drain``), stops listening (answering what is still queued
with 503), closes websockets with 1001 (going away), waits until the drain's one deadline
for in-flight HTTP requests and only then stops the reactor (whose shutdown cancels whatever
is left, as daphne always does).

A copy that is replaced (a reload's old generation, or ``max_requests``) shares its listening
socket with its successor: it stops listening at once and leaves the queue alone (no hold, no
turn-away), answers what it already has with ``Connection: close`` and closes each keep-alive
connection as soon as it is idle, so the next request on it goes to the new code.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import weakref
from typing import Any

from daphne.http_protocol import WebRequest
from daphne.server import Server
from daphne.ws_protocol import WebSocketProtocol
from twisted.internet import reactor as _reactor
from twisted.internet import tcp, unix
from twisted.web.http import HTTPChannel

from django_prodserver.api import Drain, Phase, Step, TurnAway, backlog_of, duplicates

logger = logging.getLogger("daphne.server")
reactor: Any = _reactor  # the installed asyncio reactor (its zope interface types confuse mypy)


class DrainingServer(Server):  # type: ignore[misc]
    """``daphne.server.Server`` with prodserver's SIGTERM handling instead of Twisted's."""

    drain_delay: float = 0.0
    graceful_timeout: float = 25.0
    #: Stop gracefully (and be replaced by prodserver's copies) after this many requests; 0 = never.
    max_requests: int = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["signal_handlers"] = False
        super().__init__(*args, **kwargs)
        self.ports: list[Any] = []
        self.drain = Drain(self.drain_delay, self.graceful_timeout, logger)
        self.turn = TurnAway([], logger, until=0.0)
        self.served = 0
        #: HTTP/1 connections that carried a request: closed once idle when this copy is replaced.
        self.used: weakref.WeakSet[HTTPChannel] = weakref.WeakSet()

    def create_application(self, protocol: Any, scope: dict[str, Any]) -> Any:
        queue = super().create_application(protocol, scope)
        self.served += 1
        channel = getattr(protocol, "channel", None)
        if isinstance(protocol, WebRequest) and isinstance(channel, HTTPChannel):
            self.used.add(channel)
            if self.drain.replacing and not self.drain.serving:
                last_on_connection(protocol)
        if self.max_requests and self.served == self.max_requests and self.drain.serving:
            self.drain.recycle()
            reactor.callLater(0, self.tick)
        return queue

    def run(self) -> None:
        import daphne.server

        # daphne's --fd builds "fd:fileno=N", which Twisted has no parser for: the copies
        # prodserver supervises pass an inherited socket so, and we adopt it here.
        daphne.server.serverFromString = server_from_string
        reactor.callWhenRunning(self.install_signal_handlers)
        super().run()

    def install_signal_handlers(self) -> None:
        loop = asyncio.get_event_loop()  # daphne made the reactor's loop the current one
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.on_signal, sig)

    def listen_success(self, port: Any) -> None:
        if isinstance(port, unix.Port) and all(str(e).startswith("fd:") for e in self.endpoints):
            port.__class__ = SharedUnixPort  # the path is whoever bound it's: the supervisor's, or our copies'
        self.ports.append(port)
        super().listen_success(port)

    def on_signal(self, signum: int) -> None:
        first = self.drain.serving
        step = self.drain.on_signal(signum)
        if step is Step.STOP_LISTENING:
            self.stop_listening()
        elif step is Step.STOP_NOW:
            self.stop()
        elif first:
            self.tick()

    def tick(self) -> None:
        """While draining: stop listening once the delay is over and the backlog is empty."""
        if self.drain.phase is not Phase.DRAINING:
            return
        sockets = [port.socket for port in self.ports if getattr(port, "socket", None) is not None]
        backlog = None if self.drain.replacing else backlog_of(sockets)  # replaced: the queue is not ours
        if self.drain.check(backlog) is Step.STOP_LISTENING:
            self.stop_listening()
        else:
            reactor.callLater(0.05, self.tick)

    def stop_listening(self) -> None:
        sockets = [port.socket for port in self.ports if getattr(port, "socket", None) is not None]
        # Twisted closes its listeners now: the turn-away's copies answer their queue with 503
        # ... unless this copy is replaced: then the queue is the other copies' to serve.
        held = [] if self.drain.replacing else duplicates(sockets)
        self.turn = TurnAway(held, logger, until=self.drain.deadline)
        self.drain.exit_at_deadline()  # a cut request's thread would hold the exit past it
        for port in self.ports:
            port.stopListening()
        for protocol, details in list(self.connections.items()):
            if isinstance(protocol, WebSocketProtocol) and "disconnected" not in details:
                protocol.sendClose(code=1001, reason="server shutting down")
        self.drain.stopped_listening(len(self.busy()))
        self.wait_for_requests()

    def close_idle_connections(self) -> None:
        """Replaced: close every keep-alive connection between requests (its client sends the next
        one again on a new connection, which the successor accepts); a busy one says
        ``Connection: close`` and closes after its response."""
        for channel in list(self.used):
            if channel.transport is None or getattr(channel.transport, "disconnected", False):
                continue
            if not channel.requests:
                channel.loseConnection()  # type: ignore[no-untyped-call]
            for request in channel.requests:
                last_on_connection(request)

    def busy(self) -> list[Any]:
        """HTTP requests still being answered (websockets were asked to close)."""
        return [p for p, d in self.connections.items() if isinstance(p, WebRequest) and "disconnected" not in d]

    def wait_for_requests(self) -> None:
        if self.drain.replacing:
            self.close_idle_connections()
        busy = self.busy()
        if not busy:
            self.turn.close()
            reactor.callLater(0.1, self.stop)  # a tick for the last response bytes to leave
        elif self.drain.check(None) is Step.STOP_NOW:
            self.drain.cut(len(busy))
            self.turn.close()
            self.stop()
        else:
            reactor.callLater(0.05, self.wait_for_requests)


class SharedUnixPort(unix.Port):  # type: ignore[misc]
    """An adopted Unix socket: stopping neither shuts it down nor unlinks its path, as Twisted
    does for a Unix socket it bound (the next generation, or the other copies, serve on it)."""

    _shouldShutdown = False  # Twisted's TCP port says so for an adopted socket, its Unix port does not

    def connectionLost(self, reason: Any) -> None:
        if self.lockFile is not None:
            self.lockFile.unlock()  # type: ignore[no-untyped-call]
        tcp.Port.connectionLost(self, reason)  # type: ignore[no-untyped-call]


def last_on_connection(request: Any) -> None:
    """Make ``request``'s response the last on its connection (``Connection: close`` when its
    head is not written yet; the connection closes after it either way)."""
    if not request.startedWriting:
        request.responseHeaders.setRawHeaders(b"Connection", [b"close"])
    if request.channel is not None:
        request.channel.persistent = False


def server_from_string(reactor: Any, description: str) -> Any:
    """Twisted's ``serverFromString`` plus ``fd:fileno=N:domain=INET|INET6|UNIX`` (adopt a socket),
    optionally ``:tls=OPTIONS`` after it (an ``ssl:`` endpoint's options: TLS on the adopted socket)."""
    from twisted.internet.endpoints import AdoptedStreamServerEndpoint, serverFromString

    if not description.startswith("fd:"):
        return serverFromString(reactor, description)  # type: ignore[no-untyped-call]
    head, _, tls = description.partition(":tls=")
    fields = dict(part.split("=", 1) for part in head.split(":")[1:] if "=" in part)
    family = getattr(socket, "AF_" + fields.get("domain", "INET"))
    adopted = AdoptedStreamServerEndpoint(reactor, int(fields["fileno"]), family)  # type: ignore[no-untyped-call]
    if not tls:
        return adopted
    # Twisted parses the TLS options as for its own ssl: endpoint (nothing is bound until listen).
    context = serverFromString(reactor, f"ssl:{tls}")._sslContextFactory  # type: ignore[no-untyped-call]
    return AdoptedTLS(adopted, context)


class AdoptedTLS:
    """An adopted socket's endpoint that speaks TLS, as Twisted's ``ssl:`` endpoint would."""

    def __init__(self, adopted: Any, context: Any) -> None:
        self.adopted = adopted
        self.context = context

    def listen(self, factory: Any) -> Any:
        from twisted.protocols.tls import TLSMemoryBIOFactory

        return self.adopted.listen(TLSMemoryBIOFactory(self.context, False, factory))
