"""Where the ops endpoint listens: ``settings.PRODSERVER_OPS`` or ``PRODSERVER_OPS_PORT``.

Off unless configured. The environment wins over settings (a platform sets the port), and
``PRODSERVER_OPS_HOST`` defaults to loopback so nothing is exposed by accident.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django_prodserver.errors import ConfigError

SETTING = "PRODSERVER_OPS"
PORT_ENV = "PRODSERVER_OPS_PORT"
HOST_ENV = "PRODSERVER_OPS_HOST"
DEFAULT_HOST = "127.0.0.1"
#: Set in every child of a supervisor serving the endpoint: the child must not start another
#: (here, not in ops.runtime, so a start without the endpoint need not import the runtime).
CHILD_ENV = "PRODSERVER_OPS_CHILD"
#: Keys ``PRODSERVER_OPS`` may carry, with what each is for (errors list them).
KEYS: Mapping[str, str] = {
    "HOST": "interface the ops endpoint binds (default 127.0.0.1)",
    "PORT": "TCP port of the ops endpoint (required to turn it on)",
    "STOPPED_LIMIT": "seconds a child may stay stopped (SIGSTOP) before /livez answers 503 (default 10)",
    "METRICS": "False turns /metrics and the request-metrics middleware off (default True)",
}
DEFAULT_STOPPED_LIMIT = 10.0
_CHECK_ID = "prodserver.E010"


@dataclass(frozen=True)
class OpsConfig:
    """The ops endpoint's bind address."""

    host: str
    port: int
    #: Where the port came from, as the user would fix it (errors name it).
    source: str = f"settings.{SETTING}['PORT']"
    stopped_limit: float = DEFAULT_STOPPED_LIMIT
    metrics: bool = True

    @property
    def url(self) -> str:
        """Base URL a local client (probe command, exporters) uses to reach the endpoint."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "", "*") else self.host
        from django_prodserver.ops.address import host_port

        return f"http://{host_port('::1' if host == '::' else host, self.port)}"

    @property
    def public(self) -> bool:
        """True when it binds an interface other than loopback."""
        return not (self.host.startswith("127.") or self.host in ("localhost", "::1"))


def _port(value: Any, where: str, fix: str) -> int:
    if isinstance(value, bool):
        value = None
    try:
        port = int(str(value).strip())
    except (TypeError, ValueError):
        raise ConfigError(where, f"expected a TCP port number, found {value!r}", fix, check_id=_CHECK_ID) from None
    if not 0 < port < 65536:
        raise ConfigError(where, f"port {port} is out of range 1-65535", fix, check_id=_CHECK_ID)
    return port


def load_ops_config(settings: Any = None, environ: Mapping[str, str] | None = None) -> OpsConfig | None:
    """The configured ops endpoint, or None when it is off. Raises ConfigError naming the key."""
    env = os.environ if environ is None else environ
    if settings is None:
        from django.conf import settings as django_settings

        settings = django_settings
    raw = getattr(settings, SETTING, None)
    host: str | None = None
    port: int | None = None
    source = f"settings.{SETTING}['PORT']"
    stopped_limit = DEFAULT_STOPPED_LIMIT
    metrics = True
    if raw is not None:
        if not isinstance(raw, Mapping):
            raise ConfigError(
                SETTING,
                f"expected a dict, found {type(raw).__name__}",
                f'write {SETTING} = {{"HOST": "0.0.0.0", "PORT": 9191}}',
                check_id=_CHECK_ID,
            )
        unknown = [k for k in raw if k not in KEYS]
        if unknown:
            raise ConfigError(
                f"{SETTING}[{unknown[0]!r}]",
                f"unknown key {unknown[0]!r}",
                f"allowed keys are {', '.join(KEYS)}",
                check_id=_CHECK_ID,
            )
        if "PORT" not in raw:
            raise ConfigError(SETTING, "has no 'PORT'", f'write {SETTING} = {{"PORT": 9191}}', check_id=_CHECK_ID)
        port = _port(raw["PORT"], f"{SETTING}['PORT']", f'write {SETTING} = {{"PORT": 9191}}')
        if "HOST" in raw:
            if not isinstance(raw["HOST"], str) or not raw["HOST"]:
                raise ConfigError(
                    f"{SETTING}['HOST']",
                    f"expected an interface address string, found {raw['HOST']!r}",
                    'write "127.0.0.1" (local probes only) or "0.0.0.0" (probes from the network)',
                    check_id=_CHECK_ID,
                )
            host = raw["HOST"]
        if "STOPPED_LIMIT" in raw:
            value = raw["STOPPED_LIMIT"]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise ConfigError(
                    f"{SETTING}['STOPPED_LIMIT']",
                    f"expected a number of seconds > 0, found {value!r}",
                    f'write {SETTING} = {{"PORT": 9191, "STOPPED_LIMIT": 10}}',
                    check_id=_CHECK_ID,
                )
            stopped_limit = float(value)
        if "METRICS" in raw:
            if not isinstance(raw["METRICS"], bool):
                raise ConfigError(
                    f"{SETTING}['METRICS']",
                    f"expected True or False, found {raw['METRICS']!r}",
                    "write True or False (no quotes)",
                    check_id=_CHECK_ID,
                )
            metrics = raw["METRICS"]
    if env.get(PORT_ENV, "").strip():
        port = _port(env[PORT_ENV], f"environment variable {PORT_ENV}", f"export {PORT_ENV}=9191")
        source = f"environment variable {PORT_ENV}"
    if env.get(HOST_ENV, "").strip():
        host = env[HOST_ENV].strip()
    if port is None:
        return None
    return OpsConfig(host=host or DEFAULT_HOST, port=port, source=source, stopped_limit=stopped_limit, metrics=metrics)


def describe(config: OpsConfig | None) -> str:
    """The line ``--dry-run`` prints about the ops endpoint."""
    if config is None:
        return f"ops endpoint: off (set {PORT_ENV} or {SETTING} = {{'PORT': 9191}} to turn it on)"
    paths = "/livez /readyz /readyz/<name> /startupz" + (" /metrics" if config.metrics else "")
    return (
        f"ops endpoint: http://{config.host}:{config.port} ({config.source}), served by the prodserver "
        f"supervisor: {paths}; /livez 503 after a child is stopped {config.stopped_limit:g}s"
    )
