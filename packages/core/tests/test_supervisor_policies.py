"""Restart policies as objects: each one's decisions as pure logic, then the supervisor restarting
a real child when a policy's request source fires (the way devserver's file watcher feeds it)."""

from __future__ import annotations

import os
import re
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from django_prodserver.launch.supervisor import ChildSpec, Policy, Supervisor
from django_prodserver.launch.supervisor.policies import (
    EX_CONFIG,
    Always,
    Decision,
    ExitPolicy,
    Held,
    Never,
    OneShot,
    OnFailure,
    Recycling,
    Restart,
    StopAll,
    Wait,
    for_settings,
)
from django_prodserver.ops.procfs import state
from django_prodserver.settings.restart import RestartBudget

pytestmark = pytest.mark.timeout(60)

# -- decisions, no processes --------------------------------------------------------------


def test_one_shot_is_never_restarted_and_leaves_the_verdict_to_the_run_order() -> None:
    policy = OneShot()
    assert policy.oneshot and policy.on_exit(True, 0, 0.0) == Wait() and policy.on_exit(False, 9, 0.0) == Wait()


def test_never_stops_everything_with_the_exit_code_clean_or_not() -> None:
    assert Never().on_exit(False, 137, 0.0) == StopAll(137, "policy 'never'")
    assert Never().on_exit(True, 0, 0.0) == StopAll(0, "policy 'never'")
    assert not Never().oneshot and Never().requests is None and Never().restart_signals == ()


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


def test_a_configuration_exit_is_held_not_retried_and_spends_no_budget() -> None:
    held = Held(78, "a configuration error (EX_CONFIG): not restarted, a restart cannot fix it")
    for policy in (OnFailure(RestartBudget(Policy(max_restarts=1))), Always(RestartBudget(Policy(max_restarts=1)))):
        assert EX_CONFIG == 78 and policy.on_exit(False, 78, 0.0) == held
        assert policy.on_exit(False, 78, 0.1) == held  # again: still held, never a spent budget
        assert policy.on_exit(False, 3, 0.2) == Restart(1.0)  # the budget is whole
    assert Never().on_exit(False, 78, 0.0) == StopAll(78, "policy 'never'")  # 'never': any exit stops all


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


def test_a_recycling_copy_starts_again_at_once_after_exit_0_and_leaves_failures_to_its_policy() -> None:
    policy = Recycling(OnFailure(RestartBudget(Policy(max_restarts=1, window=60, backoff=1, max_backoff=1))))
    assert policy.on_exit(True, 0, 0.0) == Restart(0.0, "recycled after max_requests: starting a new one")
    assert policy.on_exit(True, 0, 0.1) == Restart(0.0, "recycled after max_requests: starting a new one")
    assert policy.on_exit(False, 137, 0.2) == Restart(1.0)  # the budget was untouched by recycles
    assert policy.on_exit(False, 137, 0.3) == StopAll(137, "restart budget spent (1 in 60s)")
    assert policy.restart_signals == (signal.SIGHUP,) and not policy.oneshot


# -- a request source restarting real children ----------------------------------------------


class Trigger:
    """A stand-in for devserver's file watcher: ``fire(reason)`` from any thread wakes the loop."""

    def __init__(self) -> None:
        self._rd, self._wr = os.pipe()
        os.set_blocking(self._rd, False)
        self.reasons: list[str] = []
        self.opened = self.closed = False

    @property
    def fd(self) -> int:
        return self._rd

    def open(self) -> None:
        self.opened = True

    def fire(self, reason: str) -> None:
        self.reasons.append(reason)
        os.write(self._wr, b"\0")

    def take(self) -> str | None:
        try:
            os.read(self._rd, 512)
        except BlockingIOError:
            pass
        taken, self.reasons = self.reasons, []
        return ", ".join(taken) or None

    def close(self) -> None:
        self.closed = True
        os.close(self._rd)
        os.close(self._wr)


class OnRequest(ExitPolicy):
    """Restart when asked (requests or SIGHUP); after an exit of its own, wait to be asked."""

    restart_signals = (signal.SIGHUP,)

    def __init__(self, trigger: Trigger) -> None:
        self.requests = trigger

    def on_exit(self, clean: bool, exit_code: int, now: float) -> Decision:
        return Wait("waiting for a request")


#: Prints "up <pid> <grandchild pid>", with a pool worker in its process group; argv[1] == "1"
#: ignores SIGTERM; the first start exits 3 on its own when the file argv[2] does not exist yet.
CHILD = """
import os, signal, subprocess, sys, time
if sys.argv[1] == "1":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
marker = sys.argv[2]
if marker and not os.path.exists(marker):
    open(marker, "w").close()
    print("up", os.getpid(), 0, flush=True)
    sys.exit(3)
pool = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
print("up", os.getpid(), pool.pid, flush=True)
time.sleep(60)
"""


def alive(pid: int) -> bool:
    return state(pid) not in ("", "Z")


class Run:
    def __init__(self, out: Path, err: Path) -> None:
        self.out_path, self.err_path = out, err
        self.code: int | None = None

    def ups(self) -> list[tuple[int, int]]:
        text = self.out_path.read_text() if self.out_path.exists() else ""
        return [(int(a), int(b)) for a, b in re.findall(r"up (\d+) (\d+)", text)]

    def wait_ups(self, n: int, timeout: float = 20) -> list[tuple[int, int]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.ups()) >= n:
                return self.ups()
            time.sleep(0.02)
        raise AssertionError(f"{n} starts not seen:\n{self.err()}")

    def err(self) -> str:
        return self.err_path.read_text() if self.err_path.exists() else ""


@pytest.fixture
def supervise(tmp_path: Path) -> Iterator[Callable[..., Run]]:
    """Run a Supervisor in this (main) thread while ``script(run)`` drives it from another; the
    script ends with a SIGTERM to us. Every pid started or printed is SIGKILLed afterwards."""
    runs: list[Run] = []

    def go(spec: ChildSpec, script: Callable[[Run], None]) -> Run:
        run = Run(tmp_path / f"out{len(runs)}", tmp_path / f"err{len(runs)}")
        runs.append(run)
        failures: list[BaseException] = []

        def drive() -> None:
            try:
                script(run)
            except BaseException as e:
                failures.append(e)
            finally:
                os.kill(os.getpid(), signal.SIGTERM)

        thread = threading.Thread(target=drive, daemon=True)
        with open(run.out_path, "wb") as out, open(run.err_path, "wb") as err:
            thread.start()
            run.code = Supervisor([spec], prefix=False, fds=(out.fileno(), err.fileno())).run()
        thread.join(10)
        if failures:
            raise failures[0]
        return run

    yield go
    for run in runs:
        started = [int(p) for p in re.findall(r"started 'svc' \(pid (\d+)\)", run.err())]
        for pid in {*started, *(p for pair in run.ups() for p in pair if p)}:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def child(trigger: Trigger, *, ignore_term: bool = False, marker: str = "", **kw: object) -> ChildSpec:
    argv = [sys.executable, "-c", CHILD, "1" if ignore_term else "0", marker]
    return ChildSpec("svc", argv, dict(os.environ), os.getcwd(), policy=OnRequest(trigger), **kw)  # type: ignore[arg-type]


def test_a_request_restarts_the_child_gracefully_without_spending_a_budget(
    supervise: Callable[..., Run],
) -> None:
    trigger = Trigger()

    def script(run: Run) -> None:
        (pid, pool), *_ = run.wait_ups(1)
        for n in range(2, 5):  # more restarts than any budget would allow
            trigger.fire("app.py changed")
            run.wait_ups(n)
        assert not alive(pid) and not alive(pool), "the old child or its pool worker survived"

    run = supervise(child(trigger), script)
    assert run.code == 0, run.err()
    assert run.err().count("app.py changed: restarting 'svc'") == 3
    assert len(re.findall(r"started 'svc' \(pid \d+\)", run.err())) == 4  # every requested start is told
    assert "budget" not in run.err() and trigger.opened and trigger.closed


def test_a_child_ignoring_its_stop_signal_is_killed_with_its_group_after_the_timeout(
    supervise: Callable[..., Run],
) -> None:
    trigger = Trigger()

    def script(run: Run) -> None:
        (pid, pool), *_ = run.wait_ups(1)
        asked = time.monotonic()
        trigger.fire("app.py changed")
        run.wait_ups(2)
        assert time.monotonic() - asked >= 0.5
        assert not alive(pid) and not alive(pool)

    run = supervise(child(trigger, ignore_term=True, graceful_timeout=0.5), script)
    assert "'svc' still running 1.5s after the stop signal (graceful timeout 0.5s + 1s to exit)" in run.err()


def test_after_an_exit_of_its_own_it_waits_then_a_request_or_sighup_restarts_it(
    supervise: Callable[..., Run], tmp_path: Path
) -> None:
    trigger = Trigger()

    def script(run: Run) -> None:
        run.wait_ups(1)
        deadline = time.monotonic() + 10
        while "waiting for a request" not in run.err() and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.3)
        assert len(run.ups()) == 1, "restarted without a request"
        trigger.fire("asked")
        (pid, _), *_ = run.wait_ups(2)[1:]
        os.kill(os.getpid(), signal.SIGHUP)  # restarts; not forwarded (it would kill the child)
        run.wait_ups(3)
        assert not alive(pid)

    run = supervise(child(trigger, marker=str(tmp_path / "ran")), script)
    assert re.search(r"'svc' \(pid \d+\) exited with code 3; waiting for a request", run.err()), run.err()
    assert "SIGHUP received: restarting 'svc'" in run.err() and run.code == 0


def test_a_child_kept_in_our_group_gets_group_signals_through_its_tree(supervise: Callable[..., Run]) -> None:
    trigger = Trigger()

    def script(run: Run) -> None:
        (pid, pool), *_ = run.wait_ups(1)
        assert os.getpgid(pid) == os.getpgrp() == os.getpgid(pool)  # a SIGKILL to our group reaches it
        trigger.fire("app.py changed")
        run.wait_ups(2)
        assert not alive(pid) and not alive(pool)

    run = supervise(child(trigger, ignore_term=True, graceful_timeout=0.3, own_session=False), script)
    assert "killing its process group" in run.err() and run.code == 137  # it ignores our final SIGTERM too


def test_a_shared_stdio_child_writes_to_our_own_stdout(
    supervise: Callable[..., Run], capfd: pytest.CaptureFixture[str]
) -> None:
    trigger = Trigger()

    def script(run: Run) -> None:
        deadline = time.monotonic() + 20
        while "started 'svc'" not in run.err() and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(1.0)

    run = supervise(child(trigger, share_stdio=True), script)
    assert run.ups() == [] and re.search(r"up \d+ \d+", capfd.readouterr().out)
