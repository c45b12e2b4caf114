"""What every export format is rendered from: the processes' plans, reduced to what a
platform needs (command, stop signal, timing chain, ports, environment without secrets)."""

from __future__ import annotations

import math
import re
import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from django_prodserver.ops.config import OpsConfig
from django_prodserver.plan import _SECRET_KEY, LaunchPlan, mask
from django_prodserver.settings.restart import Policy

#: Seconds between the end of a process' own stop budget and the platform's SIGKILL:
#: the default drain 2 s + graceful 25 s + 3 s is Kubernetes' default grace period, 30 s.
KILL_MARGIN = 3.0
#: Names the issue calls secret, on top of what ``--dry-run`` masks (``plan._SECRET_KEY``).
_SECRET_WORDS = re.compile(r"(SECRET|PASSWORD|TOKEN|KEY)", re.I)
_DNS_LABEL = re.compile(r"[^a-z0-9-]+")


def is_secret(name: str, value: str) -> bool:
    """True for a variable that must never be written into an exported file."""
    return bool(_SECRET_WORDS.search(name) or _SECRET_KEY.search(name)) or mask(value) != value


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
    #: TCP port of a web process (None for workers and unix-socket servers).
    port: int | None = None
    #: True when settings pin the bind host (a container then cannot reach it through PORT).
    host_pinned: str | None = None
    #: Environment written into the files (values), and names only (secrets, from a Secret).
    env: tuple[tuple[str, str], ...] = ()
    secret_env: tuple[str, ...] = ()
    replicas: int = 1

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
        return [python, manage, "prodserver", self.name]


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
    env_file: str | None = None
    env_file_keys: frozenset[str] = frozenset()
    ops: OpsConfig | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

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

    @property
    def env_secret_name(self) -> str:
        """The Secret made from ``--env-file`` (kubectl create secret --from-env-file)."""
        return f"{self.project}-env"

    def base_env(self) -> list[tuple[str, str]]:
        """Variables every process gets, before its own ENV."""
        env = [("PYTHONUNBUFFERED", "1")]
        if self.settings_module and "DJANGO_SETTINGS_MODULE" not in self.env_file_keys:
            env.insert(0, ("DJANGO_SETTINGS_MODULE", self.settings_module))
        return env


def _seconds(value: object) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0


def export_process(
    plan: LaunchPlan, policy: Policy, env: Mapping[str, str], env_file_keys: frozenset[str], replicas: int
) -> ExportProcess:
    """Reduce one plan: timing chain, port, and its ENV split into values and secret names."""
    drain = _seconds(plan.options.get("drain_delay"))
    graceful = _seconds(plan.options.get("graceful_timeout"))
    # The plan's timeout already includes the drain for web backends; never trust that blindly.
    budget = max(plan.graceful_timeout, drain + graceful)
    port: int | None = None
    pinned: str | None = None
    if plan.ready.http_url and plan.options.get("port") is not None:
        port = int(plan.options["port"])
        if plan.options.explicit("host") and plan.options.get("host") not in ("0.0.0.0", "::"):
            pinned = str(plan.options.get("host"))
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
        host_pinned=pinned,
        env=tuple(values),
        secret_env=tuple(secrets),
        replicas=replicas,
    )


def order(processes: Sequence[ExportProcess]) -> tuple[ExportProcess, ...]:
    """One-shots first (in settings order: they run in that order), then the rest."""
    return tuple([p for p in processes if p.oneshot] + [p for p in processes if not p.oneshot])
