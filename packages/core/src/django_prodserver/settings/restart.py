"""Per-process supervisor policy: the ``RESTART`` and ``ONESHOT`` keys, validated, plus the
restart budget with exponential backoff and the exit-code conventions the supervisor reports."""

from __future__ import annotations

import os
import signal
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django_prodserver.errors import ConfigError

SETTING = "PRODUCTION_PROCESSES"
POLICIES = ("on-failure", "always", "never")
RESTART_KEYS: Mapping[str, str] = {
    "policy": "'on-failure' (default), 'always' or 'never'",
    "max_restarts": "restarts allowed within 'window' seconds before giving up (default 5)",
    "window": "seconds over which restarts are counted (default 60)",
    "backoff": "delay before the first restart in seconds, doubled for each further one (default 1)",
    "max_backoff": "longest delay between restarts in seconds (default 30)",
}


def _where(name: str, *keys: str) -> str:
    return f"{SETTING}[{name!r}]" + "".join(f"[{k!r}]" for k in keys)


@dataclass(frozen=True)
class Policy:
    """What the supervisor does when this process exits, and whether it runs once first.

    Restarts are counted over a sliding ``window``; the n-th within it waits ``backoff * 2**n``."""

    oneshot: bool = False
    restart: str = "on-failure"
    max_restarts: int = 5
    window: float = 60.0
    backoff: float = 1.0
    max_backoff: float = 30.0

    def describe(self) -> str:
        if self.oneshot:
            return "one-shot: runs to completion before the long-running processes; a failure starts nothing"
        if self.restart == "never":
            return "restart never: when it exits, everything stops with its exit code"
        what = "after any exit" if self.restart == "always" else "after a failure (an exit 0 stops everything)"
        return (
            f"restart {self.restart}: {what}, backoff {self.backoff:g}s doubling up to {self.max_backoff:g}s, "
            f"at most {self.max_restarts} restarts in {self.window:g}s, then everything stops non-zero; "
            "an exit 78 (EX_CONFIG, a configuration error) is not retried and the others keep running"
        )


def _number(name: str, key: str, value: Any, *, integer: bool = False) -> float:
    ok = isinstance(value, int) if integer else isinstance(value, (int, float))
    if not ok or isinstance(value, bool) or value < 0:
        kind = "a whole number" if integer else "a number of seconds"
        raise ConfigError(
            _where(name, "RESTART", key),
            f"expected {kind} >= 0, found {value!r}",
            f'write e.g. {{"{key}": {5 if integer else 1.0}}}',
        )
    return float(value)


def validate_keys(name: str, entry: Mapping[str, Any]) -> None:
    """Check the shape of ``RESTART`` and ``ONESHOT`` in one settings entry (ConfigError if wrong)."""
    parse_policy(name, entry, kind="")


def parse_policy(name: str, entry: Mapping[str, Any], kind: str) -> Policy:
    """The policy of one entry; a backend of kind ``oneshot`` is one-shot unless ``ONESHOT: False``."""
    oneshot = entry.get("ONESHOT")
    if oneshot is not None and not isinstance(oneshot, bool):
        raise ConfigError(
            _where(name, "ONESHOT"), f"expected True or False, found {oneshot!r}", "write True (no quotes)"
        )
    is_oneshot = oneshot if oneshot is not None else kind == "oneshot"
    restart = entry.get("RESTART")
    if restart is None:
        return Policy(oneshot=is_oneshot)
    short = isinstance(restart, str)
    if short:
        restart = {"policy": restart}
    if not isinstance(restart, Mapping):
        raise ConfigError(
            _where(name, "RESTART"),
            f"expected 'on-failure', 'always', 'never' or a dict, found {restart!r}",
            'write "on-failure" or {"policy": "on-failure", "max_restarts": 5, "window": 60, "backoff": 1}',
        )
    for key in restart:
        if key not in RESTART_KEYS:
            raise ConfigError(
                _where(name, "RESTART", str(key)),
                f"unknown key {key!r}",
                "allowed keys are " + "; ".join(f"{k}: {v}" for k, v in RESTART_KEYS.items()),
            )
    policy = restart.get("policy", "on-failure")
    if policy not in POLICIES:
        path = _where(name, "RESTART") if short else _where(name, "RESTART", "policy")
        raise ConfigError(path, f"unknown policy {policy!r}", "use one of " + ", ".join(map(repr, POLICIES)))
    if is_oneshot and entry.get("RESTART") is not None:
        raise ConfigError(
            _where(name, "RESTART"),
            "a one-shot process is never restarted (it must succeed before the others start)",
            "remove RESTART, or set ONESHOT to False for a long-running process",
        )
    defaults = Policy()

    def num(key: str, default: float, integer: bool = False) -> float:
        return _number(name, key, restart[key], integer=integer) if key in restart else default

    result = Policy(
        restart=policy,
        max_restarts=int(num("max_restarts", defaults.max_restarts, integer=True)),
        window=num("window", defaults.window),
        backoff=num("backoff", defaults.backoff),
        max_backoff=num("max_backoff", defaults.max_backoff),
    )
    if result.max_backoff < result.backoff:
        raise ConfigError(
            _where(name, "RESTART", "max_backoff"),
            f"is smaller than backoff ({result.max_backoff:g} < {result.backoff:g})",
            "raise max_backoff or lower backoff",
        )
    return result


@dataclass
class RestartBudget:
    """Sliding-window count of restarts: says how long to wait before the next one, or no."""

    policy: Policy
    times: deque[float] = field(default_factory=deque)

    def next_delay(self, now: float) -> float | None:
        """Seconds to wait before restarting, or None when the budget is spent."""
        while self.times and now - self.times[0] > self.policy.window:
            self.times.popleft()
        if len(self.times) >= self.policy.max_restarts:
            return None
        delay = min(self.policy.max_backoff, self.policy.backoff * float(2 ** len(self.times)))
        self.times.append(now + delay)
        return delay


def exit_code(status: int) -> int:
    """A wait status as a shell would report it: the exit code, or 128+n when killed by signal n."""
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    if os.WIFEXITED(status):
        return os.WEXITSTATUS(status)
    return 1  # pragma: no cover - stopped/continued statuses are not requested


def describe_status(status: int) -> str:
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            sname = signal.Signals(sig).name
        except ValueError:  # pragma: no cover
            sname = str(sig)
        return f"killed by {sname} (exit code {128 + sig})"
    return f"exited with code {exit_code(status)}"


def ended_by(status: int, sig: int) -> bool:
    """True when the process ended because of ``sig``: killed by it, or exited 128+sig (uvicorn's 143)."""
    return (os.WIFSIGNALED(status) and os.WTERMSIG(status) == sig) or exit_code(status) == 128 + sig
