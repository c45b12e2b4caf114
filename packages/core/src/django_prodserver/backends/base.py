"""The backend protocol: a class per process kind that turns config into a LaunchPlan."""

from __future__ import annotations

import os
import signal
import sys
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, Literal, NoReturn, get_args

from django_prodserver.backends.argv import FlagSpec, merge
from django_prodserver.backends.hostplan import HOST_PLAN_ENV, HostPlan, host_flags, without_flags
from django_prodserver.backends.native import ARGS_SOURCE, CLI_SOURCE, Adopted, adopt_native, read_native
from django_prodserver.backends.options import (
    WEB_OPTIONS,
    WORKER_OPTIONS,
    Option,
    check_pairs,
    resolve_options,
)
from django_prodserver.errors import ConfigError
from django_prodserver.plan import LaunchPlan, OptionTable, QueueDepth, ReadyProbe
from django_prodserver.served import deadline, websockets
from django_prodserver.settings.config import ProcessConfig, where

#: What a process is: how the supervisor, the ops endpoint and exports treat it.
Kind = Literal["web", "worker", "scheduler", "monitor", "oneshot", "dev"]
KINDS: tuple[Kind, ...] = get_args(Kind)
#: What a backend honours, as the contract suite reads it to select and judge its tests:
#: ``http`` (a ready_path probe), ``workers`` (the workers test), and the contract options
#: ``wsgi``/``asgi`` (interface), ``tls``, ``http2``, ``websockets``: with the capability the
#: option plans, without it it is refused (``testing.static``).
Capability = Literal["http", "wsgi", "asgi", "tls", "http2", "websockets", "workers"]
CAPABILITIES: tuple[Capability, ...] = get_args(Capability)


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
    #: The other processes started together with this one (empty: it runs alone, no supervisor).
    companions: tuple[str, ...] = ()

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


def _log_env(process: str, opts: OptionTable, ctx: LaunchContext) -> dict[str, str]:
    """What the child needs for ``log_format``: the format, its process name, the header."""
    from django_prodserver import logs

    fmt = opts.get("log_format")
    if fmt == "json":
        env = {logs.FORMAT_ENV: "json", logs.PROCESS_ENV: process}
        header = _request_id_header(ctx)
        if header:
            env[logs.REQUEST_ID_HEADER_ENV] = header
        return env
    if fmt == "text" and ctx.environ.get(logs.FORMAT_ENV) not in (None, "text"):
        return {logs.FORMAT_ENV: "text"}  # OPTIONS said text: the inherited variable must not win
    return {}


def _request_id_header(ctx: LaunchContext) -> str:
    """``PRODSERVER_REQUEST_ID_HEADER`` from the environment, else from settings."""
    from django_prodserver import logs

    value = ctx.environ.get(logs.REQUEST_ID_HEADER_ENV)
    if value:
        return value
    try:
        from django.conf import settings

        configured = getattr(settings, logs.REQUEST_ID_HEADER_ENV, "") if settings.configured else ""
    except Exception:
        configured = ""
    return configured if isinstance(configured, str) else ""


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
    #: ``web``, ``worker``, ``scheduler``, ``monitor``, ``oneshot`` or ``dev`` (:data:`Kind`).
    kind: ClassVar[Kind] = "web"
    #: What the contract suite selects and judges tests by (:data:`Capability`).
    capabilities: ClassVar[frozenset[Capability]] = frozenset()
    #: Options this backend accepts (uniform ones adopted from the catalog, plus its own).
    options: ClassVar[tuple[Option, ...]] = ()
    #: The uniform options of this kind; any of these not declared above is refused clearly.
    catalog: ClassVar[Mapping[str, Option]] = {}
    #: Why the uniform contract options this backend does not declare are refused
    #: (``{"http2": "uvicorn speaks HTTP/1.1 only"}``); for an undeclared tuning option the
    #: text goes into the start warning instead (tuning options are never an error).
    refused: ClassVar[Mapping[str, str]] = {}
    #: The native CLI's shape, so native args replace configured ones instead of piling up.
    flags: ClassVar[FlagSpec] = FlagSpec()
    #: ``python -m <module>`` runs the native CLI.
    module: ClassVar[str] = ""
    #: Environment prefixes/names that silently change the server (reported by --dry-run).
    ambient_env: ClassVar[tuple[str, ...]] = ()
    #: The exact names the server reads under those prefixes, where known (None: any name).
    env_names: ClassVar[frozenset[str] | None] = None
    #: How to stop it gracefully, and whether the signal may reach the whole process group.
    stop_signal: ClassVar[int] = signal.SIGTERM
    signal_group: ClassVar[bool] = False
    #: Namespace for this backend's check ids, e.g. ``prodserver_gunicorn``.
    check_namespace: ClassVar[str] = "prodserver"
    #: ``"exec"``: the plan's argv replaces this process; ``"in-process"``: :attr:`host` runs in it.
    launch: ClassVar[Literal["exec", "in-process"]] = "exec"
    #: The in-process entry, ``"package.host:run"``, called as ``run(plan)`` (never returns).
    host: ClassVar[str] = ""
    #: Options :attr:`host` acts on itself (drain, copies): their values reach it in the host
    #: plan (``PRODSERVER_HOST_PLAN``, see :mod:`.hostplan`), their native spellings in ARGS or
    #: after ``--`` are read into the plan and left out of the argv the server parses.
    host_options: ClassVar[tuple[str, ...]] = ()
    #: True when the host serves on the listening socket a supervisor hands over
    #: (``api.listen_socket()``) instead of binding: the supervisor then owns the address, and a
    #: reload starts the next generation on the same socket before the old one stops.
    inherits_listener: ClassVar[bool] = False

    def __init__(self, config: ProcessConfig) -> None:
        self.config = config

    # -- planning (pure) ---------------------------------------------------------------

    @classmethod
    def declared_options(cls) -> tuple[Option, ...]:
        """``options`` plus the uniform options prodserver itself reads, which every backend of
        its kind has without declaring them: ``log_format``, ``max_lifetime`` and ``max_memory`` (web
        and worker), ``ready_path`` and ``warmup_path`` (web)."""
        recycling = ("max_lifetime", "max_memory")
        implied = {
            "web": ("log_format", "ready_path", "warmup_path", *recycling),
            "worker": ("log_format", *recycling),
        }.get(cls.kind, ())
        declared = {o.name for o in cls.options}
        extra = [cls.catalog[n] for n in implied if n in cls.catalog and n not in declared]
        return (*cls.options, *extra) if extra else cls.options

    def resolve(self, ctx: LaunchContext) -> OptionTable:
        """Resolve this process' options with full precedence and provenance."""
        table = resolve_options(
            self.declared_options(),
            self.catalog,
            self.config.options,
            ctx.overrides,
            ctx.environ,
            where=where(self.config.name, "OPTIONS"),
            backend=self.name or type(self).__name__,
            refused=self.refused,
            tuning_warns=self.kind == "web",
        )
        if table.get("log_format") == "json":
            from django_prodserver.logs.formatter import require_library

            require_library(self.option_key("log_format"))
        return table

    def adopt_native(self, opts: OptionTable, ctx: LaunchContext) -> Adopted:
        """Write native flags given in ARGS or after ``--`` back into the option table (see
        :mod:`.native`), so ``--dry-run``, the checks, the banner and in-process hosts see the
        value the server will use; ARGS that contradict OPTIONS are an error naming both."""
        return adopt_native(
            opts,
            self.options,
            self.flags,
            self.config.args,
            ctx.native_args,
            args_where=where(self.config.name, "ARGS"),
            options_where=self.option_key,
        )

    def key_of(self, option: str, source: str) -> str:
        """Where the user wrote the value of ``option`` that came from ``source``, for an error."""
        if source.startswith(ARGS_SOURCE):
            return where(self.config.name, "ARGS")
        if source.startswith(CLI_SOURCE):
            return "native arguments after --"
        if source.startswith("command line --set"):
            return f"--set {option}"
        if source.startswith("env "):
            return f"environment variable {source[4:]}"
        return self.option_key(option)

    def option_key(self, option: str) -> str:
        """Where ``option`` is set in settings (``PRODUCTION_PROCESSES['web']['OPTIONS']['workers']``)."""
        return where(self.config.name, "OPTIONS", option)

    def native_args(self, opts: OptionTable, *names: str) -> list[str]:
        """The tokens core renders from the declarations (``flag``/``switch``) of ``names``,
        in the order given: build_args keeps only what is computed."""
        declared = {o.name: o for o in self.options}
        out: list[str] = []
        for name in names:
            out += declared[name].render(opts.get(name))
        return out

    def warnings(self, opts: OptionTable, ctx: LaunchContext) -> list[str]:
        """One line per tuning option set but not honoured as written: approximated or
        ignored (printed at start and by ``--dry-run``; never an error)."""
        label = self.name or type(self).__name__
        out: list[str] = []
        for opt in self.options:
            if opt.support in ("approximated", "ignored") and opts.explicit(opt.name):
                value = opts.get(opt.name)
                if _off(opt.name, value):
                    continue
                verb = "approximates" if opt.support == "approximated" else "ignores"
                out.append(f"{label} {verb} {opt.name}={value!r}: {opt.instead}")
        for name in opts.ignored:
            value = opts.get(name)
            if _off(name, value):
                continue
            why = self.refused.get(name) or f"{label} has no equivalent"
            out.append(f"{label} ignores {name}={value!r}: {why}")
        return out

    def validate(self, opts: OptionTable, ctx: LaunchContext) -> None:
        """Refuse combinations the server cannot honour (raise :class:`ConfigError`).
        Pairs declared on the options (``requires``/``conflicts``) are checked by core first."""

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
            from django_prodserver.served import layers as serving

            env[serving.APP_ENV] = self.user_app_path(opts, ctx)
            env[serving.LAYERS_ENV] = ",".join(layers)
            if deadline.LAYER in layers:
                env[deadline.TIMEOUT_ENV] = str(opts["timeout"])
        env.update(_log_env(self.config.name, opts, ctx))
        env.update(self.config.env)
        if self.host_options:
            env[HOST_PLAN_ENV] = self.host_plan(opts, ctx).dumps()
        return env

    def host_plan(self, opts: OptionTable, ctx: LaunchContext) -> HostPlan:
        """What :attr:`host` reads from ``PRODSERVER_HOST_PLAN``: the values of :attr:`host_options`."""
        return HostPlan.from_options(opts, self.host_options)

    def unset_env(self, opts: OptionTable, ctx: LaunchContext) -> tuple[str, ...]:
        return ()

    def unset_env_reason(self, name: str, opts: OptionTable) -> str:
        """What to do instead when ``name``, set in the environment, is removed from the server's
        (the warning ``--dry-run`` and a start print: an operator's variable never vanishes silently)."""
        return "it would change the server behind the plan; give its value in OPTIONS or ARGS"

    def ambient(self, environ: Mapping[str, str]) -> dict[str, str]:
        """The variables in ``environ`` the server reads (``--dry-run`` lists them as applying):
        the names in :attr:`ambient_env`, and the names under its prefixes (``"UVICORN_"``)
        that :meth:`reads_env` accepts."""
        return {
            k: v
            for k, v in environ.items()
            if any(k == p or (p.endswith("_") and k.startswith(p) and self.reads_env(p, k)) for p in self.ambient_env)
        }

    def reads_env(self, prefix: str, name: str) -> bool:
        """True when the server reads the variable ``name`` under ``prefix``: every name, unless
        :attr:`env_names` lists those it reads (a click CLI's, ``argv.click_env_names``); a
        backend whose server reads names of another shape narrows this itself (flower)."""
        return self.env_names is None or name in self.env_names

    def listen(self, opts: OptionTable) -> str:
        """Where the server listens, as the banner prints it (``http://0.0.0.0:8111/``,
        ``unix:/run/web.sock``), from the plan's own host/port/socket; empty when it binds nothing."""
        if opts.get("socket"):
            return f"unix:{opts['socket']}"
        port = opts.get("port")
        if port is None or "host" not in opts.values:
            return ""
        from django_prodserver.ops.address import host_port

        scheme = "https" if opts.get("tls_cert") else "http"
        return f"{scheme}://{host_port(opts.get('host') or '0.0.0.0', port)}/"

    def listen_why(self, opts: OptionTable, ctx: LaunchContext) -> str:
        """Why :meth:`listen` is where it is (``from PORT``; the loopback default and how to
        change it), printed beside it by the banner and ``--dry-run``."""
        from django_prodserver.backends.bind import bind_reason

        return bind_reason(opts, ctx.environ) if self.listen(opts) else ""

    def graceful_timeout(self, opts: OptionTable) -> float:
        value = opts.get("graceful_timeout")
        delay = opts.get("drain_delay") or 0.0
        return float(value if value is not None else 30.0) + float(delay)

    def ready_probe(self, opts: OptionTable, ctx: LaunchContext) -> ReadyProbe:
        return ReadyProbe()

    def queue_depth(self, opts: OptionTable, ctx: LaunchContext) -> QueueDepth | None:
        """How the ops endpoint reads this worker's waiting tasks (``prodserver_queue_depth``);
        None: not reported. A worker backend returns ``QueueDepth("pkg._depth:reader", queues)``."""
        return None

    def in_process(self, opts: OptionTable, ctx: LaunchContext) -> bool:
        """True when :attr:`host` runs the server in this process instead of an exec; from
        :attr:`launch` (override only where options choose, e.g. a reloader needs an exec)."""
        return self.launch == "in-process"

    def request_layers(self, opts: OptionTable, ctx: LaunchContext) -> list[str]:
        """Layer factories (``module:callable``) prodserver wraps this web process' app in,
        innermost first (see :mod:`django_prodserver.served.layers`). Empty: the app runs as is."""
        if self.kind != "web" or "http" not in self.capabilities:
            return []
        layers: list[str] = []
        # The profiler is innermost: it sees the app alone, in the thread that runs it.
        if _profiling_on():
            from django_prodserver.served import profiling

            layers.append(profiling.LAYER)
        # Innermost first: the deadline's 504 is what metrics and the access line record, and
        # the request id (outermost) is set for everything below it.
        if websockets.refusing(opts):
            layers.append(websockets.LAYER)
        if self.prodserver_deadline(opts):
            layers.append(deadline.LAYER)
        from django_prodserver.ops.config import load_ops_config

        try:
            ops = load_ops_config(environ=ctx.environ)
        except ConfigError:  # reported once by the ops check (prodserver.E010); nothing starts
            ops = None
        if ops is not None and ops.metrics and _has_prometheus_client():
            layers.append("django_prodserver.ops.middleware:metrics_layer")
        if opts.get("log_format") == "json":
            if opts.get("access_log", True):
                layers.append("django_prodserver.logs.access:access_layer")
            layers.append("django_prodserver.logs.requestid:request_id_layer")
        return layers

    def prodserver_deadline(self, opts: OptionTable) -> bool:
        """True when prodserver provides the request deadline (``timeout``): the server has
        none of its own (its declaration says ``support="prodserver"``) and it is not 0."""
        declared = next((o for o in self.options if o.name == "timeout"), None)
        return declared is not None and declared.support == "prodserver" and bool(opts.get("timeout"))

    def app_path(self, opts: OptionTable, ctx: LaunchContext) -> str:
        """What the server loads: the user's app, or prodserver's wrapper when layers apply."""
        if self.request_layers(opts, ctx):
            from django_prodserver.served import layers as serving

            return colon_path(serving.ASGI_PATH if opts.get("interface", "wsgi") == "asgi" else serving.WSGI_PATH)
        return self.user_app_path(opts, ctx)

    def user_app_path(self, opts: OptionTable, ctx: LaunchContext) -> str:
        """``APP`` if given, else Django's WSGI_APPLICATION / ASGI_APPLICATION per interface; for
        ASGI without ASGI_APPLICATION, the ``asgi`` module beside WSGI_APPLICATION's (a stock project)."""
        if self.config.app:
            return colon_path(self.config.app)
        interface = opts.get("interface", "wsgi")
        setting = "ASGI_APPLICATION" if interface == "asgi" else "WSGI_APPLICATION"
        value = ctx.asgi_application if interface == "asgi" else ctx.wsgi_application
        if not value:
            value = self.discovered_asgi_app(opts, ctx)
        if not value:
            raise ConfigError(
                where(self.config.name, "APP"),
                f"no APP given and settings.{setting} is not set",
                f'set {setting} = "mysite.{interface}.application" or give "APP"',
            )
        return colon_path(value)

    def discovered_asgi_app(self, opts: OptionTable, ctx: LaunchContext) -> str | None:
        """The stock project's ``mysite.asgi:application`` when ASGI is wanted and neither APP nor
        settings.ASGI_APPLICATION names one (see :mod:`.asgi_discovery`); else None."""
        if self.config.app or ctx.asgi_application or opts.get("interface") != "asgi":
            return None
        from django_prodserver.backends.asgi_discovery import asgi_beside_wsgi

        return asgi_beside_wsgi(ctx.wsgi_application, (ctx.cwd, *ctx.pythonpath))

    def app_notes(self, opts: OptionTable, ctx: LaunchContext) -> list[str]:
        """Where the served app came from, when prodserver found it rather than being told."""
        found = self.discovered_asgi_app(opts, ctx)
        if not found:
            return []
        from django_prodserver.backends.asgi_discovery import SOURCE

        return [f"ASGI app {found} from the {SOURCE}; set ASGI_APPLICATION or APP to choose another"]

    def announcements(self, opts: OptionTable, ctx: LaunchContext) -> list[str]:
        """Lines every start prints (not only ``-v 2``) about what changed without being asked
        for: a WSGI project served as ASGI (:func:`.asgi_discovery.serves_asgi_line`), and that
        requests carrying the profiling token are profiled (``PRODSERVER_PROFILE_REQUESTS``)."""
        lines: list[str] = []
        found = self.discovered_asgi_app(opts, ctx)
        if found:
            from django_prodserver.backends.asgi_discovery import serves_asgi_line

            lines.append(serves_asgi_line(self.name or type(self).__name__, found))
        if self.kind == "web" and "http" in self.capabilities and _profiling_on():
            from django_prodserver.settings.profiling import HEADER, load_profile_config

            config = load_profile_config()
            if config is not None:
                to = f"stored in {config.directory}" if config.directory else "answered with its profile"
                lines.append(
                    f"request profiling is on: a request whose {HEADER} header holds the token from "
                    f"{config.token_source} is {to} (PRODSERVER_PROFILE_REQUESTS)"
                )
        return lines

    def plan(self, ctx: LaunchContext) -> LaunchPlan:
        """Compute the launch without starting anything (also what ``--dry-run`` prints)."""
        adopted = self.adopt_native(self.resolve(ctx), ctx)
        opts = adopted.options
        label = self.name or type(self).__name__
        try:
            self.validate(opts, ctx)  # the backend's own, more specific refusals first
        except ConfigError as e:
            self._namespaced(e)
            raise
        check_pairs(self.options, opts, self.option_key, label)
        try:
            base = self.build_args(opts, ctx)
        except ConfigError as e:
            self._namespaced(e)
            raise
        args = merge(base, adopted.args, ctx.native_args, spec=self.flags)
        if self.host_options:
            args = without_flags(args, host_flags(self.declared_options(), self.host_options, self.flags), self.flags)
        ambient = self.ambient(ctx.environ)
        unset = self.unset_env(opts, ctx)
        dropped_env = [
            f"{key} is set in the environment and removed from {label}'s: {self.unset_env_reason(key, opts)}"
            for key in unset
            if key in ctx.environ
        ]
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
            native_layers=(("settings ARGS", adopted.args), ("command line", ctx.native_args)),
            in_process=(in_process := self.in_process(opts, ctx)),
            inherits_listener=self.inherits_listener and in_process,
            stop_signal=self.stop_signal,
            signal_group=self.signal_group,
            graceful_timeout=self.graceful_timeout(opts),
            ready=self.ready_probe(opts, ctx),
            queue_depth=self.queue_depth(opts, ctx),
            notes=(
                *self.notes(opts, ctx),
                *self.app_notes(opts, ctx),
                *(f"left out of ARGS: {d}" for d in adopted.dropped),
            ),
            warnings=(*self.warnings(opts, ctx), *dropped_env),
            announcements=tuple(self.announcements(opts, ctx)),
            listen=self.listen(opts),
            listen_why=self.listen_why(opts, ctx),
            ambient_env=ambient,
        )

    def _namespaced(self, error: ConfigError) -> ConfigError:
        """A web backend's own refusal gets ``<check_namespace>.E001`` (silenceable per backend);
        task workers number their own ids, which are kept."""
        if error.check_id == ConfigError.DEFAULT_ID and self.kind == "web" and self.check_namespace != "prodserver":
            error.check_id = f"{self.check_namespace}.E001"
        return error

    # -- checks ------------------------------------------------------------------------

    def check(self, ctx: LaunchContext) -> list[Any]:
        """System-check messages for this process (``manage.py check``). Default: plan it.

        Planning stops at the first mistake; when that mistake is one ``OPTIONS`` key, the
        process is planned again without it, so every wrong key is reported in one run (a
        later error is kept only when it names another key the user wrote)."""
        from django.core import checks

        messages: list[Any] = []
        backend: Backend = self
        for _ in range(len(self.config.options) + 1):
            try:
                backend.plan(ctx)
                break
            except ConfigError as e:
                if messages and not _names_option(backend.config, e.where):
                    break  # a consequence of leaving a key out, not a mistake of its own
                messages.append(checks.Error(e.problem_text, hint=e.fix or None, id=e.check_id, obj=self.config.where))
                key = _names_option(backend.config, e.where)
                if key is None:
                    break
                rest = {k: v for k, v in backend.config.options.items() if k != key}
                backend = type(self)(replace(backend.config, options=rest))
        return messages

    # -- running (the only side effect) -------------------------------------------------

    def preflight(self, plan: LaunchPlan) -> None:
        """Checks with side effects, run just before a real start (never by --dry-run or
        ``check``): e.g. is the broker reachable. Raise :class:`ConfigError` naming the setting."""

    def run_in_process(self, plan: LaunchPlan) -> NoReturn:
        """Import :attr:`host` (``module:function``) and call it with the plan; it never returns."""
        if not self.host:
            raise NotImplementedError(f"{type(self).__name__} has no in-process launch (set host)")
        import importlib

        module, _, function = self.host.partition(":")
        getattr(importlib.import_module(module), function)(plan)
        raise SystemExit(0)  # a host that returns ends the process as a clean exit

    @classmethod
    def from_legacy(cls, config: ProcessConfig, legacy_options: Mapping[str, Any]) -> ProcessConfig:
        """Adapt an upstream 2.x/3.x entry (legacy path) to this backend; default: add the
        options the old class implied, keep ARGS as native flags (as upstream passed them)."""
        if legacy_options:
            config = replace(config, options={**legacy_options, **config.options})
        cls.warn_legacy_args(config)
        return config

    @classmethod
    def warn_legacy_args(cls, config: ProcessConfig) -> None:
        """Upstream settings set host, port or workers through ARGS (``{"bind": "0.0.0.0:8111"}``):
        they keep working and the plan shows them; the deprecation warning names the OPTIONS to write."""
        try:
            found = read_native(
                cls.options, cls.flags, config.args, source=ARGS_SOURCE, where=where(config.name, "ARGS")
            )
        except ConfigError:
            return  # the plan reports the bad value, naming it
        if not found:
            return
        given = " ".join(dict.fromkeys(n.given for n in found.values()))
        options = {**config.options, **{n.option: n.value for n in found.values()}}
        spelled = ", ".join(f'"{k}": {_python(v)}' for k, v in options.items())
        warnings.warn(
            f"{where(config.name, 'ARGS')}: {given} sets uniform options the upstream 3.x way; write "
            f'"BACKEND": "{cls.name}", "OPTIONS": {{{spelled}}} and remove {given} from ARGS (it keeps '
            "working for now, and the plan shows it).",
            DeprecationWarning,
            stacklevel=3,
        )


class WebBackend(Backend):
    """Base of HTTP servers: uniform web options, refused clearly where not honoured."""

    kind: ClassVar[Kind] = "web"
    catalog: ClassVar[Mapping[str, Option]] = WEB_OPTIONS
    capabilities: ClassVar[frozenset[Capability]] = frozenset({"http", "wsgi"})

    def ready_probe(self, opts: OptionTable, ctx: LaunchContext) -> ReadyProbe:
        sock = opts.get("socket")
        if sock:
            return ReadyProbe()
        host = opts.get("host") or "127.0.0.1"
        host = "127.0.0.1" if host in ("0.0.0.0", "::", "[::]", "") else host
        scheme = "https" if opts.get("tls_cert") else "http"
        path = opts.get("ready_path") or "/"
        path = path if path.startswith("/") else "/" + path
        from django_prodserver.ops.address import host_port

        return ReadyProbe(http_url=f"{scheme}://{host_port(host, opts.get('port'))}{path}")

    def preflight(self, plan: LaunchPlan) -> None:
        """Before a real start: the host to bind must resolve (a name that does not would make
        the server fail, and be restarted, at every start)."""
        host = plan.options.get("host")
        if host and not plan.options.get("socket"):
            from django_prodserver.preflight import check_resolvable

            check_resolvable(host, self.key_of("host", plan.options.source("host")))
        from django_prodserver.served import layers as serving
        from django_prodserver.served import profiling

        if profiling.LAYER in serving.layer_paths(plan.env):
            from django_prodserver.settings.profiling import load_profile_config, prepare_directory, read_token

            config = load_profile_config()
            if config is not None:  # the token is read now: empty or missing, nothing starts
                read_token(config, {**os.environ, **plan.env})
                prepare_directory(config)


class WorkerBackend(Backend):
    """Base of task workers: uniform worker options."""

    kind: ClassVar[Kind] = "worker"
    catalog: ClassVar[Mapping[str, Option]] = WORKER_OPTIONS


def _names_option(config: ProcessConfig, key_where: str) -> str | None:
    """The ``OPTIONS`` key of ``config`` that an error's ``where`` names, if any."""
    return next((k for k in config.options if where(config.name, "OPTIONS", k) == key_where), None)


def _profiling_on() -> bool:
    """True when ``PRODSERVER_PROFILE_REQUESTS`` turns request profiling on (a bad value is
    reported by its system check, prodserver.E030, and nothing starts)."""
    from django_prodserver.settings.profiling import load_profile_config

    try:
        return load_profile_config() is not None
    except ConfigError:
        return False


def _off(name: str, value: Any) -> bool:
    """Values that ask for nothing (0, off, one thread): ignoring them changes nothing."""
    return value in (None, False, 0, "", []) or (name in ("threads", "workers") and value == 1)


def _python(value: Any) -> str:
    """A settings value as one writes it in Python, strings in double quotes (``"0.0.0.0"``)."""
    if isinstance(value, str):
        import json

        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_python(v) for v in value) + "]"
    return repr(value)


def option_names(options: Sequence[Option]) -> list[str]:
    return [o.name for o in options]
