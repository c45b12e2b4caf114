"""What a platform changes about a process, decided before anything is written: the address a
published process binds there, and one-shots whose work cannot reach the other processes.

Each process is planned again in the environment the platform gives it (``PORT`` set), so the
bind the export promises is the one the backend will really make."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from django_prodserver.backends.base import Backend
from django_prodserver.errors import ConfigError
from django_prodserver.export.model import published_port
from django_prodserver.plan import LaunchPlan
from django_prodserver.settings.config import ProcessConfig, where

CONTAINER_FORMATS = ("compose", "kubernetes")
ALL_INTERFACES = ("0.0.0.0", "::", "[::]")
OPEN_ARGS = ("--set", "host=0.0.0.0")
#: The line of docs/deploying.md's Dockerfile that collects static files into the image.
DOCKERFILE_COLLECTSTATIC = "RUN DJANGO_SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput"
#: Where a one-shot runs on each platform that gives it a filesystem of its own.
_ONESHOT_WHERE = {
    "compose": "a service (container) of its own",
    "kubernetes": "a Job (a pod) of its own",
    "procfile": "the release phase's one-off dyno, whose files are thrown away",
}
#: Plans the process again: (variables added to the environment, ``--set`` overrides).
Replan = Callable[[Mapping[str, str], Mapping[str, str]], LaunchPlan]


@dataclass(frozen=True)
class Bind:
    """How a process listens on the platform, and what the export says about it."""

    reads_port: bool = False
    extra_args: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


def reads_port_env(backend: Backend) -> bool:
    """True when the backend's ``port`` follows ``PORT`` (web servers; not flower)."""
    return any(o.name == "port" and "PORT" in o.env for o in backend.declared_options())


def bind(fmt: str, backend: Backend, plan: LaunchPlan, replan: Replan) -> Bind:
    """The platform's bind of a published process. Raises :class:`ConfigError` when a
    container export would publish a port nothing outside the container can reach."""
    port = published_port(plan)
    if port is None or fmt == "systemd":
        return Bind()
    reads = reads_port_env(backend)
    if fmt == "procfile":
        return Bind(notes=tuple(_procfile_warnings(plan, reads, replan)))
    there = replan({"PORT": str(port)} if reads else {}, {})
    host = str(there.options.get("host"))
    if host in ALL_INTERFACES:
        return Bind(reads_port=reads)
    name = plan.process
    if there.options.explicit("host"):
        raise ConfigError(
            where(name, "OPTIONS", "host"),
            f"{host!r} binds one interface: inside a {fmt} container nothing outside reaches it, though the "
            f"export publishes port {port} (health checks inside the container would still pass)",
            "remove 'host' (the export then binds every interface of the container) or write '0.0.0.0'",
        )
    opened = replan({"PORT": str(port)} if reads else {}, {"host": "0.0.0.0"})
    notes = [
        f"note: {name!r} ({plan.backend}) binds {host} by default and does not take its address from PORT: "
        f"its command gets `{' '.join(OPEN_ARGS)}` so that the published port {port} reaches it"
    ]
    notes += [
        f"warning: {name!r}: {n.removeprefix('WARNING: ')}. In this export the port is published and a "
        "loopback host is refused (nothing outside the container could reach it): set the credentials, in an "
        "--env-file or ENV (the export writes a reference, never the value)"
        for n in opened.notes
        if n.startswith("WARNING")
    ]
    return Bind(reads_port=reads, extra_args=OPEN_ARGS, notes=tuple(notes))


def _procfile_warnings(plan: LaunchPlan, reads: bool, replan: Replan) -> list[str]:
    """Heroku-style platforms route to ``$PORT`` on every interface: say what defeats it."""
    name, port = plan.process, published_port(plan)
    if not reads:
        return [
            f"warning: {name!r} ({plan.backend}) does not read $PORT: it listens on "
            f"{plan.options.get('host')}:{port}, where the platform's router never sends traffic (it routes to "
            "$PORT of the web process only). Reach it through a tunnel or a proxy of yours, or leave it out: "
            "export procfile NAME ... with the other names"
        ]
    sentinel = 5000
    there = replan({"PORT": str(sentinel)}, {})
    out = []
    if there.options.get("port") != sentinel:
        out.append(
            f"warning: {where(name, 'OPTIONS', 'port')} is {there.options.get('port')}: it wins over the "
            "platform's $PORT, so the router finds nothing listening on $PORT. Fix: remove 'port' "
            "(PORT then applies; without PORT the default is used)"
        )
    host = str(there.options.get("host"))
    if host not in ALL_INTERFACES and there.options.explicit("host"):
        out.append(
            f"warning: {where(name, 'OPTIONS', 'host')} is {host!r}: the platform's router cannot reach it. "
            "Fix: remove 'host' ($PORT then binds 0.0.0.0)"
        )
    return out


def static_storage_is_local() -> bool:
    """True when collectstatic writes files on the local disk (STATIC_ROOT), not to a remote store."""
    from django.conf import settings
    from django.core.files.storage import FileSystemStorage
    from django.utils.module_loading import import_string

    try:
        cls = import_string(settings.STORAGES["staticfiles"]["BACKEND"])
    except (ImportError, KeyError, AttributeError):
        return True  # collectstatic cannot run either: say where it would write
    return isinstance(cls, type) and issubclass(cls, FileSystemStorage)


def refuse_collectstatic(
    fmt: str, configs: Mapping[str, ProcessConfig], oneshots: Sequence[str], names: Sequence[str]
) -> None:
    """A one-shot collectstatic on a platform that runs it in a filesystem of its own writes files
    the web process never sees: with manifest storage every page then answers 500."""
    if fmt not in _ONESHOT_WHERE:
        return
    for name in oneshots:
        config = configs[name]
        if config.backend != "command" or config.args[:1] != ("collectstatic",) or not static_storage_is_local():
            continue
        others = " ".join(n for n in names if n != name)
        build = " (Heroku's Python buildpack runs collectstatic during the build)" if fmt == "procfile" else ""
        raise ConfigError(
            where(name),
            f"runs collectstatic as a one-shot: a {fmt} export runs it in {_ONESHOT_WHERE[fmt]}, so the files "
            "it writes to STATIC_ROOT never reach the web process, and with manifest storage (WhiteNoise's, "
            "ManifestStaticFilesStorage) every page answers 500. collectstatic belongs in the image build" + build,
            f"add this line to your Dockerfile after `COPY . .` (docs/deploying.md): {DOCKERFILE_COLLECTSTATIC} "
            f"-- then export the other processes: python manage.py prodserver export {fmt} {others}".rstrip(),
        )
