"""The gunicorn backend: uniform web options mapped to gunicorn flags, run in-process."""

from __future__ import annotations

import os
from typing import Any, ClassVar, NoReturn

from django_prodserver.argv import FlagSpec
from django_prodserver.backends.base import LaunchContext, WebBackend
from django_prodserver.conf import where
from django_prodserver.errors import ConfigError
from django_prodserver.options import WEB_OPTIONS, Option, OptionTable
from django_prodserver.plan import LaunchPlan

W = WEB_OPTIONS


def _flag_spec() -> FlagSpec:
    """gunicorn's own settings table tells us every flag, its aliases and which take no value."""
    from gunicorn.config import KNOWN_SETTINGS

    aliases: dict[str, str] = {}
    switches: set[str] = set()
    for setting in KNOWN_SETTINGS:
        cli = list(setting.cli or [])
        if not cli:
            continue
        canonical = next((c for c in cli if c.startswith("--")), cli[0])
        for spelling in cli:
            aliases[spelling] = canonical
        if setting.action in ("store_true", "store_false", "store_const"):
            switches.add(canonical)
    return FlagSpec(aliases=aliases, switches=frozenset(switches))


class GunicornBackend(WebBackend):
    """gunicorn for WSGI (sync or gthread workers) and ASGI (uvicorn worker, lifespan off)."""

    name = "gunicorn"
    module = "gunicorn"
    check_namespace = "prodserver_gunicorn"
    capabilities = frozenset({"http", "wsgi", "asgi", "workers", "threads", "tls", "http2", "websockets", "drain"})
    ambient_env = ("GUNICORN_CMD_ARGS", "FORWARDED_ALLOW_IPS")
    flags: ClassVar[FlagSpec] = _flag_spec()

    options: ClassVar[tuple[Option, ...]] = (
        W["interface"].declare(native="-k (wsgi: sync/gthread; asgi: uvicorn worker)"),
        W["host"].declare(native="-b HOST:PORT"),
        W["port"].declare(native="-b HOST:PORT"),
        W["socket"].declare(native="-b unix:PATH"),
        W["workers"].declare(native="-w N", reason="2 x CPUs + 1 (gunicorn's advice), at most 12"),
        W["threads"].declare(native="--threads N (switches to -k gthread)"),
        W["timeout"].declare(native="-t N"),
        W["graceful_timeout"].declare(native="--graceful-timeout N"),
        W["drain_delay"].declare(native="(prodserver: keep serving after SIGTERM, then wait for an empty backlog)"),
        W["keepalive"].declare(native="--keep-alive N"),
        W["max_requests"].declare(native="--max-requests N", default=1000, reason="recycle leaky workers"),
        W["max_requests_jitter"].declare(
            native="--max-requests-jitter N", default=100, reason="avoid recycling all at once"
        ),
        W["tls_cert"].declare(native="--certfile"),
        W["tls_key"].declare(native="--keyfile"),
        W["http2"].declare(native="--http-protocols h2,h1 (needs TLS, threads > 1, package h2)"),
        W["websockets"].declare(native="(ASGI uvicorn worker)"),
        W["access_log"].declare(native="--access-logfile -", reason="gunicorn's access log is off by default"),
        W["forwarded_allow_ips"].declare(native="--forwarded-allow-ips CSV"),
        W["log_level"].declare(native="--log-level"),
        W["backlog"].declare(native="--backlog"),
        Option(
            "config_file",
            "path",
            "A gunicorn.conf.py to load. By default none is read, not even ./gunicorn.conf.py.",
            native="-c PATH",
            reason="a stray config file in cwd must not change production silently",
        ),
        Option(
            "read_env_args",
            "bool",
            "Honour GUNICORN_CMD_ARGS from the environment.",
            default=False,
            native="GUNICORN_CMD_ARGS",
            reason="an inherited variable must not change production silently",
        ),
        Option(
            "control_socket",
            "path",
            "Path of gunicorn's control socket; none by default (two instances would clobber one).",
            native="--control-socket PATH / --no-control-socket",
        ),
    )

    def validate(self, opts: OptionTable, ctx: LaunchContext) -> None:
        name = self.config.name

        def opt(key: str) -> str:
            return where(name, "OPTIONS", key)

        if bool(opts["tls_cert"]) != bool(opts["tls_key"]):
            missing = "tls_key" if opts["tls_cert"] else "tls_cert"
            raise ConfigError(opt(missing), "tls_cert and tls_key go together", f"set {missing!r} as well")
        asgi = opts["interface"] == "asgi"
        if asgi and opts["threads"] > 1:
            raise ConfigError(
                opt("threads"),
                "gunicorn's ASGI (uvicorn) worker runs one event loop per process and ignores threads",
                "remove 'threads', or use interface 'wsgi' with threads",
            )
        if opts["websockets"] and not asgi:
            raise ConfigError(opt("websockets"), "websockets need the ASGI interface", "add 'interface': 'asgi'")
        if opts["http2"]:
            if asgi:
                raise ConfigError(
                    opt("http2"),
                    "gunicorn's uvicorn worker speaks HTTP/1.1 only",
                    "use interface 'wsgi' with threads > 1, or the granian/hypercorn backend",
                )
            if not opts["tls_cert"]:
                raise ConfigError(opt("http2"), "HTTP/2 needs TLS (ALPN)", "set 'tls_cert' and 'tls_key'")
            if opts["threads"] < 2:
                raise ConfigError(
                    opt("http2"), "gunicorn's sync worker cannot serve HTTP/2", "set 'threads' to 2 or more"
                )
        if asgi:
            try:
                import uvicorn_worker  # noqa: F401
            except ImportError:
                raise ConfigError(
                    opt("interface"),
                    "ASGI under gunicorn needs the uvicorn worker, which is not installed",
                    'pip install "django-prodserver-gunicorn[asgi]"',
                ) from None
        if opts["socket"] and opts.explicit("port"):
            raise ConfigError(opt("socket"), "give 'socket' or 'port', not both", "remove one of them")

    def build_args(self, opts: OptionTable, ctx: LaunchContext) -> list[str]:
        args = [self.app_path(opts, ctx)]
        if opts["socket"]:
            args += ["-b", f"unix:{opts['socket']}"]
        else:
            host = opts["host"]
            host = f"[{host}]" if ":" in host and not host.startswith("[") else host
            args += ["-b", f"{host}:{opts['port']}"]
        args += ["-w", str(opts["workers"])]
        if opts["interface"] == "asgi":
            args += ["-k", "django_prodserver_gunicorn.workers.DjangoUvicornWorker"]
        elif opts["threads"] > 1:
            args += ["-k", "gthread", "--threads", str(opts["threads"])]
        else:
            args += ["-k", "sync"]
        args += ["-t", str(opts["timeout"]), "--graceful-timeout", f"{opts['graceful_timeout']:g}"]
        args += ["--keep-alive", str(opts["keepalive"])]
        if opts["max_requests"]:
            args += ["--max-requests", str(opts["max_requests"])]
            args += ["--max-requests-jitter", str(opts["max_requests_jitter"])]
        if opts["tls_cert"]:
            args += ["--certfile", opts["tls_cert"], "--keyfile", opts["tls_key"]]
        if opts["http2"]:
            args += ["--http-protocols", "h2,h1"]
        json_logs = opts["log_format"] == "json"  # access lines come from prodserver's layer then
        if opts["access_log"] and not json_logs:
            args += ["--access-logfile", "-"]
        args += ["--error-logfile", "-", "--log-level", opts["log_level"]]
        if json_logs:
            args += ["--logger-class", "django_prodserver_gunicorn.jsonlog.JsonLogger"]
        if opts["forwarded_allow_ips"]:
            args += ["--forwarded-allow-ips", ",".join(opts["forwarded_allow_ips"])]
        args += ["--backlog", str(opts["backlog"])]
        if os.path.isdir("/dev/shm"):
            args += ["--worker-tmp-dir", "/dev/shm"]
        if opts["control_socket"]:
            args += ["--control-socket", opts["control_socket"]]
        else:
            args += ["--no-control-socket"]
        args += ["-c", opts["config_file"] or "python:django_prodserver_gunicorn.no_config"]
        return args

    def unset_env(self, opts: OptionTable, ctx: LaunchContext) -> tuple[str, ...]:
        return () if opts["read_env_args"] else ("GUNICORN_CMD_ARGS",)

    def in_process(self, opts: OptionTable, ctx: LaunchContext) -> bool:
        return True

    def notes(self, opts: OptionTable, ctx: LaunchContext) -> list[str]:
        notes = [
            "runs in-process: Django is set up once in the master before workers fork "
            "(faster first response, shared memory); SIGHUP restarts workers but does not "
            "reload code the master already imported (settings, installed apps)",
        ]
        if opts["drain_delay"]:
            notes.append(
                f"on SIGTERM prodserver keeps serving for {opts['drain_delay']:g}s and until the listen "
                "backlog is empty, then gunicorn stops gracefully (no native flag does this)"
            )
        return notes

    def run_in_process(self, plan: LaunchPlan) -> NoReturn:
        from .application import run_gunicorn

        run_gunicorn(plan)

    @classmethod
    def from_legacy(cls, config: Any, legacy_options: Any) -> Any:
        # Upstream 3.x passed ARGS straight to gunicorn's CLI, exactly as we do.
        return super().from_legacy(config, legacy_options)
