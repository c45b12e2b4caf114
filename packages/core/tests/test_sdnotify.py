"""systemd's notify protocol and socket activation, against real sockets: what NOTIFY_SOCKET
receives (path and abstract addresses), the watchdog's timing, and which passed descriptors
count as ours."""

from __future__ import annotations

import os
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from django_prodserver.launch.supervisor import activation, sdnotify
from django_prodserver.launch.supervisor.sdnotify import Notifier


@pytest.fixture
def listener() -> Iterator[tuple[socket.socket, str]]:
    """A datagram socket systemd would listen on, bound at a short path (107 bytes at most)."""
    folder = tempfile.mkdtemp(prefix="psnfy")
    path = os.path.join(folder, "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(5)
    try:
        yield sock, path
    finally:
        sock.close()
        os.unlink(path)
        os.rmdir(folder)


def test_no_notify_socket_no_notifier() -> None:
    assert Notifier.from_environ({}) is None
    assert Notifier.from_environ({"NOTIFY_SOCKET": ""}) is None
    assert Notifier.from_environ({"NOTIFY_SOCKET": "relative/path"}) is None


def test_messages_arrive_as_systemd_reads_them(listener: tuple[socket.socket, str]) -> None:
    sock, path = listener
    notifier = Notifier.from_environ({"NOTIFY_SOCKET": path})
    assert notifier is not None
    try:
        assert notifier.ready("web: ready, worker: ready")
        assert sock.recv(4096) == b"READY=1\nSTATUS=web: ready, worker: ready"
        before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        notifier.reloading()
        after = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        first, second = sock.recv(4096).decode().split("\n")
        assert first == "RELOADING=1"
        key, _, usec = second.partition("=")
        assert key == "MONOTONIC_USEC" and before <= int(usec) <= after
        notifier.status("web:\nstarting")  # one line, whatever it was given
        assert sock.recv(4096) == b"STATUS=web: starting"
        notifier.stopping()
        assert sock.recv(4096) == b"STOPPING=1"
    finally:
        notifier.close()


def test_abstract_namespace_address() -> None:
    name = f"psnfy-{os.getpid()}-{time.monotonic_ns()}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    sock.settimeout(5)
    try:
        notifier = Notifier.from_environ({"NOTIFY_SOCKET": "@" + name})
        assert notifier is not None
        notifier.ready()
        assert sock.recv(4096) == b"READY=1"
        notifier.close()
    finally:
        sock.close()


def test_watchdog_pings_at_half_the_interval(listener: tuple[socket.socket, str]) -> None:
    sock, path = listener
    notifier = Notifier.from_environ({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "2000000"})
    assert notifier is not None and notifier.interval == 1.0
    assert notifier.due(100.0)  # never pinged yet
    assert notifier.ping(100.0)
    assert sock.recv(4096) == b"WATCHDOG=1"
    assert not notifier.due(100.9) and notifier.wait(100.5) == pytest.approx(0.5)
    assert notifier.due(101.0)
    notifier.close()
    # Someone else's watchdog (WATCHDOG_PID of another process), or none: no pings at all.
    other = Notifier.from_environ({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "2000000", "WATCHDOG_PID": "1"})
    mine = Notifier.from_environ({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "2000000", "WATCHDOG_PID": str(os.getpid())})
    off = Notifier.from_environ({"NOTIFY_SOCKET": path})
    assert other is not None and mine is not None and off is not None
    assert not other.due(1e9) and mine.due(0.0) and not off.due(1e9)
    for n in (other, mine, off):
        n.close()


def test_a_gone_listener_is_no_crash(tmp_path: Path) -> None:
    notifier = Notifier(str(tmp_path / "nobody"))
    assert notifier.ready() is False
    notifier.close()


def test_strip_removes_only_systemds_variables() -> None:
    env = {"NOTIFY_SOCKET": "/x", "WATCHDOG_USEC": "1", "WATCHDOG_PID": "2", "LISTEN_FDS": "1", "LISTEN_PID": "3"}
    env |= {"LISTEN_FDNAMES": "web", "PATH": "/bin"}
    sdnotify.strip(env)
    activation.strip(env)
    assert env == {"PATH": "/bin"}


def test_activated_sockets_are_ours_only_for_our_pid() -> None:
    assert activation.activated({"LISTEN_FDS": "1", "LISTEN_PID": "1"}) == []
    assert activation.activated({"LISTEN_FDS": "1"}) == []


def test_an_activated_address_matches_the_process_address() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        assert activation.matches(sock, "127.0.0.1", port, None)
        assert not activation.matches(sock, "127.0.0.1", port + 1, None)
        assert not activation.matches(sock, "0.0.0.0", port, None)
        assert not activation.matches(sock, "127.0.0.1", port, "/tmp/x.sock")
        assert activation.address(sock) == f"127.0.0.1:{port}"
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as six:
        six.bind(("::", 0))
        assert activation.matches(six, "0.0.0.0", six.getsockname()[1], None)  # ListenStream=PORT: every interface


def test_a_manager_that_does_not_read_never_hangs_the_loop(listener: tuple[socket.socket, str]) -> None:
    """A unix datagram queue holds a few messages: pings beyond it are dropped at once, a state
    change waits a moment for room, then gives up."""
    _, path = listener
    notifier = Notifier(path, watchdog_usec=1000)
    try:
        began = time.monotonic()
        sent = [notifier.ping() for _ in range(200)]
        assert time.monotonic() - began < 1.0
        assert sent[0] and not sent[-1], sent.count(True)
        began = time.monotonic()
        assert notifier.ready() is False
        took = time.monotonic() - began
        assert sdnotify.SEND_PATIENCE <= took < sdnotify.SEND_PATIENCE + 1.0
    finally:
        notifier.close()


def test_the_herald_says_ready_once_every_process_is_and_stopping_once(listener: tuple[socket.socket, str]) -> None:
    from django_prodserver.launch.supervisor.child import Child, ChildSpec
    from django_prodserver.launch.supervisor.sdnotify import Herald

    sock, path = listener
    web = Child(ChildSpec(name="web", argv=["x"], env={}, cwd="/", announces=True))
    worker = Child(ChildSpec(name="worker", argv=["x"], env={}, cwd="/"))
    herald = Herald(Notifier(path))
    herald.reloading()  # before READY a reload is part of the start: nothing said
    herald.tick([web, worker], 0.0)  # nothing runs yet
    assert sock.recv(4096) == b"STATUS=web: not running, worker: not running"
    web.pid, worker.pid = 100001, 100002  # running, as the supervisor's start leaves them
    herald.tick([web, worker], 1.0)
    assert sock.recv(4096) == b"STATUS=web: starting, worker: ready"
    herald.tick([web, worker], 1.5)  # unchanged: not said again
    web.announced_at = 2.0
    herald.tick([web, worker], 2.0)
    assert sock.recv(4096) == b"READY=1\nSTATUS=web: ready, worker: ready"
    herald.reloading()
    assert sock.recv(4096).startswith(b"RELOADING=1\nMONOTONIC_USEC=")
    herald.reloaded()
    assert sock.recv(4096) == b"READY=1"
    herald.tick([web, worker], 3.0, stopping=True)
    herald.stopping()
    herald.reloaded()
    assert sock.recv(4096) == b"STOPPING=1"
    sock.settimeout(0.2)
    with pytest.raises(TimeoutError):
        sock.recv(4096)  # STOPPING once; no READY after it
    herald.notifier.close()
