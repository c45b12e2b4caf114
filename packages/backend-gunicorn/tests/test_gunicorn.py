"""What is special about gunicorn: its defaults, its traps, ASGI mode and the drain."""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Any

import pytest

from django_prodserver.backends.base import LaunchContext
from django_prodserver.drain import accept_queue_length
from django_prodserver.errors import ConfigError
from django_prodserver.settings.config import load_process
from django_prodserver.testing.plugin import ProcessStarter
from django_prodserver.testing.processes import (
    RunningProcess,
    http_get,
    project_environ,
    run_django,
)
from django_prodserver_gunicorn import GunicornBackend

PROJECT = "django_prodserver.testing.project"


def ctx(**environ: str) -> LaunchContext:
    return LaunchContext(
        environ=environ,
        cwd="/srv",
        settings_module=f"{PROJECT}.settings",
        wsgi_application=f"{PROJECT}.wsgi.application",
        asgi_application=f"{PROJECT}.asgi.application",
    )


def plan(options: dict[str, Any] | None = None, environ: dict[str, str] | None = None, **entry: Any):
    backend = GunicornBackend(load_process("web", {"BACKEND": "gunicorn", "OPTIONS": options or {}, **entry}))
    return backend.plan(ctx(**(environ or {})))


def flag(args: tuple[str, ...], name: str) -> str:
    return args[args.index(name) + 1]


def test_platform_port_binds_all_interfaces() -> None:
    assert flag(plan().args, "-b") == "127.0.0.1:8000"
    assert flag(plan(environ={"PORT": "5000"}).args, "-b") == "0.0.0.0:5000"


def test_web_concurrency_and_cpu_default() -> None:
    assert flag(plan(environ={"WEB_CONCURRENCY": "3"}).args, "-w") == "3"
    assert 3 <= int(flag(plan().args, "-w")) <= 12


def test_threads_switch_to_gthread_and_asgi_uses_the_lifespan_free_worker() -> None:
    args = plan({"threads": 4}).args
    assert flag(args, "-k") == "gthread" and flag(args, "--threads") == "4"
    args = plan({"interface": "asgi"}).args
    assert flag(args, "-k") == "django_prodserver_gunicorn.workers.DjangoUvicornWorker"
    assert args[0] == f"{PROJECT}.asgi:application"


def test_traps_are_closed_by_default() -> None:
    p = plan()
    assert "--no-control-socket" in p.args
    assert flag(p.args, "-c") == "python:django_prodserver_gunicorn.no_config"
    assert "GUNICORN_CMD_ARGS" in p.unset_env
    assert flag(p.args, "--access-logfile") == "-"
    assert float(flag(p.args, "--graceful-timeout")) + float(p.options["drain_delay"]) < 30


def test_opting_back_in_to_config_file_and_env_args() -> None:
    p = plan({"config_file": "gunicorn.conf.py", "read_env_args": True, "control_socket": "/run/web/g.ctl"})
    assert flag(p.args, "-c") == "gunicorn.conf.py" and "GUNICORN_CMD_ARGS" not in p.unset_env
    assert flag(p.args, "--control-socket") == "/run/web/g.ctl" and "--no-control-socket" not in p.args


def test_every_uniform_option_reaches_a_flag(tmp_path: Path) -> None:
    p = plan(
        {
            "socket": "/run/app.sock", "timeout": 60, "graceful_timeout": 20.0, "keepalive": 75,
            "max_requests": 500, "max_requests_jitter": 50, "tls_cert": "c.pem", "tls_key": "k.pem",
            "http2": True, "threads": 2, "forwarded_allow_ips": ["10.0.0.1", "10.0.0.2"],
            "log_level": "warning", "backlog": 4096, "access_log": False,
        }
    )  # fmt: skip
    a = p.args
    assert flag(a, "-b") == "unix:/run/app.sock" and flag(a, "-t") == "60" and flag(a, "--graceful-timeout") == "20"
    assert flag(a, "--keep-alive") == "75" and flag(a, "--max-requests") == "500"
    assert flag(a, "--max-requests-jitter") == "50" and flag(a, "--certfile") == "c.pem"
    assert flag(a, "--keyfile") == "k.pem" and flag(a, "--http-protocols") == "h2,h1"
    assert flag(a, "--forwarded-allow-ips") == "10.0.0.1,10.0.0.2" and flag(a, "--log-level") == "warning"
    assert flag(a, "--backlog") == "4096" and "--access-logfile" not in a


@pytest.mark.parametrize(
    ("options", "key", "text"),
    [
        ({"tls_cert": "c.pem"}, "tls_key", "go together"),
        ({"websockets": True}, "websockets", "ASGI"),
        ({"http2": True, "threads": 2}, "http2", "needs TLS"),
        ({"http2": True, "tls_cert": "c", "tls_key": "k"}, "http2", "sync worker"),
        ({"http2": True, "interface": "asgi", "tls_cert": "c", "tls_key": "k"}, "http2", "HTTP/1.1 only"),
        ({"socket": "/run/a.sock", "port": 80}, "socket", "not both"),
    ],
)
def test_what_gunicorn_cannot_honour_is_refused(options: dict[str, Any], key: str, text: str) -> None:
    with pytest.raises(ConfigError) as info:
        plan(options)
    assert f"['OPTIONS'][{key!r}]" in str(info.value) and text in str(info.value)


def test_asgi_websockets_on_by_default_and_false_is_prodservers_refusal(monkeypatch: pytest.MonkeyPatch) -> None:
    """gunicorn used to drop an explicit False: its uvicorn worker served websockets anyway."""
    assert "PRODSERVER_APP_LAYERS" not in plan({"interface": "asgi"}).env
    off = plan({"interface": "asgi", "websockets": False})
    assert off.env["PRODSERVER_APP_LAYERS"] == "django_prodserver.served.websockets:refuse_layer"
    assert off.args[0] == "django_prodserver.served.asgi:application"
    for name in ("websockets", "wsproto"):
        monkeypatch.setitem(sys.modules, name, None)  # import fails as if not installed
    with pytest.raises(ConfigError) as info:
        plan({"interface": "asgi"})
    assert "['OPTIONS']['websockets']" in str(info.value) and "gunicorn's uvicorn worker" in str(info.value)
    assert 'pip install "django-prodserver-gunicorn[asgi]"' in str(info.value)


def test_threads_under_asgi_are_warned_not_refused() -> None:
    p = plan({"interface": "asgi", "threads": 2})
    assert len(p.warnings) == 1 and p.warnings[0].startswith("gunicorn ignores threads=2")
    assert plan({"threads": 2}).warnings == ()


def test_accept_queue_is_read_from_the_kernel() -> None:
    import socket

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        assert accept_queue_length(listener) == 0
        clients = [socket.create_connection(listener.getsockname()) for _ in range(3)]
        try:
            assert accept_queue_length(listener) == 3
        finally:
            for c in clients:
                c.close()


@pytest.fixture
def server(tmp_path: Path, prodserver_process: ProcessStarter) -> Any:
    def run(
        options: dict[str, Any], cwd_files: dict[str, str] | None = None, extra_env: dict[str, str] | None = None
    ) -> tuple[RunningProcess, int]:
        for name, text in (cwd_files or {}).items():
            (tmp_path / name).write_text(text)
        return prodserver_process.web("gunicorn", {"workers": 1, **options}, extra_env=extra_env)

    return run


def test_stray_config_file_and_env_args_are_ignored_live(server: Any) -> None:
    proc, port = server(
        {},
        cwd_files={"gunicorn.conf.py": "workers = 5\nraise SystemExit('stray config read')\n"},
        extra_env={"GUNICORN_CMD_ARGS": "--workers 6"},
    )
    assert http_get(port, "/").status == 200
    assert "stray config read" not in proc.output()


def test_asgi_mode_serves_websockets_without_lifespan_noise(server: Any) -> None:
    websockets_sync = pytest.importorskip("websockets.sync.client")
    proc, port = server({"interface": "asgi", "websockets": True})
    assert http_get(port, "/").json()["ok"] is True
    with websockets_sync.connect(f"ws://127.0.0.1:{port}/ws/echo/", open_timeout=10) as ws:
        ws.send("ping")
        assert ws.recv(timeout=10) == "ping"
    proc.signal(signal.SIGTERM)
    assert proc.wait(30) == 0
    assert "lifespan" not in proc.output().lower(), proc.output()


def test_sigint_skips_the_drain(server: Any) -> None:
    proc, _port = server({"drain_delay": 20.0})
    proc.signal(signal.SIGINT)
    assert proc.wait(10) == 0, proc.output()
    assert "(drain)" not in proc.output()


def test_dry_run_names_gunicorn_and_in_process_launch(tmp_path: Path) -> None:
    env = project_environ({"web": {"BACKEND": "gunicorn"}}, tmp_path)
    run = run_django(env, tmp_path, "prodserver", "--dry-run")
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert "launch: in-process" in out and f"-m gunicorn {PROJECT}.wsgi:application" in out
    assert sys.executable in out


# -- the plan is what runs -----------------------------------------------------------------


@pytest.mark.parametrize("command", [("check",), ("prodserver", "--dry-run")])
def test_web_concurrency_that_is_not_a_number_is_one_line_naming_it(tmp_path: Path, command: tuple[str, ...]) -> None:
    """gunicorn's config module reads WEB_CONCURRENCY with int() at import: that was a traceback
    from every command; now it is the same setting-named error WEB_CONCURRENCY=0 gets."""
    env = project_environ({"web": {"BACKEND": "gunicorn"}}, tmp_path, extra={"WEB_CONCURRENCY": "abc"})
    run = run_django(env, tmp_path, *command)
    out = run.stdout + run.stderr
    assert run.returncode != 0 and "Traceback" not in out, out
    assert "environment variable WEB_CONCURRENCY: expected an integer, found 'abc'" in out, out
    zero = run_django({**env, "WEB_CONCURRENCY": "0"}, tmp_path, *command)
    assert "environment variable WEB_CONCURRENCY: must be at least 1" in zero.stdout + zero.stderr
    empty = run_django({**env, "WEB_CONCURRENCY": ""}, tmp_path, *command)  # empty: as if unset
    assert empty.returncode == 0 and "Traceback" not in empty.stdout + empty.stderr, empty.stderr


def test_web_concurrency_that_is_not_a_number_is_ignored_when_options_set_workers(tmp_path: Path) -> None:
    env = project_environ({"web": {"BACKEND": "gunicorn", "OPTIONS": {"workers": 2}}}, tmp_path)
    run = run_django({**env, "WEB_CONCURRENCY": "abc"}, tmp_path, "prodserver", "--dry-run")
    assert run.returncode == 0, run.stderr
    assert "workers = 2  [settings OPTIONS]" in run.stdout


def test_an_operators_gunicorn_cmd_args_is_removed_with_a_warning() -> None:
    p = plan(environ={"GUNICORN_CMD_ARGS": "--workers 6"})
    assert "GUNICORN_CMD_ARGS" in p.unset_env
    [warning] = [w for w in p.warnings if "GUNICORN_CMD_ARGS" in w]
    assert warning.startswith("GUNICORN_CMD_ARGS is set in the environment and removed from gunicorn's")
    assert "'read_env_args': True" in warning
    assert not [w for w in plan(options={"read_env_args": True}, environ={"GUNICORN_CMD_ARGS": "-w 6"}).warnings]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({"bind": "0.0.0.0:8111"}, ("0.0.0.0", 8111, "http://0.0.0.0:8111/")),
        (["-b", "127.0.0.1:9001", "-w", "3"], ("127.0.0.1", 9001, "http://127.0.0.1:9001/")),
        ("--bind [::1]:9002", ("::1", 9002, "http://[::1]:9002/")),
        (["--bind=unix:/run/web.sock"], (None, None, "unix:/run/web.sock")),
    ],
)
def test_bind_in_args_is_the_plans_host_and_port(args: Any, expected: tuple[Any, Any, str]) -> None:
    p = plan(ARGS=args)
    host, port, listen = expected
    if host is not None:
        assert (p.options["host"], p.options["port"]) == (host, port)
        assert p.options.source("port").startswith("settings ARGS")
    else:
        assert p.options["socket"] == "/run/web.sock"
    assert p.listen == listen
    binds = [a for a in p.args if a in ("-b", "--bind") or a.startswith("--bind=")]
    assert len(binds) == 1, p.args  # ARGS' bind replaces prodserver's, it is not added to it


def test_platform_port_with_options_port_prints_the_real_bind() -> None:
    p = plan(options={"port": 8123}, environ={"PORT": "9000"})
    assert flag(p.args, "-b") == "0.0.0.0:8123" and p.listen == "http://0.0.0.0:8123/"
