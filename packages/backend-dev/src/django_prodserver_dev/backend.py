"""Django's runserver family as backends of kind ``dev``: runserver, runserver_plus, daphne's runserver.

Launch: exec of ``python -m django <command>`` while the server's own reloader is on (its parent
process handles SIGTERM and must re-run itself anyway); in-process with a SIGTERM handler when
``reload`` is off, because ``runserver --noreload`` installs none and would ignore SIGTERM as PID 1.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, ClassVar

from django_prodserver.api import (
    WEB_OPTIONS,
    Capability,
    ConfigError,
    FlagSpec,
    Kind,
    LaunchContext,
    LaunchPlan,
    Option,
    OptionTable,
    ProcessConfig,
    WebBackend,
    host_port,
    parse,
    where,
)

W = WEB_OPTIONS
NAMESPACE = "prodserver_dev"


def read_addrport(text: str) -> dict[str, str]:
    """runserver's positional ``[addr:]port`` (``8001``, ``0.0.0.0:8001``, ``[::1]:8001``); a bare
    port binds 127.0.0.1, as runserver does."""
    host, sep, port = text.rpartition(":")
    return {"host": host.strip("[]") or "127.0.0.1", "port": port} if sep else {"host": "127.0.0.1", "port": text}


#: ``[addr:]port`` in ARGS is read back into host and port (and then it is the one that runs).
ADDRPORT = (("", read_addrport),)
HOST = W["host"].declare(
    default="127.0.0.1",
    native="[addr]:port",
    reads=ADDRPORT,
    reason="a development server listens on loopback unless told otherwise",
)
PORT = W["port"].declare(native="[addr]:port", reads=ADDRPORT)
RELOAD = Option(
    "reload",
    "bool",
    "Restart the server when code changes (the server's own reloader).",
    default=True,
    switch=("", "--noreload"),
    reason="the point of a development server",
)
THREADING = Option(
    "threading", "bool", "Serve each request in its own thread.", default=True, switch=("", "--nothreading")
)
STATIC = Option(
    "static",
    "bool",
    "Serve STATIC_URL from the apps' static folders (django.contrib.staticfiles; DEBUG only).",
    default=True,
    switch=("", "--nostatic"),
)
INSECURE = Option(
    "insecure", "bool", "Serve static files even with DEBUG = False.", default=False, switch=("--insecure", "")
)

_SWITCHES = frozenset(
    {"--ipv6", "--noreload", "--nothreading", "--nostatic", "--insecure", "--skip-checks", "--traceback"}
)


#: The source of a value read back from the native arguments after ``--``.
CLI_SOURCE = "command line --"


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and localhost: only this machine can connect."""
    host = host.strip("[]")
    if host in ("localhost", "ip6-localhost") or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _installed(app: str) -> bool | None:
    """Whether ``app`` is in INSTALLED_APPS, or None when Django is not set up (planning stays pure)."""
    try:
        from django.apps import apps

        if not apps.ready:
            return None
        return apps.is_installed(app)
    except Exception:
        return None


class DevBackend(WebBackend):
    """Base of development servers: kind ``dev`` (``prodserver`` refuses them), loopback by default."""

    kind: ClassVar[Kind] = "dev"
    check_namespace: ClassVar[str] = NAMESPACE
    capabilities: ClassVar[frozenset[Capability]] = frozenset({"http", "wsgi"})
    #: Whether this backend serves ``APP`` (runserver serves settings.WSGI_APPLICATION only).
    accepts_app: ClassVar[bool] = True

    def plan(self, ctx: LaunchContext) -> LaunchPlan:
        plan = super().plan(ctx)
        reload = "self" if plan.options.get("reload", True) else "off"
        return replace(plan, extras={**plan.extras, "reload": reload})

    def validate(self, opts: OptionTable, ctx: LaunchContext) -> None:
        if self.config.app and not self.accepts_app:
            raise ConfigError(
                where(self.config.name, "APP"),
                f"{self.name} serves settings.WSGI_APPLICATION and cannot serve another APP ({self.config.app!r})",
                'remove "APP", or use "uvicorn-reload" / "granian-reload", which serve any APP',
            )


class RunserverBackend(DevBackend):
    """Django's ``runserver``: threaded WSGI with Django's autoreloader; static files in DEBUG."""

    name = "runserver"
    host = "django_prodserver_dev.host:run"
    module = "django"
    accepts_app = False
    #: The management command this backend runs.
    command: ClassVar[str] = "runserver"
    #: Install a SIGTERM handler in-process when the server's reloader is off.
    needs_term_handler: ClassVar[bool] = True
    options: ClassVar[tuple[Option, ...]] = (HOST, PORT, RELOAD, THREADING, STATIC, INSECURE)
    flags: ClassVar[FlagSpec] = FlagSpec(aliases={"-6": "--ipv6", "-v": "--verbosity"}, switches=_SWITCHES)

    def validate(self, opts: OptionTable, ctx: LaunchContext) -> None:
        super().validate(opts, ctx)
        wants_static_flags = (opts.explicit("static") and not opts["static"]) or opts["insecure"]
        if wants_static_flags and _installed("django.contrib.staticfiles") is False:
            raise ConfigError(
                where(self.config.name, "OPTIONS", "static" if opts.explicit("static") else "insecure"),
                "static/insecure need django.contrib.staticfiles, which is not in INSTALLED_APPS",
                'add "django.contrib.staticfiles" to INSTALLED_APPS, or remove the option',
            )

    def build_args(self, opts: OptionTable, ctx: LaunchContext) -> list[str]:
        host = opts["host"]
        # An [addr:]port from ARGS is rendered here from the plan (core leaves it out of ARGS); one
        # after -- stays where it is (it always sets port, so port's source says so).
        native = opts.source("port") == CLI_SOURCE
        args = [self.command] if native else [self.command, host_port(host, opts["port"])]
        if ":" in host:
            args.append("--ipv6")
        # --nostatic only when asked: without django.contrib.staticfiles runserver has no such flag.
        static = ("static",) if opts.explicit("static") else ()
        args += self.native_args(opts, "reload", "threading", *static, "insecure")
        # prodserver/devserver ran the system checks before the hand-over.
        args.append("--skip-checks")
        return args

    def in_process(self, opts: OptionTable, ctx: LaunchContext) -> bool:
        return self.needs_term_handler and not opts["reload"]

    def notes(self, opts: OptionTable, ctx: LaunchContext) -> list[str]:
        notes = []
        if opts["reload"]:
            notes.append(f"{self.command} reloads itself (its reloader re-runs it as a child on code changes)")
        elif self.needs_term_handler:
            notes.append(f"{self.command} --noreload runs in-process with a SIGTERM handler (it installs none)")
        if not is_loopback(opts["host"]):
            notes.append(f"listening on {opts['host']}: other machines can reach this development server")
        notes.append("a development server: no drain on SIGTERM, not for production")
        return notes

    @classmethod
    def from_legacy(cls, config: ProcessConfig, legacy_options: Mapping[str, Any]) -> ProcessConfig:
        """Upstream 3.x ARGS were a dict of runserver settings (``addrport``, ``noreload``...):
        translate them to options; a key with no translation is an error naming it."""
        raw = config.raw.get("ARGS")
        config = super().from_legacy(config, legacy_options)
        if not isinstance(raw, Mapping):
            return config
        options = dict(config.options)
        for key, value in raw.items():
            target = _LEGACY_KEYS.get(key)
            if key == "addrport":
                text = str(value)
                host, sep, port = text.rpartition(":")
                if sep:
                    options.setdefault("host", host.strip("[]") or "127.0.0.1")
                options.setdefault("port", int(port if sep else text))
            elif key == "ipv6":
                if value:
                    options.setdefault("host", "::1")
            elif target is not None and target[0] in {o.name for o in cls.options}:
                options.setdefault(target[0], bool(value) ^ target[1])
            else:
                raise ConfigError(
                    where(config.name, "ARGS", str(key)),
                    f"the upstream {cls.name} setting {key!r} has no translation",
                    f'write native flags instead, e.g. "ARGS": ["--{key.replace("_", "-")}"], or remove it',
                )
        return replace(config, options=options, args=())


#: Upstream ARGS key -> (option, inverted).
_LEGACY_KEYS: Mapping[str, tuple[str, bool]] = {
    "noreload": ("reload", True),
    "nothreading": ("threading", True),
    "threaded": ("threading", False),
    "nostatic": ("static", True),
    "insecure": ("insecure", False),
    "nopin": ("pin", True),
}


class DevAlias(RunserverBackend):
    """``BACKEND: "dev"``: the default development server, Django's runserver."""

    name = "dev"


ALLOW_REMOTE = Option(
    "allow_remote_debugger",
    "bool",
    "Allow a non-loopback bind and --nopin although Werkzeug's debugger runs any code a visitor types.",
    default=False,
    native="(prodserver: refuses non-loopback binds and --nopin unless True)",
    support="prodserver",
    reason="the interactive debugger is remote code execution for anyone who can reach it",
)
PIN = Option(
    "pin",
    "bool",
    "Protect the debugger console with a PIN (False = --nopin; needs allow_remote_debugger).",
    default=True,
    switch=("", "--nopin"),
)
PRINT_SQL = Option("print_sql", "bool", "Print every SQL query as it runs.", default=False, switch=("--print-sql", ""))


class RunserverPlusBackend(RunserverBackend):
    """django-extensions' ``runserver_plus``: Werkzeug's server and its interactive debugger.

    Werkzeug wraps the app in its debugger whatever DEBUG says, so a bind other than loopback, or
    ``--nopin``, is refused unless ``"allow_remote_debugger": True`` (and then announced loudly)."""

    name = "runserver-plus"
    command = "runserver_plus"
    options: ClassVar[tuple[Option, ...]] = (
        HOST,
        PORT,
        RELOAD,
        THREADING,
        STATIC,
        INSECURE,
        W["tls_cert"].declare(flag="--cert-file"),
        W["tls_key"].declare(flag="--key-file"),
        PIN,
        PRINT_SQL,
        ALLOW_REMOTE,
    )
    flags: ClassVar[FlagSpec] = FlagSpec(
        aliases={"-6": "--ipv6", "-v": "--verbosity", "--cert": "--cert-file"},
        switches=_SWITCHES
        | {"--nopin", "--print-sql", "--print-sql-location", "--pdb", "--ipdb", "--pm", "--threaded", "--browser"}
        | {"--keep-meta-shutdown"},
    )

    def validate(self, opts: OptionTable, ctx: LaunchContext) -> None:
        super().validate(opts, ctx)
        if _installed("django_extensions") is False:
            raise ConfigError(
                where(self.config.name, "BACKEND"),
                f"{self.name} runs django-extensions' runserver_plus, and 'django_extensions' is not in INSTALLED_APPS",
                'pip install "django-prodserver-dev[plus]" and add "django_extensions" to INSTALLED_APPS',
            )

    def build_args(self, opts: OptionTable, ctx: LaunchContext) -> list[str]:
        return super().build_args(opts, ctx) + self.native_args(opts, "pin", "print_sql", "tls_cert", "tls_key")

    def plan(self, ctx: LaunchContext) -> LaunchPlan:
        plan = super().plan(ctx)
        if not plan.options["allow_remote_debugger"]:
            self._refuse_exposed_debugger(plan)
        return plan

    def _refuse_exposed_debugger(self, plan: LaunchPlan) -> None:
        """Look at the final argv (settings, ARGS and ``--`` included), not only at OPTIONS."""
        fix = 'or set "allow_remote_debugger": True in OPTIONS if every machine that can reach it is yours'
        positionals = [a.tokens[0] for a in parse(plan.args[1:], self.flags) if a.flag is None]
        for bind in positionals:
            host = bind.rpartition(":")[0] if ":" in bind else "127.0.0.1"
            if not is_loopback(host or "127.0.0.1"):
                raise ConfigError(
                    where(self.config.name, "OPTIONS", "host"),
                    f"runserver_plus would serve Werkzeug's interactive debugger (it runs any Python code a "
                    f"visitor types) on {bind}, which is not a loopback address",
                    f'bind "127.0.0.1", {fix}',
                )
        if "--nopin" in plan.args:
            raise ConfigError(
                where(self.config.name, "OPTIONS", "pin"),
                "--nopin would open Werkzeug's debugger console without a PIN",
                f'remove "pin": False (or --nopin from ARGS), {fix}',
            )

    def notes(self, opts: OptionTable, ctx: LaunchContext) -> list[str]:
        notes = super().notes(opts, ctx)
        notes.append("Werkzeug's interactive debugger is always on: anyone who can reach it can run code")
        if opts["allow_remote_debugger"] and (not is_loopback(opts["host"]) or not opts["pin"]):
            notes.append(
                "WARNING: allow_remote_debugger is True and the debugger is exposed "
                f"(host {opts['host']}, PIN {'on' if opts['pin'] else 'OFF'}): remote code execution for anyone "
                "who reaches it"
            )
        return notes


class WerkzeugBackend(RunserverPlusBackend):
    """Upstream 3.x ``dev.werkzeug.WerkzeugRunserver``: served here by runserver_plus (same Werkzeug
    server and debugger), so it needs django-extensions in INSTALLED_APPS."""

    name = "werkzeug"


class DaphneRunserverBackend(RunserverBackend):
    """Daphne's ``runserver`` (``"daphne"`` first in INSTALLED_APPS): ASGI and websockets with
    Django's reloader. Daphne installs its own SIGTERM handler, so no in-process launch is needed."""

    name = "daphne-runserver"
    needs_term_handler = False
    capabilities: ClassVar[frozenset[Capability]] = frozenset({"http", "asgi", "websockets"})

    def validate(self, opts: OptionTable, ctx: LaunchContext) -> None:
        super().validate(opts, ctx)
        if _installed("daphne") is False:
            raise ConfigError(
                where(self.config.name, "BACKEND"),
                "daphne-runserver needs daphne's runserver, and 'daphne' is not in INSTALLED_APPS",
                'add "daphne" as the first entry of INSTALLED_APPS and set ASGI_APPLICATION',
            )
        if not ctx.asgi_application:
            raise ConfigError(
                where(self.config.name, "BACKEND"),
                "daphne-runserver serves settings.ASGI_APPLICATION, which is not set",
                'set ASGI_APPLICATION = "mysite.asgi.application"',
            )
