"""The backend protocol: a class per process kind that turns config into a LaunchPlan."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, NoReturn

from ..argv import FlagSpec, merge
from ..conf import ProcessConfig, where
from ..errors import ConfigError
from ..options import WEB_OPTIONS, WORKER_OPTIONS, Option, OptionTable, resolve_options
from ..plan import LaunchPlan, ReadyProbe


@dataclass(frozen=True)
class LaunchContext:
    """Everything outside the process config that a plan depends on, passed in explicitly
    so that planning stays pure and testable."""

    environ: Mapping[str, str]
    cwd: str
    settings_module: str = ""
    python: str = sys.executable
    pythonpath: tuple[str, ...] = ()
    wsgi_application: str | None = None
    asgi_application: str | None = None
    overrides: Mapping[str, str] = field(default_factory=dict)
    native_args: tuple[str, ...] = ()
    verbosity: int = 1

    @classmethod
    def from_django(cls, **kwargs: Any) -> LaunchContext:
        """Build a context from the running Django project (settings already configured)."""
        from django.conf import settings

        base = getattr(settings, "BASE_DIR", None)
        cwd = os.fspath(base) if base is not None and _has_manage_py(os.fspath(base)) else os.getcwd()
        values: dict[str, Any] = {
            "environ": dict(os.environ),
            "cwd": cwd,
            "settings_module": os.environ.get("DJANGO_SETTINGS_MODULE", "") or settings.SETTINGS_MODULE or "",
            "wsgi_application": getattr(settings, "WSGI_APPLICATION", None),
            "asgi_application": getattr(settings, "ASGI_APPLICATION", None),
        }
        values.update(kwargs)
        return cls(**values)


def _has_prometheus_client() -> bool:
    import importlib.util

    return importlib.util.find_spec("prometheus_client") is not None


def _has_manage_py(path: str) -> bool:
    return os.path.exists(os.path.join(path, "manage.py"))


def colon_path(dotted: str) -> str:
    """``mysite.wsgi.application`` -> ``mysite.wsgi:application`` (colon forms pass through)."""
    if ":" in dotted:
        return dotted
    module, _, attr = dotted.rpartition(".")
    return f"{module}:{attr}" if module else dotted


class Backend:
    """Base class of every backend. Subclass it, declare options, implement ``build_args``.

    Example (a third party's backend)::

        class MyServer(WebBackend):
            name = "myserver"
            module = "myserver"
            options = (WEB_OPTIONS["port"].declare(native="--port"),)

            def build_args(self, opts, ctx):
                return [self.app_path(opts, ctx), "--port", str(opts["port"])]
    """

    #: Entry-point name (``BACKEND: "<name>"``).
    name: ClassVar[str] = ""
    #: ``web``, ``worker``, ``scheduler``, ``monitor``, ``oneshot`` or ``dev``.
    kind: ClassVar[str] = "web"
    #: Capability flags the contract suite selects tests by: ``http``, ``wsgi``, ``asgi``,
    #: ``websockets``, ``http2``, ``tls``, ``workers``, ``tasks``, ``schedule``.
    capabilities: ClassVar[frozenset[str]] = frozenset()
    #: Options this backend accepts (uniform ones adopted from the catalog, plus its own).
    options: ClassVar[tuple[Option, ...]] = ()
    #: The uniform options of this kind; any of these not declared above is refused clearly.
    catalog: ClassVar[Mapping[str, Option]] = {}
    #: Why uniform options this backend does not declare are refused: {"http2": "experimental in uvicorn"}.
    refused: ClassVar[Mapping[str, str]] = {}
    #: The native CLI's shape, so native args replace configured ones instead of piling up.
    flags: ClassVar[FlagSpec] = FlagSpec()
    #: ``python -m <module>`` runs the native CLI.
    module: ClassVar[str] = ""
    #: Environment prefixes/names that silently change the server (reported by --dry-run).
    ambient_env: ClassVar[tuple[str, ...]] = ()
    #: How to stop it gracefully, and whether the signal may reach the whole process group.
    stop_signal: ClassVar[int] = signal.SIGTERM
    signal_group: ClassVar[bool] = False
    #: Namespace for this backend's check ids, e.g. ``prodserver_gunicorn``.
    check_namespace: ClassVar[str] = "prodserver"

    def __init__(self, config: ProcessConfig) -> None:
        self.config = config

    # -- planning (pure) ---------------------------------------------------------------

    def resolve(self, ctx: LaunchContext) -> OptionTable:
        """Resolve this process' options with full precedence and provenance."""
        return resolve_options(
            self.options,
            self.catalog,
            self.config.options,
            ctx.overrides,
            ctx.environ,
            where=where(self.config.name, "OPTIONS"),
            backend=self.name or type(self).__name__,
            refused=self.refused,
        )

    def validate(self, opts: OptionTable, ctx: LaunchContext) -> None:
        """Refuse combinations the server cannot honour (raise :class:`ConfigError`)."""

    def build_args(self, opts: OptionTable, ctx: LaunchContext) -> list[str]:
        """Translate resolved options into the native CLI's argv (without the program)."""
        raise NotImplementedError(f"{type(self).__name__} must implement build_args()")

    def notes(self, opts: OptionTable, ctx: LaunchContext) -> list[str]:
        """Things prodserver does that no native flag shows, and the server's known limits."""
        return []

    def program(self, ctx: LaunchContext) -> tuple[str, ...]:
        return (ctx.python, "-m", self.module)

    def environment(self, opts: OptionTable, ctx: LaunchContext) -> dict[str, str]:
        """Variables the child needs: settings module, import path, and the user's ENV."""
        env: dict[str, str] = {}
        if ctx.settings_module:
            env["DJANGO_SETTINGS_MODULE"] = ctx.settings_module
        paths = [ctx.cwd, *ctx.pythonpath]
        existing = ctx.environ.get("PYTHONPATH")
        if existing:
            paths.append(existing)
        env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(p for p in paths if p))
        env["PYTHONUNBUFFERED"] = "1"
        layers = self.request_layers(opts, ctx)
        if layers:
            from .. import serving

            env[serving.APP_ENV] = self.user_app_path(opts, ctx)
            env[serving.LAYERS_ENV] = ",".join(layers)
        env.update(self.config.env)
        return env

    def unset_env(self, opts: OptionTable, ctx: LaunchContext) -> tuple[str, ...]:
        return ()

    def graceful_timeout(self, opts: OptionTable) -> float:
        value = opts.get("graceful_timeout")
        delay = opts.get("drain_delay") or 0.0
        return float(value if value is not None else 30.0) + float(delay)

    def ready_probe(self, opts: OptionTable, ctx: LaunchContext) -> ReadyProbe:
        return ReadyProbe()

    def in_process(self, opts: OptionTable, ctx: LaunchContext) -> bool:
        """True when :meth:`run_in_process` should host the server instead of an exec."""
        return False

    def request_layers(self, opts: OptionTable, ctx: LaunchContext) -> list[str]:
        """Layer factories (``module:callable``) prodserver wraps this web process' app in,
        innermost first (see :mod:`django_prodserver.serving`). Empty: the app runs as is."""
        if self.kind != "web" or "http" not in self.capabilities:
            return []
        layers: list[str] = []
        from ..ops.config import load_ops_config

        try:
            ops = load_ops_config(environ=ctx.environ)
        except ConfigError:  # reported once by the ops check (prodserver.E010); nothing starts
            ops = None
        if ops is not None and ops.metrics and _has_prometheus_client():
            layers.append("django_prodserver.ops.middleware:metrics_layer")
        return layers

    def app_path(self, opts: OptionTable, ctx: LaunchContext) -> str:
        """What the server loads: the user's app, or prodserver's wrapper when layers apply."""
        if self.request_layers(opts, ctx):
            from .. import serving

            return colon_path(serving.ASGI_PATH if opts.get("interface", "wsgi") == "asgi" else serving.WSGI_PATH)
        return self.user_app_path(opts, ctx)

    def user_app_path(self, opts: OptionTable, ctx: LaunchContext) -> str:
        """``APP`` if given, else Django's WSGI_APPLICATION / ASGI_APPLICATION per interface."""
        if self.config.app:
            return colon_path(self.config.app)
        interface = opts.get("interface", "wsgi")
        setting = "ASGI_APPLICATION" if interface == "asgi" else "WSGI_APPLICATION"
        value = ctx.asgi_application if interface == "asgi" else ctx.wsgi_application
        if not value:
            raise ConfigError(
                where(self.config.name, "APP"),
                f"no APP given and settings.{setting} is not set",
                f'set {setting} = "mysite.{interface}.application" or give "APP"',
            )
        return colon_path(value)

    def plan(self, ctx: LaunchContext) -> LaunchPlan:
        """Compute the launch without starting anything (also what ``--dry-run`` prints)."""
        opts = self.resolve(ctx)
        self.validate(opts, ctx)
        base = self.build_args(opts, ctx)
        args = merge(base, self.config.args, ctx.native_args, spec=self.flags)
        ambient = {
            k: v
            for k, v in ctx.environ.items()
            if any(k == p or (p.endswith("_") and k.startswith(p)) for p in self.ambient_env)
        }
        unset = self.unset_env(opts, ctx)
        for key in unset:
            ambient.pop(key, None)
        return LaunchPlan(
            process=self.config.name,
            backend=self.name or type(self).__qualname__,
            kind=self.kind,
            program=self.program(ctx),
            args=tuple(args),
            cwd=ctx.cwd,
            env=self.environment(opts, ctx),
            unset_env=unset,
            options=opts,
            native_layers=(("settings ARGS", self.config.args), ("command line", ctx.native_args)),
            in_process=self.in_process(opts, ctx),
            stop_signal=self.stop_signal,
            signal_group=self.signal_group,
            graceful_timeout=self.graceful_timeout(opts),
            ready=self.ready_probe(opts, ctx),
            notes=tuple(self.notes(opts, ctx)),
            ambient_env=ambient,
        )

    # -- checks ------------------------------------------------------------------------

    def check(self, ctx: LaunchContext) -> list[Any]:
        """System-check messages for this process (``manage.py check``). Default: plan it."""
        from django.core import checks

        try:
            self.plan(ctx)
        except ConfigError as e:
            return [checks.Error(e.problem_text, hint=e.fix or None, id=e.check_id, obj=self.config.where)]
        return []

    # -- running (the only side effect) -------------------------------------------------

    def preflight(self, plan: LaunchPlan) -> None:
        """Checks with side effects, run just before a real start (never by --dry-run or
        ``check``): e.g. is the broker reachable. Raise :class:`ConfigError` naming the setting."""

    def run_in_process(self, plan: LaunchPlan) -> NoReturn:
        raise NotImplementedError(f"{type(self).__name__} has no in-process launch")

    @classmethod
    def from_legacy(cls, config: ProcessConfig, legacy_options: Mapping[str, Any]) -> ProcessConfig:
        """Adapt an upstream 2.x/3.x entry (legacy path) to this backend; default: add the
        options the old class implied, keep ARGS as native flags (as upstream passed them)."""
        if not legacy_options:
            return config
        merged = {**legacy_options, **config.options}
        return replace(config, options=merged)


class WebBackend(Backend):
    """Base of HTTP servers: uniform web options, refused clearly where not honoured."""

    kind: ClassVar[str] = "web"
    catalog: ClassVar[Mapping[str, Option]] = WEB_OPTIONS
    capabilities: ClassVar[frozenset[str]] = frozenset({"http", "wsgi"})

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Every web backend takes ``ready_path`` (read by prodserver, not by the server)."""
        super().__init_subclass__(**kwargs)
        if "options" in cls.__dict__ and not any(o.name == "ready_path" for o in cls.options):
            cls.options = (*cls.options, WEB_OPTIONS["ready_path"].declare(native="(prodserver ops endpoint)"))

    def ready_probe(self, opts: OptionTable, ctx: LaunchContext) -> ReadyProbe:
        sock = opts.get("socket")
        if sock:
            return ReadyProbe()
        host = opts.get("host") or "127.0.0.1"
        host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
        scheme = "https" if opts.get("tls_cert") else "http"
        path = opts.get("ready_path") or "/"
        path = path if path.startswith("/") else "/" + path
        return ReadyProbe(http_url=f"{scheme}://{host}:{opts.get('port')}{path}")


class WorkerBackend(Backend):
    """Base of task workers: uniform worker options."""

    kind: ClassVar[str] = "worker"
    catalog: ClassVar[Mapping[str, Option]] = WORKER_OPTIONS
    capabilities: ClassVar[frozenset[str]] = frozenset({"tasks"})


def option_names(options: Sequence[Option]) -> list[str]:
    return [o.name for o in options]
