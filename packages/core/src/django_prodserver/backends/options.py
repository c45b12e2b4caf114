"""Option declarations: one place that drives validation, defaults, --dry-run and docs."""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from django_prodserver.errors import ConfigError
from django_prodserver.plan import OptionTable, Resolved

OptionKind = Literal["int", "float", "str", "bool", "list", "path", "choice"]

#: How a backend honours a tuning option: the server's own flag, prodserver provides it (e.g. the
#: request deadline, copies for ``workers``), approximated by something close, or ignored.
#: Anything but ``native``/``prodserver`` is announced with a one-line warning at start and in
#: ``--dry-run`` (the ``instead`` text says what is done instead).
Support = Literal["native", "prodserver", "approximated", "ignored"]

#: A default is a value, or a function of the environment (``PORT``, ``WEB_CONCURRENCY``...).
DefaultFactory = Callable[[Mapping[str, str]], Any]

#: A value's native text and back, for a server that spells it its own way (see :func:`value_map`
#: and :func:`scaled`): ``(to_native, from_native)``.
Convert = tuple[Callable[[Any], str], Callable[[str], Any]]

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True)
class Option:
    """One option a backend accepts: its type, default, doc and native spelling.

    Uniform options are declared once in :data:`WEB_OPTIONS` / :data:`WORKER_OPTIONS` and
    adopted by a backend with :meth:`declare`, which sets the backend's own default and flag::

        options = (WEB_OPTIONS["workers"].declare(default=4, native="-w N"),)
    """

    name: str
    kind: OptionKind
    doc: str
    default: Any = None
    #: Why this default: shown by ``--dry-run`` and in the docs tables.
    reason: str = ""
    #: How the server spells it natively, for docs and ``--list-options`` (``flag``/``switch`` render it).
    native: str = ""
    #: Environment variables consulted, in order, before the default (platform conventions).
    env: tuple[str, ...] = ()
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    #: True for options every backend of a kind understands (the product's uniform surface).
    uniform: bool = False
    #: Contract options change what clients get (bind, TLS, HTTP/2, websockets, interface): a
    #: backend that cannot honour one refuses it with a reason. The others are tuning options:
    #: never an error, at worst approximated or ignored with a warning.
    contract: bool = False
    #: Native spelling core renders: ``"--port"`` (flag, then the value), ``"--threads={}"``
    #: (joined), ``"-b unix:{}"`` (tokens, ``{}`` replaced), ``"{}"`` (a positional argument);
    #: lists are joined with ``separator``.
    flag: str = ""
    #: How a list is written: one token joined with commas, or (``" "``) one token per item
    #: (``--queues a b``; give the flag in ``FlagSpec.multi`` so ARGS replace it whole).
    separator: str = ","
    #: The value's native text and back when the server spells it otherwise (``--verbosity 2``
    #: for ``debug``, milliseconds for seconds): :func:`value_map`, :func:`scaled`.
    convert: Convert | None = None
    #: Native flags whose value sets this option and maybe others, each with its reader
    #: (:mod:`.native`): gunicorn's host, port and socket all read ``("-b", bind_reader(8000))``,
    #: so ``--bind 0.0.0.0:8111`` in ARGS becomes host and port in the plan. The flag ``""`` reads
    #: positional arguments (runserver's ``[addr:]port``); one read from ARGS leaves ARGS, and the
    #: backend renders it from the plan.
    reads: tuple[tuple[str, Callable[[str], Mapping[str, Any]]], ...] = ()
    #: A bool's native ``(on, off)`` tokens, e.g. ``("--access-log", "--no-access-log")``;
    #: ``""`` leaves that side out, spaces separate tokens (``"--access-logfile -"``).
    switch: tuple[str, str] | None = None
    #: What this option needs when set: another option set too (``"tls_key"``) or another
    #: option at a value (``"interface=asgi"``). Core checks these for every backend.
    requires: tuple[str, ...] = ()
    #: The error text when ``requires`` fails (default: "<a> and <b> go together").
    requires_why: str = ""
    #: Options that cannot be given together with this one.
    conflicts: tuple[str, ...] = ()
    #: A further check of a value of the right type, raising :class:`ConfigError` naming ``where``
    #: (``host`` must be an IP address or a host name).
    validator: Callable[[Any, str], None] | None = None
    #: How this backend honours it (see :data:`Support`) and, unless native, what it does instead.
    support: Support = "native"
    instead: str = ""

    def declare(self, **changes: Any) -> Option:
        """Return this option adopted by a backend, with backend-specific fields changed."""
        return dataclasses.replace(self, **changes)

    def declaration(self) -> str:
        """How this option reaches the server, as declared: ``"flag"`` (core renders the native flag
        and reads it back from ARGS), ``"read"`` (the backend composes the native tokens, core reads
        them back), ``"prodserver"`` / ``"approximated"`` / ``"ignored"`` (its support), or ``""``
        when nothing is declared (a backend mapping it by hand)."""
        if self.support != "native":
            return self.support
        if self.flag or self.switch:
            return "flag"
        return "read" if self.reads else ""

    def native_text(self) -> str:
        """The native spelling for docs and ``--list-options``."""
        if self.native:
            return self.native
        if self.switch:
            return " / ".join(s for s in self.switch if s) or "-"
        if not self.flag:
            return ""
        if self.flag == "{}":
            return "positional " + self.name.upper()
        return self.flag.replace("{}", "N") if "{}" in self.flag else f"{self.flag} N"

    def native_name(self) -> str:
        """The native flag whose value this option is (``--threads`` for ``"--threads={}"``),
        or ``""`` when the spelling is composite (``-b HOST:PORT``) or computed."""
        if not self.flag or " " in self.flag:
            return ""
        head = self.flag.split("=", 1)[0]
        return head if head.startswith("-") and (self.flag == head or self.flag == head + "={}") else ""

    def render(self, value: Any) -> list[str]:
        """The native tokens for ``value`` from ``flag``/``switch`` (empty when off or unset)."""
        if self.switch is not None:
            chosen = self.switch[0] if value else self.switch[1]
            return chosen.split() if chosen else []
        if not self.flag or value is None or value is False:
            return []
        if self.separator == " " and isinstance(value, (list, tuple)):
            parts = [_text(v) for v in value]
        else:
            parts = [self.native_value(value)]
        tokens = self.flag.split()
        if any("{}" in t for t in tokens):
            return [out for t in tokens for out in ([t.replace("{}", p) for p in parts] if "{}" in t else [t])]
        return [*tokens, *parts]

    def native_value(self, value: Any) -> str:
        """``value`` as the server spells it (``"2"`` for ``debug`` under ``--verbosity``)."""
        if self.convert is not None:
            return self.convert[0](value)
        if isinstance(value, (list, tuple)):
            return self.separator.join(map(_text, value))
        return _text(value)

    def from_native(self, text: str, where: str) -> Any:
        """A native flag's value (as written in ARGS) in this option's type, or :class:`ConfigError`."""
        if self.convert is not None:
            try:
                value = self.convert[1](text)
            except (KeyError, ValueError):
                raise ConfigError(
                    where, f"{text!r} is not a value prodserver can read as {self.name}", "check the flag's value"
                ) from None
            return self.validate(value, where)
        if self.kind == "list" and self.separator != ",":
            text = ",".join(text.split(self.separator.strip() or None))
        return self.coerce_text(text, where)

    def default_for(self, environ: Mapping[str, str]) -> tuple[Any, str]:
        """Return ``(value, source)`` from the environment conventions or the default."""
        for var in self.env:
            raw = environ.get(var)
            if raw not in (None, ""):
                return self.coerce_text(raw, f"environment variable {var}"), f"env {var}"
        default = self.default(environ) if callable(self.default) else self.default
        return default, "default"

    def coerce_text(self, raw: str, where: str) -> Any:
        """Convert text from ``--set`` or an environment variable into this option's type."""
        try:
            if self.kind == "int":
                value: Any = int(raw)
            elif self.kind == "float":
                value = float(raw)
            elif self.kind == "bool":
                low = raw.strip().lower()
                if low in _TRUE:
                    value = True
                elif low in _FALSE:
                    value = False
                else:
                    raise ValueError(raw)
            elif self.kind == "list":
                value = [part.strip() for part in raw.split(",") if part.strip()]
            elif raw.strip().lower() in ("", "none", "null"):
                value = None
            else:
                value = raw
        except ValueError:
            raise ConfigError(
                where,
                f"expected {self.expected()}, found {raw!r}",
                f"give {self.name} as {self.example()}",
            ) from None
        return self.validate(value, where)

    def validate(self, value: Any, where: str) -> Any:
        """Check a Python value from settings; return it normalised or raise ConfigError."""
        if value is None:
            return None
        found = f"{value!r} ({type(value).__name__})"
        kind = self.kind
        ok: bool
        if kind == "int":
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif kind == "float":
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
            value = float(value) if ok else value
        elif kind == "bool":
            ok = isinstance(value, bool)
        elif kind == "list":
            if isinstance(value, str):
                value = [value]
            ok = isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value)
            value = list(value) if ok else value
        elif kind == "path":
            ok = isinstance(value, (str, os.PathLike))
            value = os.fspath(value) if ok else value
        else:
            ok = isinstance(value, str)
        if not ok:
            raise ConfigError(where, f"expected {self.expected()}, found {found}", f"write {self.example()}")
        if self.choices and value not in self.choices:
            raise ConfigError(
                where,
                f"expected one of {', '.join(map(repr, self.choices))}, found {value!r}",
                f"pick one of {', '.join(map(repr, self.choices))}",
            )
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if self.minimum is not None and value < self.minimum:
                raise ConfigError(where, f"must be at least {self.minimum:g}, found {value!r}", "")
            if self.maximum is not None and value > self.maximum:
                raise ConfigError(where, f"must be at most {self.maximum:g}, found {value!r}", "")
        if self.validator is not None:
            self.validator(value, where)
        return value

    def expected(self) -> str:
        return {
            "int": "an integer",
            "float": "a number of seconds",
            "bool": "True or False",
            "list": "a list of strings",
            "path": "a file path",
            "str": "a string",
            "choice": "one of the listed choices",
        }[self.kind]

    def example(self) -> str:
        return {
            "int": "a number without quotes, e.g. 4",
            "float": "a number, e.g. 2.5",
            "bool": "True or False (no quotes)",
            "list": 'a list, e.g. ["a", "b"]',
            "path": 'a path string, e.g. "/etc/ssl/cert.pem"',
            "str": 'a string, e.g. "value"',
            "choice": repr(self.choices[0]) if self.choices else "a listed choice",
        }[self.kind]


def _text(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def value_map(table: Mapping[Any, str]) -> Convert:
    """A server that spells values by a table (rq's ``--verbosity``: ``{"debug": "2", ...}``).
    Reading back takes the first value listed with that text, so list the usual one first."""
    back: dict[str, Any] = {}
    for value, text in table.items():
        back.setdefault(text, value)
    return (lambda value: table[value], lambda text: back[text.strip()])


def scaled(factor: float) -> Convert:
    """A server that takes a unit ``factor`` times smaller (``scaled(1000)``: seconds as milliseconds)."""
    return (lambda value: str(round(value * factor)), lambda text: float(text) / factor)


def cpu_count() -> int:
    """CPUs this process may run on (affinity and cgroup aware where Python can see it)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS/Windows
        return max(1, os.cpu_count() or 1)


def one_per_cpu(environ: Mapping[str, str]) -> int:
    """One process per usable CPU: the default for event-loop servers and worker pools."""
    return cpu_count()


def default_web_workers(environ: Mapping[str, str]) -> int:
    """``2 x CPUs + 1``, capped at 12: gunicorn's advice, bounded for memory in containers."""
    return min(2 * cpu_count() + 1, 12)


def websockets_with_asgi(environ: Mapping[str, str]) -> None:
    """On with interface 'asgi' (every ASGI server's own default); no meaning under WSGI."""
    return None  # unset: each ASGI backend serves websockets, a WSGI one has none to serve


def default_host(environ: Mapping[str, str]) -> str:
    """All interfaces when the platform sets ``PORT`` (it routes to us), else loopback only."""
    return "0.0.0.0" if environ.get("PORT") else "127.0.0.1"


_HOST_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")


def validate_host(value: str, where: str) -> None:
    """An interface to bind: an IP address (``"0.0.0.0"``, ``"::"``, ``"[::1]"``) or a host name
    (``"localhost"``, ``"web.internal"``); anything else would make the server fail at every
    start. Whether a name resolves is checked just before a start (:meth:`WebBackend.preflight`)."""
    text = value.strip("[]") if value.startswith("[") else value
    try:
        ipaddress.ip_address(text)
        return
    except ValueError:
        pass
    labels = text.rstrip(".").split(".")
    if text and len(text) <= 253 and all(_HOST_LABEL.fullmatch(label) for label in labels):
        return
    raise ConfigError(
        where,
        f"{value!r} is not an IP address or a host name",
        'write an address such as "127.0.0.1" (this machine only), "0.0.0.0" (every interface) or "::", '
        'or a host name such as "localhost"',
    )


#: Uniform web options whose absence changes what clients get: refused, with a reason, by a
#: backend that cannot honour them. Every other uniform option is a tuning option.
CONTRACT_OPTIONS = frozenset(
    {"host", "port", "socket", "tls_cert", "tls_key", "http2", "websockets", "interface", "forwarded_allow_ips"}
)


def _uniform(name: str, kind: OptionKind, doc: str, **kw: Any) -> Option:
    return Option(name=name, kind=kind, doc=doc, uniform=True, **kw)


_LOG_LEVELS = ("critical", "error", "warning", "info", "debug")
_SIZE_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "kib": 1024, "m": 1000**2, "mb": 1000**2, "mib": 1024**2,
               "g": 1000**3, "gb": 1000**3, "gib": 1024**3}  # fmt: skip


def parse_size(value: object, where: str = "OPTIONS max_memory") -> int:
    """Bytes from ``"512MB"``, ``"1.5GiB"``, ``"800 MiB"`` or a number of bytes; 0 means no limit."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    text = value.strip().lower().replace(" ", "") if isinstance(value, str) else "?"
    number = text.rstrip("abcdefghijklmnopqrstuvwxyz")
    unit = text[len(number) :]
    try:
        size = float(number) * _SIZE_UNITS[unit] if text else 0.0
    except (ValueError, KeyError):
        raise ConfigError(
            where,
            f"{value!r} is not a memory size",
            'write it as "512MB", "1.5GiB" or a number of bytes ("" or 0: no limit)',
        ) from None
    if size < 0:
        raise ConfigError(where, f"{value!r} is negative", 'write a size such as "512MB" ("" or 0: no limit)')
    return int(size)


def validate_size(value: str, where: str) -> None:
    parse_size(value, where)


#: The shortest ``max_lifetime``: a new generation needs a few seconds to start and take over.
MIN_LIFETIME = 5.0


def validate_lifetime(value: float, where: str) -> None:
    if 0 < value < MIN_LIFETIME:
        raise ConfigError(
            where,
            f"{value:g} s is shorter than a new generation takes to start and take over",
            f"use 0 (never) or at least {MIN_LIFETIME:g}",
        )


def _recycling(kind: str) -> tuple[Option, ...]:
    """``max_lifetime`` and ``max_memory``: prodserver replaces the whole process by a new
    generation (a reload: nothing refused, running work finished) when one is reached."""
    return (
        _uniform(
            "max_lifetime",
            "float",
            f"Seconds after which prodserver replaces this {kind} by a fresh one, as a reload does (0 = never).",
            default=0.0,
            minimum=0,
            validator=validate_lifetime,
            native="(prodserver reload)",
            support="prodserver",
        ),
        _uniform(
            "max_memory",
            "str",
            f"Replace this {kind} by a fresh one, as a reload does, once one of its processes uses more "
            'resident memory than this ("512MB", "1GiB"; empty = never).',
            default="",
            validator=validate_size,
            native="(prodserver reload)",
            support="prodserver",
        ),
    )


def default_log_format(environ: Mapping[str, str]) -> str:
    """``settings.PRODSERVER_LOG_FORMAT`` (the project-wide default), else ``"text"``."""
    try:
        from django.conf import settings

        value = getattr(settings, "PRODSERVER_LOG_FORMAT", None) if settings.configured else None
    except Exception:  # settings that fail to import are reported elsewhere
        value = None
    return value if isinstance(value, str) and value else "text"


#: ``log_format``: one uniform option of every web and worker backend (see docs/logging.md).
LOG_FORMAT = _uniform(
    "log_format",
    "choice",
    "Log line format: 'text' (each server's own) or 'json' (one JSON object per line, one schema).",
    default=default_log_format,
    env=("PRODSERVER_LOG_FORMAT",),
    choices=("text", "json"),
    reason="settings.PRODSERVER_LOG_FORMAT, else text",
    native="(prodserver: json is one schema for every server; text is the server's own)",
    support="prodserver",
)

#: The uniform web options. A web backend adopts those it can honour; the rest are refused.
WEB_OPTIONS: Mapping[str, Option] = {
    o.name: dataclasses.replace(o, contract=o.name in CONTRACT_OPTIONS)
    for o in (
        _uniform(
            "host",
            "str",
            "Interface to bind.",
            default=default_host,
            reason="loopback unless PORT is set",
            validator=validate_host,
        ),
        _uniform("port", "int", "TCP port to bind.", default=8000, env=("PORT",), minimum=0, maximum=65535),
        _uniform(
            "socket",
            "path",
            "Unix socket path to bind instead of host:port.",
            conflicts=("port",),
        ),
        _uniform(
            "workers", "int", "Worker processes.", default=default_web_workers, env=("WEB_CONCURRENCY",), minimum=1
        ),
        _uniform("threads", "int", "Threads per worker process.", default=1, minimum=1),
        _uniform(
            "timeout",
            "int",
            "Seconds a request may run before the client gets 504 Gateway Timeout (0 disables).",
            default=30,
            minimum=0,
        ),
        _uniform(
            "graceful_timeout",
            "float",
            "Seconds in-flight requests get to finish after a stop is requested.",
            default=25.0,
            minimum=0,
            reason="drain_delay + graceful_timeout fit in Kubernetes' 30 s grace period",
        ),
        _uniform(
            "drain_delay",
            "float",
            "Seconds to keep accepting after SIGTERM before the graceful stop (a load balancer's "
            "deregistration window, like a Kubernetes preStop sleep).",
            default=2.0,
            minimum=0,
            reason="load balancers keep sending for a moment after SIGTERM",
        ),
        _uniform("keepalive", "int", "Seconds an idle keep-alive connection is kept open.", default=5, minimum=0),
        _uniform("max_requests", "int", "Recycle a worker after this many requests (0 = never).", default=0, minimum=0),
        _uniform("max_requests_jitter", "int", "Random extra requests before recycling.", default=0, minimum=0),
        _uniform("tls_cert", "path", "TLS certificate file (PEM).", requires=("tls_key",)),
        _uniform("tls_key", "path", "TLS private key file (PEM).", requires=("tls_cert",)),
        _uniform("http2", "bool", "Serve HTTP/2 (over TLS via ALPN).", default=False),
        _uniform(
            "websockets",
            "bool",
            "Serve websockets (ASGI only). False refuses every websocket handshake with 403.",
            default=websockets_with_asgi,
            requires=("interface=asgi",),
            requires_why="websockets need the ASGI interface",
        ),
        _uniform("access_log", "bool", "Write an access log line per request to stdout.", default=True),
        _uniform(
            "forwarded_allow_ips",
            "list",
            "Proxy addresses whose X-Forwarded-* headers are trusted.",
        ),
        _uniform("log_level", "choice", "Server log level.", default="info", choices=_LOG_LEVELS),
        _uniform("backlog", "int", "Listen queue length.", default=2048, minimum=1),
        _uniform(
            "interface",
            "choice",
            "Which Django entry point to serve: WSGI_APPLICATION or ASGI_APPLICATION.",
            default="wsgi",
            choices=("wsgi", "asgi"),
        ),
        LOG_FORMAT,
        _uniform(
            "ready_path",
            "str",
            "Path of the request the ops endpoint sends through the app to decide readiness (any "
            "status below 500 means ready).",
            default="/",
            native="(prodserver ops endpoint)",
            support="prodserver",
            reason="the site's root answers in most projects; ALLOWED_HOSTS/SSL redirects still count",
        ),
        _uniform(
            "warmup_path",
            "str",
            "Path requested through the app in each new process before it takes traffic (a reload "
            "keeps the old processes serving until it answers 200); empty: no warm-up request.",
            default="",
            native="(prodserver reload)",
            support="prodserver",
        ),
        *_recycling("server"),
    )
}


def request_deadline(server: str, native: str = "", reason: str = "") -> Option:
    """``timeout`` for a server with no request timeout of its own: prodserver's request
    deadline answers 504 (off unless set), declared once for every such server."""
    return WEB_OPTIONS["timeout"].declare(
        native=native or "(prodserver: 504 after N s, request cancelled)",
        support="prodserver",
        default=0,
        reason=reason or f"{server} has no request timeout; set one and prodserver answers 504",
    )


#: The uniform worker options (celery, django-tasks, django-q2, dramatiq, rq...).
WORKER_OPTIONS: Mapping[str, Option] = {
    o.name: o
    for o in (
        _uniform("concurrency", "int", "Tasks run at once (processes or threads).", minimum=1),
        _uniform("queues", "list", "Queues to consume, in priority order."),
        _uniform("log_level", "choice", "Worker log level.", default="info", choices=_LOG_LEVELS),
        _uniform("max_tasks", "int", "Recycle a worker process after this many tasks (0 = never).", minimum=0),
        _uniform("pool", "str", "Execution pool (where the system has several)."),
        _uniform(
            "graceful_timeout",
            "float",
            "Seconds running tasks get to finish after a stop is requested.",
            default=25.0,
            minimum=0,
        ),
        LOG_FORMAT,
        _uniform(
            "preflight_timeout",
            "float",
            "Seconds the start-up check that the broker answers may take before the start is refused "
            "(0 skips the check).",
            default=5.0,
            minimum=0,
            reason="a broker on the network answers well within 5 s; a start should not hang",
            native="(prodserver: one broker connection before the start)",
            support="prodserver",
        ),
        *_recycling("worker"),
    )
}


def resolve_options(
    declared: Sequence[Option],
    catalog: Mapping[str, Option],
    configured: Mapping[str, Any],
    overrides: Mapping[str, str],
    environ: Mapping[str, str],
    *,
    where: str,
    backend: str,
    refused: Mapping[str, str] | None = None,
    tuning_warns: bool = True,
) -> OptionTable:
    """Merge defaults < environment < OPTIONS < ``--set`` into an :class:`OptionTable`.

    Unknown names and contract options the backend cannot honour raise :class:`ConfigError`
    naming the exact key and the reason; an undeclared tuning option is type-checked, kept
    and listed in :attr:`OptionTable.ignored` (the plan warns), so nothing is silently dropped.
    With ``tuning_warns=False`` (task workers, dev servers) every undeclared uniform option is refused.
    """
    by_name = {o.name: o for o in declared}
    ignored: dict[str, Resolved] = {}
    for source_name, given in (("OPTIONS", configured), ("--set", overrides)):
        for key in given:
            if key in by_name:
                continue
            key_where = f"{where}[{key!r}]" if source_name == "OPTIONS" else f"--set {key}"
            if key in catalog:
                uniform = catalog[key]
                why = (refused or {}).get(key)
                warned = tuning_warns and not uniform.contract
                try:
                    if source_name == "OPTIONS":
                        kept: Resolved | None = Resolved(uniform.validate(given[key], key_where), "settings OPTIONS")
                    else:
                        kept = Resolved(uniform.coerce_text(given[key], key_where), "command line --set")
                except ConfigError:
                    if warned:
                        raise
                    kept = None  # refused whatever its value: say that, not what is wrong with the value
                # Turning off what the backend cannot do at all (``websockets: False`` on a WSGI-only
                # server) asks for what it already does: honoured, so one OPTIONS dict fits every backend.
                if kept is not None and (warned or (uniform.contract and kept.value is False)):
                    ignored[key] = kept
                    continue
                raise ConfigError(
                    key_where,
                    f"backend {backend!r} cannot honour the uniform option {key!r} "
                    f"({why or 'it has no way to provide it'})",
                    f"remove {key!r}, or pick a backend that supports it "
                    f"(`python manage.py prodserver --list-options` shows each backend's options)",
                )
            raise ConfigError(
                key_where,
                f"unknown option {key!r} for backend {backend!r}",
                _suggest(key, by_name)
                + f"; native server flags go in 'ARGS'. Known options: {', '.join(sorted(by_name))}",
            )
    values: dict[str, Resolved] = {}
    for opt in declared:
        if opt.name in overrides:
            value = opt.coerce_text(overrides[opt.name], f"--set {opt.name}")
            values[opt.name] = Resolved(value, "command line --set")
        elif opt.name in configured:
            value = opt.validate(configured[opt.name], f"{where}[{opt.name!r}]")
            values[opt.name] = Resolved(value, "settings OPTIONS")
        else:
            value, source = opt.default_for(environ)
            values[opt.name] = Resolved(value, source)
    values.update(ignored)
    return OptionTable(values, ignored=tuple(ignored))


def check_pairs(declared: Sequence[Option], opts: OptionTable, where: Callable[[str], str], backend: str) -> None:
    """Enforce the ``requires``/``conflicts`` of every declared option (one place, all backends)."""
    names = {o.name for o in declared}
    for opt in declared:
        value = opts.get(opt.name)
        if not value:
            continue
        for need in opt.requires:
            other, sep, wanted = need.partition("=")
            if other not in names:
                continue
            if sep and opts.get(other) != wanted:
                raise ConfigError(
                    where(opt.name),
                    (opt.requires_why or f"{opt.name} needs {other} {wanted!r}") + f" ({backend})",
                    f"add '{other}': '{wanted}'",
                )
            if not sep and not opts.get(other):
                raise ConfigError(
                    where(other),
                    (opt.requires_why or f"{opt.name} and {other} go together") + f" ({backend})",
                    f"set {other!r} as well",
                )
        for other in opt.conflicts:
            if other in names and opts.explicit(other) and opts.get(other) not in (None, False):
                raise ConfigError(
                    where(opt.name),
                    f"give {opt.name!r} or {other!r}, not both ({backend} binds one)",
                    "remove one of them",
                )


def _suggest(key: str, known: Mapping[str, Option]) -> str:
    import difflib

    close = difflib.get_close_matches(key, list(known), n=1)
    return f"did you mean {close[0]!r}" if close else "check the spelling"
