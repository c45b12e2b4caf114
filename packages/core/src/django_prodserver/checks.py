"""System checks (``manage.py check``): the same validation that runs before any start, and the
ops endpoint's settings (E010) and bind (W010), the control socket's setting (E011)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.core import checks

from django_prodserver.errors import ConfigError
from django_prodserver.settings.config import ProcessConfig, get_processes_setting, load_process

#: Message texts are constants so tests and docs can refer to them.
E001 = "PRODUCTION_PROCESSES is missing or not a dict"

#: While a start runs its checks, the names of the processes being started (None: all).
_only: ContextVar[frozenset[str] | None] = ContextVar("prodserver_checks_only", default=None)


@contextmanager
def only_processes(names: frozenset[str] | None) -> Iterator[None]:
    """Within the block, check only these processes: ``prodserver web`` need not plan (and
    import the backends of) the worker and one-shots it does not start. ``check`` checks all."""
    token = _only.set(names)
    try:
        yield
    finally:
        _only.reset(token)


@checks.register("prodserver")
def check_production_processes(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Validate every configured process exactly as `prodserver` would before starting it."""
    from django_prodserver.backends.base import LaunchContext
    from django_prodserver.backends.loading import load_backend

    messages: list[checks.CheckMessage] = []
    try:
        raw = get_processes_setting()
    except ConfigError as e:
        from django.conf import settings

        if not hasattr(settings, "PRODUCTION_PROCESSES"):
            # Not configured at all is not an error for `check`; the command says so when run.
            return []
        return [_error(e)]
    ctx = LaunchContext.from_django()
    only = _only.get()
    for name, entry in raw.items():
        if only is not None and name not in only:
            continue
        try:
            config: ProcessConfig = load_process(name, entry)
            backend, _ = load_backend(config)
        except ConfigError as e:
            messages.append(_error(e))
            continue
        messages.extend(backend.check(ctx))
    return messages


def _error(e: ConfigError) -> checks.Error:
    return checks.Error(e.problem_text, hint=e.fix or None, id=e.check_id)


W010 = (
    "PRODSERVER_OPS binds a public interface on port {port}, which web process {name!r} also uses: one of "
    "them cannot listen, and probes (and /metrics) would share the port the public reaches"
)


@checks.register("prodserver")
def check_ops_endpoint(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    from django_prodserver.ops.config import load_ops_config

    try:
        config = load_ops_config()
    except ConfigError as e:
        return [checks.Error(e.problem_text, hint=e.fix or None, id=e.check_id)]
    if config is None or not config.public:
        return []
    out: list[checks.CheckMessage] = []
    for name, port in web_ports():
        if port == config.port:
            out.append(
                checks.Warning(
                    W010.format(port=port, name=name),
                    hint=f"give the ops endpoint its own port, e.g. PRODSERVER_OPS = {{'HOST': '0.0.0.0', "
                    f"'PORT': {port + 1191 if port + 1191 < 65536 else 9191}}}",
                    id="prodserver.W010",
                )
            )
    return out


def web_ports() -> list[tuple[str, int]]:
    """``(name, port)`` of every web process as it would be planned (errors are other checks' job)."""
    from django_prodserver.backends.base import LaunchContext
    from django_prodserver.backends.loading import load_backend

    try:
        raw = get_processes_setting()
    except ConfigError:
        return []
    ctx = LaunchContext.from_django()
    out: list[tuple[str, int]] = []
    for name, entry in raw.items():
        try:
            backend, _ = load_backend(load_process(name, entry))
            if backend.kind != "web":
                continue
            opts = backend.resolve(ctx)
        except (ConfigError, ImportError):
            continue
        port = opts.get("port")
        if isinstance(port, int) and not opts.get("socket"):
            out.append((name, port))
    return out


@checks.register("prodserver")
def check_control_socket(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """PRODSERVER_CONTROL (prodserver.E011): a path, True or False; a TCP listener is refused."""
    from django_prodserver.control.config import load_control_path

    try:
        load_control_path()
    except ConfigError as e:
        return [_error(e)]
    return []
