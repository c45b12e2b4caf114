"""Third parties' backends, built as wheels and installed beside the core wheel in a fresh
virtualenv (no repository on the path), pass the same contract suites as ours: the web example
(``examples/third-party-backend``) the web suite, the worker example (``examples/third-party-worker``)
the worker suite. One virtualenv and one pytest run serve both."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: example folder -> (distribution, its contract class, contract tests that must pass: static + live)
EXAMPLES = {
    "third-party-backend": ("prodserver-wsgiref", "TestWsgirefContract", 12),
    "third-party-worker": ("prodserver-sqlitequeue", "TestSqliteQueueContract", 12),
}

pytestmark = pytest.mark.live  # builds wheels, a virtualenv, and runs the live contract suite in it


def run(argv: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False, **kw)  # type: ignore[call-overload]


@pytest.mark.timeout(900)
def test_third_party_wheels_pass_the_contract_suites(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    for folder in (ROOT / "packages" / "core", *(ROOT / "examples" / name for name in EXAMPLES)):
        built = run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(wheels), str(folder)])
        assert built.returncode == 0, built.stdout + built.stderr
    venv.EnvBuilder(with_pip=True).create(tmp_path / "venv")
    py = tmp_path / "venv" / "bin" / "python"
    installed = run(
        [
            str(py),
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            "--find-links",
            str(wheels),
            *(f"{dist}[test]" for dist, _, _ in EXAMPLES.values()),
            "pytest-timeout",
        ]
    )
    if installed.returncode != 0 and "Django" in installed.stderr and "No matching distribution" in installed.stderr:
        pytest.skip("package index unreachable: cannot install Django/pytest into the fresh virtualenv")
    assert installed.returncode == 0, installed.stderr
    for name in EXAMPLES:
        shutil.copytree(ROOT / "examples" / name / "tests", tmp_path / name / "tests")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["DJANGO_SETTINGS_MODULE"] = "django_prodserver.testing.project.settings"
    result = run(
        [
            str(py),
            "-m",
            "pytest",
            "-p",
            "pytest_django",
            "--import-mode=importlib",
            "-q",
            "-W",
            "error",
            "-p",
            "no:cacheprovider",
            "--junitxml",
            str(tmp_path / "results.xml"),
            *(str(tmp_path / name / "tests") for name in EXAMPLES),
        ],
        cwd=tmp_path,
        env=env,
    )
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    passed = Counter(
        case.get("classname", "").rsplit(".", 1)[-1]
        for case in ET.parse(tmp_path / "results.xml").iter("testcase")
        if not any(child.tag in ("failure", "error", "skipped") for child in case)
    )
    for _dist, contract, least in EXAMPLES.values():
        assert passed[contract] >= least, (contract, passed, result.stdout[-3000:])  # static + live tests ran
