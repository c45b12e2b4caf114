"""The command backend's notes say what will happen: one-shot only when it is one (issue 15, point 3)."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from django_prodserver.testing.processes import project_environ

CHECK = {"BACKEND": "command", "ARGS": ["check"]}
LONG_RUNNING = "long-running (ONESHOT is False)"
ONE_SHOT = "one-shot: runs once, before any long-running process starts"


def notes_of(out: str) -> dict[str, list[str]]:
    """``--dry-run`` output -> the notes of each process."""
    notes: dict[str, list[str]] = {}
    current = ""
    for line in out.splitlines():
        if line.startswith("process '"):
            current = line.split("'")[1]
            notes[current] = []
        elif line.strip().startswith("note: ") and current:
            notes[current].append(line.strip()[len("note: ") :])
    return notes


def dry_run(*names: str) -> dict[str, list[str]]:
    out = io.StringIO()
    call_command("prodserver", *names, "--dry-run", stdout=out, stderr=io.StringIO())
    return notes_of(out.getvalue())


def test_two_long_running_commands_get_no_one_shot_note(settings: Any) -> None:
    settings.PRODUCTION_PROCESSES = {"a": {**CHECK, "ONESHOT": False}, "b": {**CHECK, "ONESHOT": False}}
    notes = dry_run("a", "b")
    for name in ("a", "b"):
        assert not any("one-shot" in n or "runs once" in n for n in notes[name]), notes
        assert any(n.startswith(f"{LONG_RUNNING}: starts together with the others") for n in notes[name])


def test_default_commands_with_others_are_described_as_one_shots(settings: Any) -> None:
    settings.PRODUCTION_PROCESSES = {"migrate": CHECK, "warm": CHECK, "loop": {**CHECK, "ONESHOT": False}}
    notes = dry_run("migrate", "warm", "loop")
    for name in ("migrate", "warm"):
        assert [n for n in notes[name] if n.startswith(ONE_SHOT)], notes
    assert not any("runs once, first" in n for ns in notes.values() for n in ns)  # only one can be first
    assert not any(ONE_SHOT in n for n in notes["loop"])


def test_a_command_started_alone_has_no_supervisor_note(settings: Any) -> None:
    settings.PRODUCTION_PROCESSES = {"migrate": CHECK}
    assert dry_run("migrate") == {"migrate": []}


@pytest.mark.live
def test_the_real_start_prints_only_true_notes(tmp_path: Path) -> None:
    """Two commands that are not one-shots, started for real with -v 2 (where a start shows its
    notes): both run, neither is called one-shot."""
    processes = {"a": {**CHECK, "ONESHOT": False}, "b": {**CHECK, "ONESHOT": False, "RESTART": "never"}}
    result = subprocess.run(
        [sys.executable, "-m", "django", "prodserver", "a", "b", "--skip-checks", "-v", "2"],  # notes: -v 2
        env=project_environ(processes, tmp_path),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "System check identified no issues" in result.stdout + result.stderr, result.stderr
    assert "[a] note: long-running (ONESHOT is False)" in result.stderr, result.stderr
    assert "[b] note: long-running (ONESHOT is False)" in result.stderr
    assert "ONESHOT)" not in result.stderr and "one-shot" not in result.stderr
