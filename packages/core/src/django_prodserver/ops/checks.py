"""System checks of the ops endpoint: its settings (E010), and a public bind on a web port (W010)."""

from __future__ import annotations

from typing import Any

from django.core import checks

from django_prodserver.errors import ConfigError

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
    from django_prodserver.settings.config import get_processes_setting, load_process

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
