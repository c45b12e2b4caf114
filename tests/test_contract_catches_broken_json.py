"""The contract suites' JSON-logs tests catch a backend that prints a broken JSON line: the web
and the worker suite, run through pytest on a backend that passes its own suite plus one line
written to fd 1 that is not JSON (``tests/fixtures/broken_json``), fail naming that line."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "broken_json"

pytestmark = pytest.mark.live  # the suites start a real server and a real worker

sys.path.insert(0, str(FIXTURES))
from broken_backends import BROKEN_LINE  # noqa: E402


@pytest.mark.timeout(300)
def test_json_logs_contract_fails_on_a_broken_line(tmp_path: Path) -> None:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(FIXTURES), env.get("PYTHONPATH", "")) if p)
    report = tmp_path / "results.xml"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            str(FIXTURES / "broken_contracts.py"),
            "-k",
            "test_json_logs_every_line_matches_the_schema",
            "-q",
            "--junitxml",
            str(report),
            "--basetemp",
            str(tmp_path / "runs"),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    failures = {
        case.get("classname", "").rsplit(".", 1)[-1]: case.find("failure") for case in ET.parse(report).iter("testcase")
    }
    assert set(failures) == {"TestBrokenWaitressContract", "TestBrokenDjangoTasksContract"}, result.stdout[-3000:]
    for contract, failure in failures.items():
        assert failure is not None, f"{contract} passed with a broken JSON line:\n{result.stdout[-3000:]}"
        text = failure.get("message", "") + (failure.text or "")
        assert "is not JSON" in text and repr(BROKEN_LINE) in text, f"{contract} failed otherwise:\n{text[-3000:]}"
