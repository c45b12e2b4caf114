"""What the supervisor does when a child exits on its own: small policy objects, one job each.

The loop asks a child's policy once per exit and obeys the :data:`Decision`; a policy may also
bring a source of restart requests (devserver's file watcher) that the loop waits on beside
signals and pipes, restarting the child gracefully when it fires."""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass
from typing import Protocol

from django_prodserver.settings.restart import Policy, RestartBudget


@dataclass(frozen=True)
class Restart:
    """Start the child again after ``delay`` seconds; ``reason`` ends our line (default: the delay)."""

    delay: float
    reason: str = ""


@dataclass(frozen=True)
class StopAll:
    """Stop every process; the supervisor exits with ``code``. ``reason`` goes in our line."""

    code: int
    reason: str


@dataclass(frozen=True)
class Wait:
    """Leave the child stopped (until a restart request, if the policy has a source).

    ``reason`` ends our line about the exit; empty: the line is said for a clean exit only."""

    reason: str = ""


@dataclass(frozen=True)
class Held:
    """A configuration exit (EX_CONFIG): leave the child stopped, say ``reason`` once, keep the
    others running; the supervisor exits with ``code`` when it stops later (systemd's
    ``RestartPreventExitStatus``: a restart cannot fix a missing table or a bad setting)."""

    code: int
    reason: str


Decision = Restart | StopAll | Wait | Held

#: sysexits.h EX_CONFIG: "configuration error"; the exit a restart cannot fix.
EX_CONFIG = getattr(os, "EX_CONFIG", 78)
#: Exit codes of long-running processes that are never retried.
NOT_RETRIED = (EX_CONFIG,)


class RestartRequests(Protocol):
    """Where restart requests come from (a file watcher): a fd the loop selects on, and the reason."""

    @property
    def fd(self) -> int: ...

    def open(self) -> None:
        """Start watching; called once before the child's first start."""

    def take(self) -> str | None:
        """What was asked since the last call ("app/views.py changed"), or None; empties ``fd``."""

    def close(self) -> None:
        """Stop watching; called once when the supervisor ends."""


class ExitPolicy:
    """The protocol the supervisor calls; subclasses decide one kind of exit each."""

    #: Runs to completion, in order, before the long-running processes start.
    oneshot: bool = False
    #: Signals that restart this child (instead of being forwarded to it).
    restart_signals: tuple[int, ...] = ()
    #: Restart requests besides signals (None: only exits and signals matter).
    requests: RestartRequests | None = None

    def on_exit(self, clean: bool, exit_code: int, now: float) -> Decision:
        """The child exited on its own (not asked to stop): what next. ``now`` is monotonic."""
        raise NotImplementedError


class OneShot(ExitPolicy):
    """A one-shot: never restarted; the supervisor's run order judges its exit code."""

    oneshot = True

    def on_exit(self, clean: bool, exit_code: int, now: float) -> Decision:
        return Wait()


class Never(ExitPolicy):
    """``RESTART: "never"``: any exit stops everything with that exit code."""

    def on_exit(self, clean: bool, exit_code: int, now: float) -> Decision:
        return StopAll(exit_code, "policy 'never'")


class Always(ExitPolicy):
    """``RESTART: "always"``: restart after any exit, within the budget."""

    def __init__(self, budget: RestartBudget) -> None:
        self.budget = budget

    def on_exit(self, clean: bool, exit_code: int, now: float) -> Decision:
        return within_budget(self.budget, exit_code, now)


class OnFailure(Always):
    """``RESTART: "on-failure"`` (the default): an exit 0 means done and stops everything with 0."""

    def on_exit(self, clean: bool, exit_code: int, now: float) -> Decision:
        if clean:
            return StopAll(exit_code, "policy 'on-failure'")
        return within_budget(self.budget, exit_code, now)


class Recycling(ExitPolicy):
    """A copy of a server that replaces itself: its own exit 0 (``max_requests`` reached) starts
    it again at once, outside the budget; SIGHUP replaces it; other exits are ``policy``'s call."""

    restart_signals = (signal.SIGHUP,)

    def __init__(self, policy: ExitPolicy) -> None:
        self.policy = policy

    def on_exit(self, clean: bool, exit_code: int, now: float) -> Decision:
        if exit_code == 0:
            return Restart(0.0, "recycled after max_requests: starting a new one")
        return self.policy.on_exit(clean, exit_code, now)


def within_budget(budget: RestartBudget, exit_code: int, now: float) -> Decision:
    """Restart after the budget's backoff, or stop everything non-zero once it is spent; a
    configuration exit is held instead (not retried, the budget untouched)."""
    if exit_code in NOT_RETRIED:
        return Held(exit_code, "a configuration error (EX_CONFIG): not restarted, a restart cannot fix it")
    delay = budget.next_delay(now)
    if delay is not None:
        return Restart(delay)
    p = budget.policy
    return StopAll(exit_code or 1, f"restart budget spent ({p.max_restarts} in {p.window:g}s)")


def for_settings(policy: Policy | ExitPolicy) -> ExitPolicy:
    """The policy object for one child: built fresh from the settings (its own budget), or as given."""
    if isinstance(policy, ExitPolicy):
        return policy
    if policy.oneshot:
        return OneShot()
    if policy.restart == "never":
        return Never()
    budget = RestartBudget(policy)
    return Always(budget) if policy.restart == "always" else OnFailure(budget)
