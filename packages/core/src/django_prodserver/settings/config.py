"""Read ``settings.PRODUCTION_PROCESSES`` into typed, validated :class:`ProcessConfig` objects."""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django_prodserver.errors import ConfigError

SETTING = "PRODUCTION_PROCESSES"
#: The words after ``prodserver`` that run a subcommand (one module each in
#: ``management/subcommands``): no process may be named like one.
SUBCOMMANDS = frozenset(
    {"bench", "dump", "export", "logs", "probe", "profile", "reload", "restart", "start", "status", "stop"}
)
#: Set to 1 to let prodserver start (or export) a development backend (kind ``dev``) anyway.
ALLOW_DEV_ENV = "PRODSERVER_ALLOW_DEV"

#: Keys a process entry may carry, with what each is for (errors list them).
PROCESS_KEYS: Mapping[str, str] = {
    "BACKEND": "entry-point name (e.g. 'gunicorn') or dotted path to a backend class",
    "APP": "the application: 'mysite.wsgi:application', or a celery app path",
    "OPTIONS": "uniform options, validated per backend (workers, port, ...)",
    "ARGS": "native server flags passed through as written (dict, list or string)",
    "ENV": "extra environment variables for this process",
    "RESTART": "supervisor policy when run with other processes: 'on-failure', 'never' or a dict",
    "ONESHOT": "True for a command that runs once before the long-running processes start",
    "DEV": "overrides applied by `manage.py devserver` (BACKEND/OPTIONS/ARGS/ENV)",
}


@dataclass(frozen=True)
class ProcessConfig:
    """One validated entry of ``PRODUCTION_PROCESSES``."""

    name: str
    backend: str
    app: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    #: The entry as written, for keys owned by other layers (RESTART, ONESHOT, DEV).
    raw: Mapping[str, Any] = field(default_factory=dict)

    @property
    def where(self) -> str:
        return f"{SETTING}[{self.name!r}]"


def where(name: str, *keys: str) -> str:
    """The exact settings path of a key, as the user would write it."""
    return f"{SETTING}[{name!r}]" + "".join(f"[{k!r}]" for k in keys)


def get_processes_setting(settings: Any = None) -> Mapping[str, Any]:
    """Return the raw setting, checking only its outer shape."""
    if settings is None:
        from django.conf import settings as django_settings

        settings = django_settings
    value = getattr(settings, SETTING, None)
    if value is None:
        raise ConfigError(
            SETTING,
            "is not set",
            f'add {SETTING} = {{"web": {{"BACKEND": "gunicorn"}}}} to your settings',
            check_id="prodserver.E001",
        )
    if not isinstance(value, Mapping):
        raise ConfigError(
            SETTING,
            f"expected a dict of process name -> config, found {type(value).__name__}",
            f'write {SETTING} = {{"web": {{"BACKEND": "gunicorn"}}}}',
            check_id="prodserver.E001",
        )
    return value


def load_process(name: str, entry: Any) -> ProcessConfig:
    """Validate one entry's shape (not its options: those belong to the backend)."""
    if not isinstance(name, str) or not name or name.startswith("-"):
        raise ConfigError(SETTING, f"process names must be non-empty strings, found {name!r}", "rename it")
    if name in SUBCOMMANDS:
        raise ConfigError(
            where(name),
            f"the name {name!r} is reserved for `python manage.py prodserver {name}`",
            f"rename the process (e.g. {name + '-1'!r}); reserved: {', '.join(sorted(SUBCOMMANDS))}",
        )
    if not isinstance(entry, Mapping):
        raise ConfigError(
            where(name),
            f"expected a dict, found {type(entry).__name__}",
            f'write {where(name)} = {{"BACKEND": "gunicorn"}}',
        )
    unknown = [k for k in entry if k not in PROCESS_KEYS]
    if unknown:
        import difflib

        key = unknown[0]
        close = difflib.get_close_matches(str(key), list(PROCESS_KEYS), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ConfigError(
            where(name, str(key)),
            f"unknown key {key!r}",
            f"{hint}allowed keys are {', '.join(PROCESS_KEYS)}",
        )
    backend = entry.get("BACKEND")
    if not isinstance(backend, str) or not backend:
        raise ConfigError(
            where(name, "BACKEND"),
            "is missing" if backend is None else f"expected a string, found {backend!r}",
            'set it to a backend name such as "gunicorn" (`python manage.py prodserver --list` shows installed ones)',
        )
    app = entry.get("APP")
    if app is not None and (not isinstance(app, str) or not app):
        raise ConfigError(
            where(name, "APP"), f"expected a string, found {app!r}", 'write e.g. "mysite.wsgi:application"'
        )
    options = entry.get("OPTIONS") or {}
    if not isinstance(options, Mapping):
        raise ConfigError(
            where(name, "OPTIONS"), f"expected a dict, found {type(options).__name__}", 'write {"workers": 4}'
        )
    for key in options:
        if not isinstance(key, str):
            raise ConfigError(where(name, "OPTIONS"), f"option names must be strings, found {key!r}", "quote it")
    env = entry.get("ENV") or {}
    if not isinstance(env, Mapping):
        raise ConfigError(where(name, "ENV"), f"expected a dict, found {type(env).__name__}", 'write {"VAR": "value"}')
    for key, value in env.items():
        if not isinstance(key, str) or not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise ConfigError(
                where(name, "ENV", str(key)),
                f"environment values must be strings or numbers, found {value!r}",
                "quote the value",
            )
    args = normalise_args(entry.get("ARGS"), where(name, "ARGS"))
    from django_prodserver.settings.restart import validate_keys

    validate_keys(name, entry)  # RESTART / ONESHOT shapes (docs/several-processes.md)
    return ProcessConfig(
        name=name,
        backend=backend,
        app=app,
        options=dict(options),
        args=tuple(args),
        env={k: str(v) for k, v in env.items()},
        raw=dict(entry),
    )


def load_processes(settings: Any = None) -> dict[str, ProcessConfig]:
    """Every configured process, validated for shape, in settings order."""
    raw = get_processes_setting(settings)
    return {name: load_process(name, entry) for name, entry in raw.items()}


def normalise_args(value: Any, where: str) -> list[str]:
    """Turn an ``ARGS`` setting (upstream dict, list, or raw string) into an argv list.

    Upstream 2.x/3.x dicts become ``--key=value``; ``None`` marks a bare flag; a list value
    repeats the flag; a raw string is split like a shell would, without running one.
    """
    if value is None:
        return []
    if isinstance(value, str):
        try:
            return shlex.split(value)
        except ValueError as e:
            raise ConfigError(where, f"cannot split the ARGS string ({e})", "balance the quotes") from None
    if isinstance(value, Mapping):
        out: list[str] = []
        for key, item in value.items():
            if not isinstance(key, str):
                raise ConfigError(where, f"ARGS keys must be strings, found {key!r}", "quote the flag name")
            flag = key if key.startswith("-") else f"--{key}"
            if item is None or item is True:
                out.append(flag)
            elif item is False:
                continue
            elif isinstance(item, (list, tuple)):
                out.extend(f"{flag}={v}" for v in item)
            else:
                out.append(f"{flag}={item}")
        return out
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return list(value)
    raise ConfigError(
        where,
        f"expected a dict, a list of strings or a string, found {type(value).__name__}",
        'write e.g. {"max-requests": 500} or ["--max-requests", "500"]',
    )


def dev_allowed(environ: Mapping[str, str] | None = None) -> bool:
    """True when ``PRODSERVER_ALLOW_DEV`` is 1/true/yes/on."""
    value = (os.environ if environ is None else environ).get(ALLOW_DEV_ENV, "")
    return value.strip().lower() in ("1", "true", "yes", "on")
