"""Several processes under one supervisor: every output line whole, prefixed, in order, and a
crashing child's last bytes kept (issue 5, point 1); settings bytes reach children unchanged."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "fixtures" / "supervisor"))
from harness import Starter, script

pytestmark = pytest.mark.timeout(120)


def test_crashing_child_keeps_its_last_lines_and_its_exit_code(supervise: Starter) -> None:
    run = supervise(
        {
            "idle": script("worker_like.py", ENV={"WORKER_NAME": "idle"}),
            "crasher": script("crash.py", "3", "0.5", RESTART="never"),
        },
        "idle",
        "crasher",
    )
    assert run.wait(60) == 3, run.both()
    out, err = run.out(), run.err()
    assert "crasher | crash: line one\ncrasher | crash: line two\n" in out
    # The last line had no newline when the child died: it is still written, whole and prefixed.
    assert "crasher | crash: last words without newline\n" in out
    assert "crasher | crash: on stderr\n" in err  # stderr stays stderr
    assert "idle    | idle: stopped cleanly" in out  # the others were stopped, not orphaned
    assert "prodserver | 'crasher'" in err and "exited with code 3" in err


def test_no_prefix_and_forced_colour(supervise: Starter) -> None:
    procs = {"a": script("crash.py", "0", ONESHOT=True), "bb": script("crash.py", "0", ONESHOT=True)}
    # One after the other: a second supervisor of the same processes in the same project is
    # refused while the first still answers on its control socket.
    plain = supervise(procs, "a", "bb", args=["--no-prefix"])
    assert plain.wait(60) == 0, plain.both()
    coloured = supervise(procs, "a", "bb", args=["--force-color"])
    assert coloured.wait(60) == 0, coloured.both()
    lines = plain.out().splitlines()
    assert lines.count("crash: last words without newline") == 2 and not any("|" in line for line in lines)
    assert "\x1b[" not in plain.out()
    assert re.search(r"\x1b\[\d+ma  \| \x1b\[0mcrash: line one", coloured.out()), coloured.out()
    # Not a terminal and not forced: plain prefixes (checked in the first test's output too).


def test_flood_from_two_children_is_complete_whole_and_ordered(supervise: Starter) -> None:
    count = 30000
    run = supervise(
        {
            "f1": script("flood.py", str(count), ENV={"FLOOD_TAG": "one"}),
            "f2": script("flood.py", str(count), ENV={"FLOOD_TAG": "two"}),
        },
        "f1",
        "f2",
    )
    run.wait_for("one done", 90)
    run.wait_for("two done", 90)
    run.signal(15)
    assert run.wait(60) == 0, run.err()
    pattern = re.compile(r"^(f1|f2) \| (one|two) (\d{6}) (x*)$")
    seen: dict[str, list[int]] = {"one": [], "two": []}
    for line in run.out().splitlines():
        if line.endswith(" done"):
            continue
        m = pattern.match(line)
        assert m, f"mangled line: {line[:200]!r}"
        name, tag, number, xs = m.groups()
        assert (name, tag) in (("f1", "one"), ("f2", "two"))
        assert len(xs) == int(number) % 97
        seen[tag].append(int(number))
    assert seen["one"] == list(range(count)) and seen["two"] == list(range(count))


def test_shell_metacharacters_reach_the_child_byte_for_byte(supervise: Starter) -> None:
    nasty = "a b; $(touch /tmp/pwned) `id` | & > 'q' \"dq\" \\ * $HOME %s {}"
    args = ["$HOME", "a;b", "*", "'x'", "--", "$(id)"]
    run = supervise(
        {
            "w": script("worker_like.py", "0", *args, ENV={"ECHO": nasty, "WORKER_NAME": "w"}),
            "c": script("crash.py", "0", "1.0", RESTART="never"),
        },
        "w",
        "c",
    )
    assert run.wait(60) == 0, run.both()
    assert f"arg={args!r} env={nasty!r}" in run.out(), run.out()
