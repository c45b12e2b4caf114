"""LaunchPlan: everything that would run, computed without starting anything."""

from __future__ import annotations

import dataclasses
import signal
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django_prodserver.masking import mask, mask_env


@dataclass(frozen=True)
class Resolved:
    """An option's final value and where it came from (for ``--dry-run``)."""

    value: Any
    source: str


@dataclass(frozen=True)
class OptionTable:
    """The resolved options of one process, in declaration order."""

    values: Mapping[str, Resolved] = field(default_factory=dict)
    #: Uniform tuning options the user gave that this backend does not declare: kept in
    #: ``values`` (``--dry-run`` shows them) and announced as ignored, never an error.
    ignored: tuple[str, ...] = ()

    def __getitem__(self, name: str) -> Any:
        return self.values[name].value

    def get(self, name: str, default: Any = None) -> Any:
        item = self.values.get(name)
        return default if item is None else item.value

    def source(self, name: str) -> str:
        return self.values[name].source

    def explicit(self, name: str) -> bool:
        """True when the user set it (settings, environment or command line)."""
        item = self.values.get(name)
        return item is not None and item.source != "default"

    def with_value(self, name: str, value: Any, source: str) -> OptionTable:
        """This table with one option's value and source replaced (order kept)."""
        values = dict(self.values)
        values[name] = Resolved(value, source)
        return dataclasses.replace(self, values=values)


@dataclass(frozen=True)
class ReadyProbe:
    """How a supervisor or test knows the process is ready; the ops endpoint reads it.

    A web server is ready once ``http_url`` answers below 500 (a real request through the app).
    A worker is ready once ``log_line`` appeared in its output and, when ``broker`` is given
    (``host:port``), while its process tree holds an established TCP connection to it."""

    http_url: str | None = None
    log_line: str | None = None
    broker: str | None = None


@dataclass(frozen=True)
class QueueDepth:
    """How the ops endpoint counts the tasks waiting in a worker's queues, at each scrape.

    ``reader`` is ``"module:function"``; the supervisor (Django set up) imports it at the first
    scrape and calls ``function(self)`` once, which returns the sampler: a callable answering
    ``{queue: waiting tasks}`` with one cheap broker call per queue (LLEN, a COUNT) and its own
    short timeouts. ``params`` are plain strings the reader needs (an app path, a broker alias);
    never secrets: they show in ``--dry-run``."""

    reader: str
    queues: tuple[str, ...] = ()
    params: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class LaunchPlan:
    """The resolved launch of one process: argv, environment, cwd and provenance.

    ``program + args`` run with ``env`` is the native-equivalent command; the runner either
    execs it or hands ``args`` to the backend's in-process entry with ``env`` applied (same
    parser, same meaning; a host's own settings are in ``env``, see ``backends.hostplan``).
    """

    process: str
    backend: str
    kind: str
    program: tuple[str, ...]
    args: tuple[str, ...]
    cwd: str
    env: Mapping[str, str] = field(default_factory=dict)
    #: Environment variables to remove from the child (e.g. GUNICORN_CMD_ARGS unless asked for).
    unset_env: tuple[str, ...] = ()
    options: OptionTable = field(default_factory=OptionTable)
    #: Native args as layered: ("settings ARGS", [...]), ("command line", [...]).
    native_layers: tuple[tuple[str, tuple[str, ...]], ...] = ()
    #: True when the runner hosts the server in this process (no exec).
    in_process: bool = False
    #: True when the in-process host serves on a listening socket the supervisor hands over
    #: (``PRODSERVER_LISTEN_FD``): a reload then keeps the address open from one generation to the next.
    inherits_listener: bool = False
    #: What a supervisor sends for a graceful stop, and to whom.
    stop_signal: int = signal.SIGTERM
    signal_group: bool = False
    graceful_timeout: float = 30.0
    ready: ReadyProbe = field(default_factory=ReadyProbe)
    #: Human notes: things prodserver does that no native flag shows, and known limits.
    notes: tuple[str, ...] = ()
    #: Tuning options this server approximates or ignores, one line each (printed at start).
    warnings: tuple[str, ...] = ()
    #: What changed without being asked for (a WSGI project served as ASGI): printed at every start.
    announcements: tuple[str, ...] = ()
    #: Where the server listens (``http://0.0.0.0:8111/``, ``unix:PATH``; empty for workers): the
    #: banner prints this, the bind the server really gets, not the ready check's loopback URL.
    listen: str = ""
    #: Why it listens there (``from PORT``, ``default: loopback, ...``): printed beside ``listen``.
    listen_why: str = ""
    #: Server-affecting environment variables found in the environment (reported, not hidden).
    ambient_env: Mapping[str, str] = field(default_factory=dict)
    distribution: str = ""
    version: str = ""
    extras: Mapping[str, Any] = field(default_factory=dict)
    #: How the ops endpoint reads this worker's queue depth (None: it reports none).
    queue_depth: QueueDepth | None = None

    @property
    def command(self) -> list[str]:
        return [*self.program, *self.args]

    def describe(self) -> str:
        """A masked, human-readable account of the plan (what ``--dry-run`` prints)."""
        import shlex

        lines = [f"process {self.process!r}: backend {self.backend} ({self.kind})"]
        if self.distribution:
            lines[0] += f" from {self.distribution} {self.version}"
        lines.append(f"  launch: {'in-process (no exec)' if self.in_process else 'exec'}")
        lines.append(f"  cwd: {self.cwd}")
        if self.listen:
            lines.append(f"  listen: {self.listen}" + (f" ({self.listen_why})" if self.listen_why else ""))
        lines.append("  command: " + " ".join(shlex.quote(mask(a)) for a in self.command))
        if self.options.values:
            lines.append("  options:")
            for name, item in self.options.values.items():
                lines.append(f"    {name} = {mask(repr(item.value))}  [{item.source}]")
        for source, layer in self.native_layers:
            if layer:
                lines.append(f"  native args from {source}: " + " ".join(shlex.quote(mask(a)) for a in layer))
        if self.env:
            lines.append("  environment:")
            for key, value in sorted(self.env.items()):
                lines.append(f"    {key}={mask_env(key, value)}")
        if self.unset_env:
            lines.append("  removed from environment: " + ", ".join(self.unset_env))
        if self.ambient_env:
            lines.append("  server settings found in the environment (they apply):")
            for key, value in sorted(self.ambient_env.items()):
                lines.append(f"    {key}={mask_env(key, value)}")
        sig = signal.Signals(self.stop_signal).name
        whom = "process group" if self.signal_group else "main process only"
        lines.append(f"  stop: {sig} to the {whom}, graceful timeout {self.graceful_timeout:g}s")
        for line in self.announcements:
            lines.append(f"  {line}")
        for note in self.notes:
            lines.append(f"  note: {note}")
        for warning in self.warnings:
            lines.append(f"  warning: {warning}")
        return "\n".join(lines)
