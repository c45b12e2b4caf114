"""Flower: ``python -m celery -A APP flower --address=... --port=...``, on loopback unless told otherwise.

Launch: in-process, celery's CLI on the plan's argv, after the same bounded broker check as the
celery worker. Flower ignores options it does not know, so prodserver checks every native
option against flower's own.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import ClassVar

from django_prodserver.api import (
    WEB_OPTIONS,
    Backend,
    ConfigError,
    FlagSpec,
    LaunchContext,
    LaunchPlan,
    Option,
    OptionTable,
    ReadyProbe,
    host_port,
    parse,
    where,
)
from django_prodserver_celery import BROKER_CHECK, CELERY_AMBIENT_ENV, GLOBAL_ALIASES, CeleryCLI, cli_flags

W = WEB_OPTIONS

#: flower 2.2's options (flower/options.py) and tornado's logging ones; bool ones may stand alone.
FLOWER_OPTIONS: Mapping[str, bool] = {
    **dict.fromkeys(
        "address auth auth-provider basic-auth broker-api ca-certs certfile conf cookie-secret db format-task "
        "inspect-timeout keyfile log-file-max-size log-file-num-backups log-file-prefix log-rotate-interval "
        "log-rotate-mode log-rotate-when logging max-tasks max-workers oauth2-key oauth2-redirect-uri "
        "oauth2-secret port purge-offline-workers state-save-interval task-runtime-metric-buckets tasks-columns "
        "unix-socket url-prefix".split(),
        False,
    ),
    **dict.fromkeys(
        "auto-refresh debug enable-events help log-to-stderr natural-time persistent read-only xheaders".split(), True
    ),
}
#: Variables flower reads by name, beside ``FLOWER_<OPTION>`` (flower 2.2's api, views and auth).
DIRECT_ENV = frozenset(
    {
        "FLOWER_UNAUTHENTICATED_API",
        "FLOWER_GITLAB_AUTH_ALLOWED_GROUPS",
        "FLOWER_GITLAB_MIN_ACCESS_LEVEL",
        "FLOWER_OAUTH2_OKTA_BASE_URL",
    }
)
AUTH_OPTIONS = frozenset({"--basic-auth", "--auth", "--auth-provider", "--oauth2-key"})
AUTH_ENV = ("FLOWER_BASIC_AUTH", "FLOWER_AUTH", "FLOWER_AUTH_PROVIDER", "FLOWER_OAUTH2_KEY")


def _flower_flags() -> FlagSpec:
    aliases = {}
    for name in FLOWER_OPTIONS:
        aliases[f"--{name}"] = f"--{name}"
        aliases[f"--{name.replace('-', '_')}"] = f"--{name}"
    switches = frozenset(f"--{name}" for name, switch in FLOWER_OPTIONS.items() if switch)
    return cli_flags(aliases, switches)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class Flower(CeleryCLI, Backend):
    """The Flower monitor: binds 127.0.0.1 by default and warns loudly when exposed without auth."""

    name = "flower"
    kind = "monitor"
    subcommand = "flower"
    host = "django_prodserver_flower.host:run"
    catalog = WEB_OPTIONS
    check_namespace = "prodserver_flower"
    ambient_env = (*CELERY_AMBIENT_ENV, "FLOWER_")
    flags: ClassVar[FlagSpec] = _flower_flags()

    options: ClassVar[tuple[Option, ...]] = (
        W["host"].declare(
            flag="--address={}",
            native="--address=HOST",
            default="127.0.0.1",
            reason="flower shows task arguments and can revoke tasks: loopback unless told (flower's own "
            "default is every interface)",
        ),
        W["port"].declare(flag="--port={}", default=5555, env=(), reason="flower's port; PORT belongs to the web"),
        W["socket"].declare(flag="--unix-socket={}", native="--unix-socket=PATH"),
        W["tls_cert"].declare(flag="--certfile={}", native="--certfile=PATH"),
        W["tls_key"].declare(flag="--keyfile={}", native="--keyfile=PATH"),
        W["log_level"].declare(flag="--logging={}", native="--logging=LEVEL"),
        Option(
            "url_prefix",
            "str",
            "Serve under this path prefix, e.g. 'flower'.",
            flag="--url-prefix={}",
            native="--url-prefix=PREFIX",
        ),
        Option(
            "config_file",
            "path",
            "A flowerconfig.py to load. By default none is read, not even ./flowerconfig.py.",
            flag="--conf={}",
            native="--conf=PATH",
            reason="a stray config file in the cwd must not change production silently",
        ),
        BROKER_CHECK,
    )

    def validate(self, opts: OptionTable, ctx: LaunchContext) -> None:
        self.celery_app()  # tls_cert/tls_key and socket/port pairs: checked by core from the declarations
        check_native(self.config.args, where(self.config.name, "ARGS"))
        check_native(ctx.native_args, "native arguments after --")

    def build_args(self, opts: OptionTable, ctx: LaunchContext) -> list[str]:
        args = self.global_args()
        args += self.native_args(opts, "socket") if opts["socket"] else self.native_args(opts, "host", "port")
        if not opts["config_file"]:
            opts = opts.with_value("config_file", os.devnull, "default")  # not ./flowerconfig.py
        return args + self.native_args(opts, "log_level", "config_file", "tls_cert", "tls_key", "url_prefix")

    def reads_env(self, prefix: str, name: str) -> bool:
        """flower reads ``FLOWER_<OPTION>`` for its own options only (``FLOWER_HOST`` is nothing
        to it: the option is ``address``), and a few variables by name."""
        option = name[len(prefix) :].lower().replace("_", "-")
        return prefix != "FLOWER_" or option in FLOWER_OPTIONS or name in DIRECT_ENV

    def plan(self, ctx: LaunchContext) -> LaunchPlan:
        plan = super().plan(ctx)
        values = final_values(plan.args, self.flags)
        notes = list(plan.notes)
        address = values.get("--address")
        exposed = "--unix-socket" not in values and address is not None and not is_loopback(address)
        env = {**ctx.environ, **self.config.env}
        authed = any(flag in values for flag in AUTH_OPTIONS) or any(env.get(name) for name in AUTH_ENV)
        if exposed and not authed:
            shown = address or "every interface"
            notes.insert(
                0,
                f"WARNING: flower listens on {shown} without authentication: anyone who can reach port "
                f"{values.get('--port', '5555')} sees task arguments and can revoke or kill tasks. Set "
                "FLOWER_BASIC_AUTH=user:password in the environment (or --auth/--auth-provider), or keep "
                "host 127.0.0.1 behind an authenticating proxy",
            )
        prefix = values.get("--url-prefix", "").strip("/")
        probe = plan.ready
        if "--unix-socket" not in values:
            host = "127.0.0.1" if not address or address in ("0.0.0.0", "::") else address
            path = f"/{prefix}/healthcheck" if prefix else "/healthcheck"
            probe = ReadyProbe(http_url=f"http://{host_port(host, values.get('--port', '5555'))}{path}")
        return replace(plan, notes=tuple(notes), ready=probe)

    def notes(self, opts: OptionTable, ctx: LaunchContext) -> list[str]:
        return [*self.preflight_notes(opts), "SIGTERM: flower exits at once (nothing to drain)"]


def final_values(args: Sequence[str], spec: FlagSpec) -> dict[str, str]:
    """The last value of every ``--option=value`` (a bare bool flag counts as "True")."""
    values: dict[str, str] = {}
    for arg in parse(args, spec):
        if arg.flag is not None:
            token = arg.tokens[-1]
            values[arg.flag] = token.split("=", 1)[1] if "=" in token and len(arg.tokens) == 1 else "True"
    return values


def check_native(args: Iterable[str], source: str) -> None:
    """Refuse what flower would drop silently: unknown options, positionals, ``--opt value`` spellings."""
    celery_globals = set(GLOBAL_ALIASES)
    tokens = list(args)
    for arg in parse(tokens, _flower_flags()):
        first = arg.tokens[0]
        name = first.split("=", 1)[0]
        if arg.flag is None:
            raise ConfigError(source, f"flower takes no positional argument, found {first!r}", "remove it")
        if name in celery_globals:
            continue
        option = name.lstrip("-")
        if not name.startswith("--") or option.replace("_", "-") not in FLOWER_OPTIONS:
            close = difflib.get_close_matches(option.replace("_", "-"), list(FLOWER_OPTIONS), n=1)
            hint = f"did you mean --{close[0]}? " if close else ""
            raise ConfigError(
                source,
                f"flower has no option {name!r} (flower would ignore it and start anyway)",
                f"{hint}see `python -m celery flower --help` for flower's options",
                check_id="prodserver_flower.E001",
            )
        if "=" not in first and not FLOWER_OPTIONS[option.replace("_", "-")]:
            value = f" {arg.tokens[1]}" if len(arg.tokens) > 1 else ""
            raise ConfigError(
                source,
                f"flower reads {name!r} only as {name}=VALUE, found {(first + value)!r}",
                f"write {name}=VALUE (in ARGS: {{{option!r}: VALUE}})",
                check_id="prodserver_flower.E001",
            )
