"""The pure parts of a reload: what a process inherits (the socket, the ready pipe, whether a
newer generation serves its address), when a handover is ready or failed, the recycling limits."""

from __future__ import annotations

import os
import socket

import pytest

from django_prodserver.backends.options import parse_size, validate_lifetime
from django_prodserver.errors import ConfigError
from django_prodserver.handover import (
    LISTEN_FD_ENV,
    OWNER_ENV,
    READY_FD_ENV,
    HandoverError,
    announce_ready,
    handing_over,
    listen_fd,
    listen_socket,
    owner_value,
)
from django_prodserver.launch.supervisor import reload
from django_prodserver.launch.supervisor.child import Child, ChildSpec


@pytest.mark.parametrize(
    ("text", "size"),
    [("512MB", 512_000_000), ("1.5GiB", int(1.5 * 1024**3)), ("800 MiB", 800 * 1024**2), ("", 0), (4096, 4096)],
)
def test_sizes(text: object, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["lots", "12XB", "-5MB", True])
def test_a_size_that_is_not_one_says_how_to_write_it(text: object) -> None:
    with pytest.raises(ConfigError) as e:
        parse_size(text, "PRODUCTION_PROCESSES['web']['OPTIONS']['max_memory']")
    assert "max_memory" in e.value.message and "512MB" in e.value.message


def test_a_lifetime_shorter_than_a_takeover_is_refused() -> None:
    validate_lifetime(0.0, "w")
    validate_lifetime(5.0, "w")
    with pytest.raises(ConfigError, match="at least 5"):
        validate_lifetime(2.0, "w")


def test_the_inherited_socket_and_what_is_wrong_with_one() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        env = {LISTEN_FD_ENV: str(sock.fileno())}
        assert listen_fd(env) == sock.fileno()
        own = listen_socket(env)
        assert own is not None and own.fileno() != sock.fileno()  # a copy: closing it keeps ours
        assert own.getsockname() == sock.getsockname()
        own.close()
    assert listen_fd({}) is None
    with pytest.raises(HandoverError, match="is not a file descriptor number"):
        listen_fd({LISTEN_FD_ENV: "three"})
    r, w = os.pipe()
    try:
        with pytest.raises(HandoverError, match="is not a socket"):
            listen_fd({LISTEN_FD_ENV: str(r)})
    finally:
        os.close(r)
        os.close(w)
    with pytest.raises(HandoverError, match="unset PRODSERVER_LISTEN_FD to bind normally"):
        listen_fd({LISTEN_FD_ENV: "987"})


def test_handing_over_while_the_owner_holds_the_socket_and_not_after() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    env = {OWNER_ENV: owner_value(sock)}  # this process plays the supervisor
    assert handing_over(env)
    sock.close()  # what the supervisor does before a full stop
    assert not handing_over(env)
    assert not handing_over({OWNER_ENV: "garbage"}) and not handing_over({})


def test_announce_ready_writes_one_line_once() -> None:
    r, w = os.pipe()
    env = {READY_FD_ENV: str(w)}
    assert announce_ready(env)
    assert os.read(r, 64) == b"READY\n"
    assert os.read(r, 64) == b""  # and closed its end
    os.close(r)
    assert not announce_ready({})


def _child(announces: bool = True, pid: int = 4242) -> Child:
    child = Child(ChildSpec(name="web", argv=["x"], env={}, cwd="/", announces=announces))
    child.pid = pid
    return child


def _handover(new: Child, began: float = 100.0) -> reload.Handover:
    batch = reload.Batch("test", began)
    return reload.Handover(_child(pid=1), new, began, began + reload.READY_TIMEOUT, batch)


def test_a_handover_waits_for_ready_then_the_settle_time() -> None:
    new = _child()
    h = _handover(new)
    assert reload.state(h, 101.0) is None  # not said ready yet
    new.announced_at = 102.0
    assert reload.state(h, 102.0 + reload.SETTLE / 2) is None  # settling
    assert reload.state(h, 102.0 + reload.SETTLE) == "ready"


def test_a_handover_fails_on_an_early_exit_or_the_timeout() -> None:
    new = _child()
    h = _handover(new)
    assert (
        reload.state(h, 100.0 + reload.READY_TIMEOUT)
        == f"the new generation was not ready within {reload.READY_TIMEOUT:g}s"
    )
    new.status = 1 << 8  # exited 1 before saying ready
    assert reload.state(h, 101.0) == "the new generation exited with code 1 before it was ready"
    new.announced_at = 100.5
    assert "0.5s after it said it was ready" in (reload.state(h, 101.0) or "")
    h.tail.extend(["Traceback (most recent call last):", "ImportError: no"])
    assert reload.failure(h, "why").endswith(
        "its last lines:\n    Traceback (most recent call last):\n    ImportError: no"
    )


def test_a_process_that_cannot_say_ready_is_ready_after_the_settle_time() -> None:
    new = _child(announces=False)
    h = _handover(new)
    assert reload.state(h, 100.0 + reload.SETTLE / 2) is None
    assert reload.state(h, 100.0 + reload.SETTLE) == "ready"


def test_lifetime_limit() -> None:
    child = Child(ChildSpec(name="w", argv=["x"], env={}, cwd="/", max_lifetime=60.0))
    child.pid = os.getpid()
    assert reload.over_limit(child, 59.0) is None
    assert reload.over_limit(child, 61.0) == ("max_lifetime", "running for 61s, max_lifetime is 60s")


def test_memory_limit_reads_each_process() -> None:
    child = Child(ChildSpec(name="w", argv=["x"], env={}, cwd="/", max_memory=1024))  # this test process is bigger
    child.pid = os.getpid()
    why = reload.over_limit(child, 1.0)
    assert why is not None and why[0] == "max_memory" and f"pid {os.getpid()} uses" in why[1]
    roomy = Child(ChildSpec(name="w", argv=["x"], env={}, cwd="/", max_memory=1 << 40))
    roomy.pid = os.getpid()
    assert reload.over_limit(roomy, 1.0) is None


def test_the_answer_of_a_batch() -> None:
    batch = reload.Batch("test", 0.0)
    batch.outcomes = [reload.Outcome("web", True, 2.04, "pid 7"), reload.Outcome("worker", False, 1.0, "it broke")]
    answer = batch.answer()
    assert answer["ok"] is False and answer["message"] == "worker: it broke"
    assert answer["results"][0] == {"name": "web", "ok": True, "seconds": 2.04, "message": "pid 7"}


def test_a_process_with_a_ready_line_waits_for_it() -> None:
    new = Child(ChildSpec(name="worker", argv=["x"], env={}, cwd="/", ready_line="Worker process is ready"))
    new.pid = 4242
    h = _handover(new)
    assert reload.state(h, 100.0 + 10 * reload.SETTLE) is None  # running is not enough: its line is missing
    new.announced_at = 105.0  # the supervisor saw the line
    assert reload.state(h, 105.0 + reload.SETTLE) == "ready"
