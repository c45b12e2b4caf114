"""Restart policies as objects: each one's decisions as pure logic."""

from __future__ import annotations

import pytest

from django_prodserver.launch.supervisor import Policy
from django_prodserver.launch.supervisor.policies import (
    Always,
    Never,
    OneShot,
    OnFailure,
    Restart,
    StopAll,
    Wait,
    for_settings,
)
from django_prodserver.settings.restart import RestartBudget

pytestmark = pytest.mark.timeout(60)

# -- decisions, no processes --------------------------------------------------------------


def test_one_shot_is_never_restarted_and_leaves_the_verdict_to_the_run_order() -> None:
    policy = OneShot()
    assert policy.oneshot and policy.on_exit(True, 0, 0.0) == Wait() and policy.on_exit(False, 9, 0.0) == Wait()


def test_never_stops_everything_with_the_exit_code_clean_or_not() -> None:
    assert Never().on_exit(False, 137, 0.0) == StopAll(137, "policy 'never'")
    assert Never().on_exit(True, 0, 0.0) == StopAll(0, "policy 'never'")
    assert not Never().oneshot


def test_on_failure_stops_with_zero_after_a_clean_exit_and_backs_off_after_failures() -> None:
    policy = OnFailure(RestartBudget(Policy(max_restarts=2, window=10, backoff=0.5, max_backoff=4)))
    assert policy.on_exit(True, 0, 0.0) == StopAll(0, "policy 'on-failure'")
    assert [policy.on_exit(False, 3, t) for t in (1.0, 2.0)] == [Restart(0.5), Restart(1.0)]
    assert policy.on_exit(False, 3, 3.0) == StopAll(3, "restart budget spent (2 in 10s)")
    assert policy.on_exit(False, 3, 30.0) == Restart(0.5)  # the window moved on


def test_always_restarts_clean_exits_too_and_a_spent_budget_is_never_exit_zero() -> None:
    policy = Always(RestartBudget(Policy(restart="always", max_restarts=1, window=60, backoff=2, max_backoff=2)))
    assert policy.on_exit(True, 0, 0.0) == Restart(2.0)
    assert policy.on_exit(True, 0, 1.0) == StopAll(1, "restart budget spent (1 in 60s)")


def test_settings_become_a_fresh_object_per_child_and_objects_pass_through() -> None:
    assert isinstance(for_settings(Policy(oneshot=True)), OneShot)
    assert isinstance(for_settings(Policy(restart="never")), Never)
    assert type(for_settings(Policy(restart="always"))) is Always
    assert type(for_settings(Policy())) is OnFailure
    a, b = for_settings(Policy(max_restarts=1)), for_settings(Policy(max_restarts=1))
    assert isinstance(a, OnFailure) and isinstance(b, OnFailure)
    assert a.on_exit(False, 1, 0.0) == Restart(1.0) and b.on_exit(False, 1, 0.0) == Restart(1.0)  # own budgets
    own = Never()
    assert for_settings(own) is own
