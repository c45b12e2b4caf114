"""What every export format is rendered from: the processes' plans, reduced to what a
platform needs (command, stop signal, timing chain, ports, environment without secrets)."""

from __future__ import annotations

import math
import re
import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from django_prodserver.masking import is_secret as is_secret
from django_prodserver.ops.address import host_port
from django_prodserver.ops.config import OpsConfig
from django_prodserver.plan import LaunchPlan
from django_prodserver.settings.restart import Policy

#: Seconds between the end of a process' own stop budget and the platform's SIGKILL:
#: the default drain 2 s + graceful 25 s + 3 s is Kubernetes' default grace period, 30 s.
KILL_MARGIN = 3.0
_DNS_LABEL = re.compile(r"[^a-z0-9-]+")


def dns_label(text: str) -> str:
    """``My_Worker`` -> ``my-worker``: a name Kubernetes, compose and systemd all accept."""
    label = _DNS_LABEL.sub("-", text.lower()).strip("-")
    return label[:40] or "process"


@dataclass(frozen=True)
class ExportProcess:
    """One process as every platform sees it."""

    name: str
    slug: str
    backend: str
    kind: str
    policy: Policy
    stop_signal: str
    #: Seconds the process itself may take to stop (drain_delay + graceful_timeout for web).
    stop_budget: float
    drain_delay: float
    #: Seconds the platform waits before SIGKILL: ceil(stop_budget + KILL_MARGIN).
    kill_timeout: int
    #: TCP port of a process that serves HTTP (None for workers and unix-socket servers).
    port: int | None = None
    #: True when the backend takes its port from ``PORT`` (and then binds every interface).
    reads_port: bool = False
    #: Arguments after ``prodserver NAME`` the platform needs (``--set host=0.0.0.0`` for a
    #: monitor that binds loopback by default and does not read ``PORT``).
    extra_args: tuple[str, ...] = ()
    #: Environment written into the files (values), and names only (secrets, from a Secret).
    env: tuple[tuple[str, str], ...] = ()
    secret_env: tuple[str, ...] = ()
    replicas: int = 1
    #: Where a web process that can serve on a passed socket listens (``127.0.0.1:8000`` or a unix
    #: socket path), for a systemd ``.socket`` unit; empty when it binds its own address.
    listen: str = ""

    @property
    def oneshot(self) -> bool:
        return self.policy.oneshot

    @property
    def serves_http(self) -> bool:
        return self.port is not None

    @property
    def singleton(self) -> bool:
        """A scheduler (celery beat) must never run twice, not even during a rollout."""
        return self.kind == "scheduler"

    def argv(self, python: str = "python", manage: str = "manage.py") -> list[str]:
        """The command every format runs: switching BACKEND never changes it."""
        return [python, manage, "prodserver", self.name, *self.extra_args]


@dataclass(frozen=True)
class ExportModel:
    """The whole project to export: processes in settings order, one-shots first."""

    project: str
    cwd: str
    python: str
    manage: str
    settings_module: str
    processes: tuple[ExportProcess, ...]
    image: str = ""
    #: Environment files as this format names them, in order (a later one wins).
    env_files: tuple[str, ...] = ()
    env_file_keys: frozenset[str] = frozenset()
    ops: OpsConfig | None = None
    #: True when settings leave the ops endpoint off and the export turns it on for health checks.
    ops_added: bool = False
    notes: tuple[str, ...] = field(default_factory=tuple)
    #: kubernetes --profiling: also a debug overlay granting SYS_PTRACE (never in the base manifests).
    profiling: bool = False
    #: systemd --watchdog SECONDS: ``WatchdogSec=`` on each long-running service (0: off).
    watchdog: float = 0.0
    #: systemd --socket: a ``.socket`` unit holds each web address, so a restart refuses nothing.
    sockets: bool = False

    @property
    def releases(self) -> list[ExportProcess]:
        return [p for p in self.processes if p.oneshot]

    @property
    def services(self) -> list[ExportProcess]:
        return [p for p in self.processes if not p.oneshot]

    @property
    def secret_name(self) -> str:
        """The Secret holding ENV values that look like secrets (never in any file)."""
        return f"{self.project}-secrets"

    def env_secrets(self) -> list[tuple[str, str]]:
        """(Secret name, file) per ``--env-file``: ``PROJECT-env`` for one file, else one Secret
        per file named after it (kubectl refuses a key given twice in one Secret)."""
        if len(self.env_files) == 1:
            return [(f"{self.project}-env", self.env_files[0])]
        out: list[tuple[str, str]] = []
        for i, path in enumerate(self.env_files, 1):
            name = f"{self.project}-env-{dns_label(path.rsplit('/', 1)[-1])}"
            out.append((name if name not in [n for n, _ in out] else f"{name}-{i}", path))
        return out

    def base_env(self) -> list[tuple[str, str]]:
        """Variables every process gets, before its own ENV."""
        env = [("PYTHONUNBUFFERED", "1")]
        if self.settings_module and "DJANGO_SETTINGS_MODULE" not in self.env_file_keys:
            env.insert(0, ("DJANGO_SETTINGS_MODULE", self.settings_module))
        return env


def _seconds(value: object) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0


def export_process(
    plan: LaunchPlan,
    policy: Policy,
    env: Mapping[str, str],
    env_file_keys: frozenset[str],
    replicas: int,
    *,
    reads_port: bool = False,
    extra_args: tuple[str, ...] = (),
) -> ExportProcess:
    """Reduce one plan: timing chain, port, and its ENV split into values and secret names."""
    drain = _seconds(plan.options.get("drain_delay"))
    graceful = _seconds(plan.options.get("graceful_timeout"))
    # The plan's timeout already includes the drain for web backends; never trust that blindly.
    budget = max(plan.graceful_timeout, drain + graceful)
    port = published_port(plan)
    values: list[tuple[str, str]] = []
    secrets: list[str] = []
    for key, value in env.items():
        if key in env_file_keys:
            continue  # the file is referenced, its values never copied
        if is_secret(key, value):
            secrets.append(key)
        else:
            values.append((key, value))
    return ExportProcess(
        name=plan.process,
        slug=dns_label(plan.process),
        backend=plan.backend,
        kind=plan.kind,
        policy=policy,
        stop_signal=signal.Signals(plan.stop_signal).name,
        stop_budget=budget,
        drain_delay=drain,
        kill_timeout=math.ceil(budget + KILL_MARGIN),
        port=port,
        reads_port=reads_port and port is not None,
        extra_args=extra_args,
        env=tuple(values),
        secret_env=tuple(secrets),
        replicas=replicas,
        listen=listen_address(plan),
    )


def listen_address(plan: LaunchPlan) -> str:
    """The address a ``.socket`` unit may hold for ``plan`` (the one the supervisor would bind),
    or empty when its host binds its own."""
    if plan.kind != "web" or not plan.inherits_listener:
        return ""
    path, port = plan.options.get("socket"), plan.options.get("port")
    if path:
        return str(path)
    if not isinstance(port, int) or isinstance(port, bool):
        return ""
    return host_port(str(plan.options.get("host") or "127.0.0.1"), port)


def published_port(plan: LaunchPlan) -> int | None:
    """The TCP port of a process that answers HTTP (None: a worker, or a unix socket)."""
    if plan.ready.http_url and plan.options.get("port") is not None and not plan.options.get("socket"):
        return int(plan.options["port"])
    return None


def order(processes: Sequence[ExportProcess]) -> tuple[ExportProcess, ...]:
    """One-shots first (in settings order: they run in that order), then the rest."""
    return tuple([p for p in processes if p.oneshot] + [p for p in processes if not p.oneshot])
