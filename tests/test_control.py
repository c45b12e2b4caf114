"""The supervisor's control socket: ``prodserver status|restart|stop|start|logs`` against a real
supervisor running two real processes, the socket's mode, path and refusals, and the errors a
user sees when nothing runs or the socket is not theirs."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent / "fixtures" / "supervisor"))
from harness import Run, Starter, script

from django_prodserver.control import client
from django_prodserver.control.config import load_control_path
from django_prodserver.control.server import ControlServer, bind
from django_prodserver.errors import ConfigError
from django_prodserver.testing.ops import until
from django_prodserver.testing.processes import free_port, project_environ, run_django

pytestmark = pytest.mark.timeout(120)

PROCESSES = {
    "alpha": script("worker_like.py", ENV={"WORKER_NAME": "alpha"}),
    "beta": script("worker_like.py", ENV={"WORKER_NAME": "beta"}),
}


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A directory with a short path (a Unix socket path has at most 107 bytes; tmp_path's may not)."""
    path = Path(tempfile.mkdtemp(prefix="psctl"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def cli(tmp_path: Path, sock: Path, *args: str) -> Any:
    env = project_environ(PROCESSES, tmp_path, extra={"PRODSERVER_CONTROL": str(sock)})
    return run_django(env, tmp_path, "prodserver", *args, timeout=60)


def rows(sock: Path) -> dict[str, dict[str, Any]]:
    answer = client.request(str(sock), {"command": "status"})
    assert answer["ok"], answer
    return {r["name"]: r for r in answer["processes"]}


def start(supervise: Starter, sock: Path) -> Run:
    run = supervise(PROCESSES, "alpha", "beta", env={"PRODSERVER_CONTROL": str(sock)})
    run.wait_for("alpha: ready")
    run.wait_for("beta: ready")
    until(sock.exists, 10, "the control socket")
    return run


def test_status_restart_stop_start_and_logs_against_a_real_supervisor(
    supervise: Starter, tmp_path: Path, short_dir: Path
) -> None:
    sock = short_dir / "ctl.sock"
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(sock))  # a killed supervisor's socket: nothing listens, the file stays
    stale.close()
    gone = cli(tmp_path, sock, "status")
    assert gone.returncode == 2, gone.stderr
    assert "nothing is running here under the prodserver supervisor" in gone.stderr
    assert "start it with" in gone.stderr

    run = start(supervise, sock)
    assert os.stat(sock).st_mode & 0o777 == 0o600  # owner only, replaced the stale one

    status = cli(tmp_path, sock, "status")
    assert status.returncode == 0, status.stdout + status.stderr
    lines = status.stdout.splitlines()
    assert lines[1].split()[:4] == ["NAME", "BACKEND", "PID", "STATE"]
    assert [line.split()[0] for line in lines[2:]] == ["alpha", "beta"]
    table = cli(tmp_path, sock, "status", "--json")
    answer = json.loads(table.stdout)
    before = {r["name"]: r for r in answer["processes"]}
    assert {r["state"] for r in before.values()} == {"running"}, answer
    assert before["alpha"]["backend"] == "script" and before["alpha"]["restarts"] == 0
    assert before["alpha"]["rss_bytes"] > 0 and before["alpha"]["cpu_percent"] >= 0
    assert f"alpha: ready pid={before['alpha']['pid']} " in run.out()  # the pid of the process itself

    logs = cli(tmp_path, sock, "logs", "alpha", "-n", "5")
    assert logs.returncode == 0, logs.stderr
    assert logs.stdout.startswith(f"alpha: ready pid={before['alpha']['pid']} "), logs.stdout
    assert "beta" not in logs.stdout

    unknown = cli(tmp_path, sock, "restart", "gamma")
    assert unknown.returncode == 2
    assert "no process named 'gamma' here; known: alpha, beta" in unknown.stderr

    with client.connect(str(sock)) as follower:  # logs -f: lines of the new alpha come as they are written
        follower.sendall(b'{"command": "logs", "name": "alpha", "lines": 0, "follow": true}\n')
        follow = follower.makefile("rb")
        assert json.loads(follow.readline()) == {"ok": True, "processes": ["alpha"], "lines": [], "kept": 1000}
        said = client.request(str(sock), {"command": "restart", "name": "alpha"})
        assert said == {"ok": True, "processes": ["alpha"], "message": "restarting alpha"}
        until(lambda: (rows(sock)["alpha"]["pid"] or 0) not in (0, before["alpha"]["pid"]), 30, run.both)
        streamed = json.loads(follow.readline())
        assert streamed["process"] == "alpha" and streamed["line"].startswith("alpha: stopped cleanly"), streamed
    after = rows(sock)
    assert after["alpha"]["restarts"] == 1 and after["alpha"]["state"] == "running"
    assert after["beta"]["pid"] == before["beta"]["pid"]  # only the one named

    stopped = cli(tmp_path, sock, "stop", "beta")
    assert stopped.returncode == 0 and "stopping beta" in stopped.stdout, stopped.stderr
    until(lambda: rows(sock)["beta"]["state"] == "stopped", 30, run.both)
    down = cli(tmp_path, sock, "status")
    assert down.returncode == 1, down.stdout  # something is not up: usable in scripts
    assert "stopped on request" in run.err()
    assert rows(sock)["beta"]["pid"] is None and rows(sock)["beta"]["last_exit"] == "exited with code 0"
    client.request(str(sock), {"command": "start", "name": "beta"})
    until(lambda: rows(sock)["beta"]["state"] == "running", 30, run.both)
    run.wait_for("beta: ready", count=2)

    env = project_environ(PROCESSES, tmp_path, extra={"PRODSERVER_CONTROL": str(sock)})
    tail = subprocess.Popen(  # logs -f from the command line, stopped by PID below
        [sys.executable, "-m", "django", "prodserver", "logs", "beta", "-f", "-n", "1"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert tail.stdout is not None
        assert tail.stdout.readline().startswith("beta: ready pid="), tail.stderr
        client.request(str(sock), {"command": "restart", "name": "beta"})
        assert tail.stdout.readline().startswith("beta: stopped cleanly")
        assert tail.stdout.readline().startswith("beta: ready pid=")  # the new one's, as it came
        second = supervise(PROCESSES, "alpha", "beta", env={"PRODSERVER_CONTROL": str(sock)})
        assert second.wait(60) != 0
        assert "another prodserver supervisor is running here" in second.err(), second.both()
        assert sock.exists() and rows(sock)["alpha"]["state"] == "running"  # the first one still answers

        run.signal(signal.SIGTERM)
        assert run.wait(30) == 0, run.both()
        assert not sock.exists()  # removed on the way out
        assert tail.wait(30) == 0  # the supervisor closed the stream: logs -f ends
    finally:
        if tail.poll() is None:
            tail.kill()
        tail.communicate()


def test_another_user_cannot_connect(supervise: Starter, short_dir: Path) -> None:
    if os.getuid() != 0:
        pytest.skip("needs root to try as another user; the 0600 mode is asserted by the test above")
    short_dir.chmod(0o711)  # others may reach the socket: only its own mode keeps them out
    sock = short_dir / "ctl.sock"
    run = start(supervise, sock)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.setgid(65534)
            os.setuid(65534)
            try:
                client.request(str(sock), {"command": "status"})
                said = "connected"
            except client.ControlError as e:
                said = str(e)
            os.write(write, said.encode())
        finally:
            os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    said = os.read(read, 65536).decode()
    os.close(read)
    assert said.startswith(f"permission denied on the control socket {sock}: it belongs to user root"), said
    assert rows(sock)["alpha"]["state"] == "running"
    run.signal(signal.SIGTERM)
    assert run.wait(30) == 0, run.both()


def test_socket_path_settings_and_refusals(short_dir: Path) -> None:
    class Settings:
        BASE_DIR = str(short_dir)

    assert load_control_path(Settings(), {"PRODSERVER_CONTROL": "off"}) is None
    off = type("Off", (), {"PRODSERVER_CONTROL": False})()
    assert load_control_path(off, {}) is None
    default = load_control_path(Settings(), {"XDG_RUNTIME_DIR": str(short_dir)}, create=True)
    assert default is not None and Path(default).parent == short_dir / "prodserver"
    assert (short_dir / "prodserver").stat().st_mode & 0o777 == 0o700
    with pytest.raises(ConfigError) as tcp:
        load_control_path(type("Tcp", (), {"PRODSERVER_CONTROL": {"PORT": 9292}})(), {})
    assert "PRODSERVER_CONTROL" in tcp.value.message and "TCP control listener is not available" in tcp.value.message

    link = short_dir / "link.sock"
    link.symlink_to(short_dir / "elsewhere.sock")
    with pytest.raises(ConfigError, match="is a symlink"):
        bind(str(link))
    assert not (short_dir / "elsewhere.sock").exists()
    plain = short_dir / "file.sock"
    plain.write_text("")
    with pytest.raises(ConfigError, match="exists and is not a socket"):
        bind(str(plain))

    server = ControlServer(str(short_dir / "ok.sock"))
    try:
        with pytest.raises(ConfigError, match="another prodserver supervisor is running here"):
            ControlServer(str(short_dir / "ok.sock"))
    finally:
        server.close()
    assert not (short_dir / "ok.sock").exists()
    with pytest.raises(client.NotRunning):
        client.request(str(short_dir / "ok.sock"), {"command": "status"})


def test_ready_state_with_the_ops_endpoint_and_no_socket_when_off(
    supervise: Starter, tmp_path: Path, short_dir: Path
) -> None:
    sock = short_dir / "ctl.sock"
    run = supervise(
        PROCESSES, "alpha", "beta", env={"PRODSERVER_CONTROL": str(sock), "PRODSERVER_OPS_PORT": str(free_port())}
    )
    until(lambda: sock.exists() and {r["state"] for r in rows(sock).values()} == {"ready"}, 30, run.both)
    assert client.request(str(sock), {"command": "status"})["all_up"] is True
    run.signal(signal.SIGTERM)
    assert run.wait(30) == 0, run.both()

    off = supervise(PROCESSES, "alpha", "beta", env={"PRODSERVER_CONTROL": "off", "XDG_RUNTIME_DIR": str(short_dir)})
    off.wait_for("alpha: ready")
    off.wait_for("beta: ready")
    assert not (short_dir / "prodserver").exists()  # where the default socket would be
    said = cli(tmp_path, Path("off"), "status")
    assert said.returncode == 2 and "the control socket is off" in said.stderr, said.stderr
    off.signal(signal.SIGTERM)
    assert off.wait(30) == 0, off.both()


def test_two_supervisors_of_one_project_each_answer(supervise: Starter, tmp_path: Path, short_dir: Path) -> None:
    """``prodserver alpha`` and ``prodserver beta`` as two services of one project: each gets its
    own default socket (the second is not refused), ``status`` shows both, and a command that
    names a process reaches the supervisor that runs it."""
    xdg = {"XDG_RUNTIME_DIR": str(short_dir)}
    # One process runs under the supervisor when the ops endpoint is on (one port each).
    first = supervise(PROCESSES, "alpha", env={**xdg, "PRODSERVER_OPS_PORT": str(free_port())})
    second = supervise(PROCESSES, "beta", env={**xdg, "PRODSERVER_OPS_PORT": str(free_port())})
    first.wait_for("alpha: ready")
    second.wait_for("beta: ready")
    sockets = short_dir / "prodserver"
    until(lambda: len(list(sockets.glob("*.ctl.sock"))) == 2, 10, lambda: first.both() + second.both())

    def cli_default(*args: str) -> Any:
        env = project_environ(PROCESSES, tmp_path, extra=xdg)
        return run_django(env, tmp_path, "prodserver", *args, timeout=60)

    status = cli_default("status", "--json")
    assert status.returncode == 0, status.stderr
    answer = json.loads(status.stdout)
    assert sorted(r["name"] for r in answer["processes"]) == ["alpha", "beta"]
    assert len(answer["supervisors"]) == 2

    before = {r["name"]: r["pid"] for r in answer["processes"]}
    restarted = cli_default("restart", "beta")
    assert restarted.returncode == 0, restarted.stderr
    second.wait_for("beta: ready", count=2)
    unknown = cli_default("stop", "gamma")
    assert unknown.returncode == 2 and "known: alpha, beta" in unknown.stderr, unknown.stderr
    logs = cli_default("logs", "beta", "-n", "1")
    assert logs.returncode == 0 and logs.stdout.startswith("beta: ready pid="), logs.stdout + logs.stderr
    after = {r["name"]: r["pid"] for r in json.loads(cli_default("status", "--json").stdout)["processes"]}
    assert after["alpha"] == before["alpha"] and after["beta"] != before["beta"]

    for run in (first, second):
        run.signal(signal.SIGTERM)
        assert run.wait(30) == 0, run.both()
    assert not list(sockets.glob("*.ctl.sock"))
    gone = cli_default("status")
    assert gone.returncode == 2 and "nothing is running here" in gone.stderr, gone.stderr
