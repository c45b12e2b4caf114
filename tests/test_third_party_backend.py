"""A third party's backend, built as a wheel and installed beside the core wheel in a fresh
virtualenv (no repository on the path), passes the same contract suite as ours."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "third-party-backend"

pytestmark = pytest.mark.live  # builds wheels, a virtualenv, and runs the live contract suite in it


def run(argv: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False, **kw)  # type: ignore[call-overload]


@pytest.mark.timeout(900)
def test_third_party_wheel_passes_the_contract_suite(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    for folder in (ROOT / "packages" / "core", EXAMPLE):
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
            "prodserver-wsgiref[test]",
            "pytest-timeout",
        ]
    )
    if installed.returncode != 0 and "Django" in installed.stderr and "No matching distribution" in installed.stderr:
        pytest.skip("package index unreachable: cannot install Django/pytest into the fresh virtualenv")
    assert installed.returncode == 0, installed.stderr
    tests = tmp_path / "tests"
    shutil.copytree(EXAMPLE / "tests", tests)
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
            str(tests),
        ],
        cwd=tmp_path,
        env=env,
    )
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    summary = result.stdout.strip().splitlines()[-1]
    passed = int(re.search(r"(\d+) passed", summary).group(1))  # type: ignore[union-attr]
    assert passed >= 12 and "failed" not in summary, summary  # static + live contract tests ran
