"""The supervisor's parts on their own: line cutting, restart budget, exit codes, and the event
loop driving tiny real children (``python -c``) with output captured in files."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

from django_prodserver.launch.supervisor import ChildSpec, Policy, Supervisor
from django_prodserver.launch.supervisor.output import MAX_LINE, LineStream
from django_prodserver.settings.restart import RestartBudget, ended_by, exit_code

pytestmark = pytest.mark.timeout(60)


def test_line_stream_writes_whole_prefixed_lines_only() -> None:
    s = LineStream(b"web | ")
    assert s.feed(b"par") == b""
    assert s.feed(b"tial\nnext") == b"web | partial\n"
    assert s.feed(b" line\r\n\n") == b"web | next line\r\nweb | \n"
    assert s.feed(b"no newline at death") == b""
    assert s.finish() == b"web | no newline at death\n"
    assert s.finish() == b""


def test_line_stream_bounds_memory_for_endless_lines() -> None:
    s = LineStream(b"")
    out = s.feed(b"x" * (MAX_LINE * 2 + 5))
    assert out == (b"x" * MAX_LINE + b"\n") * 2 and s.finish() == b"xxxxx\n"


def test_budget_backs_off_exponentially_and_runs_out_within_the_window() -> None:
    budget = RestartBudget(Policy(max_restarts=3, window=10, backoff=0.5, max_backoff=1.5))
    assert [budget.next_delay(0.0), budget.next_delay(1.0), budget.next_delay(2.0)] == [0.5, 1.0, 1.5]
    assert budget.next_delay(3.0) is None  # spent: 3 restarts within 10 s
    assert budget.next_delay(30.0) == 0.5  # the window moved on: a fresh start


def test_exit_codes_follow_the_shell_convention() -> None:
    killed_by_term = signal.SIGTERM  # raw wait status of a process killed by SIGTERM is the signal number
    assert exit_code(killed_by_term) == 143 and ended_by(killed_by_term, signal.SIGTERM)
    assert exit_code(3 << 8) == 3 and not ended_by(3 << 8, signal.SIGTERM)
    assert ended_by(143 << 8, signal.SIGTERM)  # exited 143 on its own after our SIGTERM


def py(name: str, code: str, **kw: object) -> ChildSpec:
    return ChildSpec(name=name, argv=[sys.executable, "-c", code], env=dict(os.environ), cwd=os.getcwd(), **kw)  # type: ignore[arg-type]


def run(tmp_path: Path, specs: list[ChildSpec]) -> tuple[int, str, str]:
    out_path, err_path = tmp_path / "out", tmp_path / "err"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        code = Supervisor(specs, fds=(out.fileno(), err.fileno())).run()
    return code, out_path.read_text(), err_path.read_text()


SLEEPER = "import time\nprint('up', flush=True)\ntime.sleep(30)"


def test_one_shots_in_order_then_services_and_the_failing_code(tmp_path: Path) -> None:
    code, out, err = run(
        tmp_path,
        [
            py("first", "print('first ran')", policy=Policy(oneshot=True)),
            py("second", "print('second ran')", policy=Policy(oneshot=True)),
            py("svc", SLEEPER),
            py("bad", "import time, sys; time.sleep(0.5); sys.exit(7)", policy=Policy(restart="never")),
        ],
    )
    assert code == 7, err
    assert out.index("first  | first ran") < out.index("second | second ran") < out.index("svc    | up")
    assert "'svc'" in err and "killed by SIGTERM" in err  # stopped by us: fine, the 7 decides


def test_a_failed_one_shot_starts_nothing(tmp_path: Path) -> None:
    code, out, err = run(
        tmp_path,
        [py("setup", "import sys; print('trying'); sys.exit(9)", policy=Policy(oneshot=True)), py("svc", SLEEPER)],
    )
    assert code == 9 and "setup | trying" in out and "svc" not in out
    assert "one-shot 'setup' exited with code 9: not starting svc" in err


def test_sigterm_during_a_one_shot_stops_it_and_starts_nothing(tmp_path: Path) -> None:
    timer = threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGTERM))
    timer.start()
    before = signal.getsignal(signal.SIGTERM)
    try:
        started = time.monotonic()
        code, out, _ = run(tmp_path, [py("slow", SLEEPER, policy=Policy(oneshot=True)), py("svc", "print('svc ran')")])
    finally:
        timer.cancel()
    assert code == 0 and "svc ran" not in out and time.monotonic() - started < 20
    assert signal.getsignal(signal.SIGTERM) == before  # our handlers are gone afterwards


def test_a_program_that_cannot_start_is_a_failure_not_a_hang(tmp_path: Path) -> None:
    missing = ChildSpec(name="ghost", argv=["/nonexistent/prog"], env={}, cwd=os.getcwd())
    code, _, err = run(tmp_path, [py("svc", SLEEPER), missing])
    assert code == 127 and "cannot start 'ghost'" in err
