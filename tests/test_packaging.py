"""Built wheels install into a fresh virtualenv, and upgrading from upstream 3.0.0 works.

Upstream django-prodserver 3.0.0 owns site-packages/django_prodserver/. An in-place upgrade
installs django-prodserver-core first and uninstalls 3.0.0 after, which deletes every file
3.0.0 listed, including ours if we lived at the same path. Core therefore installs its
package under _django_prodserver_core/ with a .pth file (docs/decisions/0002-upgrade-from-3x.md).
"""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

import pytest

from django_prodserver.testing.processes import free_port, project_environ, start, wait_http

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.live  # builds every wheel and installs it into fresh virtualenvs

PACKAGES = sorted(p.name for p in (ROOT / "packages").iterdir() if (p / "pyproject.toml").exists())


def run(argv: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False, **kw)  # type: ignore[call-overload]


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheels")
    for name in PACKAGES:
        result = run(
            [
                sys.executable,
                "-m",
                "build",
                "--wheel",
                "--no-isolation",
                "--outdir",
                str(out),
                str(ROOT / "packages" / name),
            ]
        )
        assert result.returncode == 0, result.stdout + result.stderr
    return out


def make_venv(path: Path) -> Path:
    venv.EnvBuilder(with_pip=True, clear=True).create(path)
    return path / "bin" / "python"


def pip(py: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run([str(py), "-m", "pip", "install", "--disable-pip-version-check", "-q", *args])


def index_reachable(py: Path) -> bool:
    result = run(
        [
            str(py),
            "-m",
            "pip",
            "download",
            "--no-deps",
            "-q",
            "-d",
            str(py.parent.parent / "probe"),
            "django-prodserver==3.0.0",
        ]
    )
    return result.returncode == 0


def serves_http(py: Path, tmp: Path) -> str:
    """Start `prodserver web` from the installed (non-editable) packages; return the first body."""
    port = free_port()
    processes = {"web": {"BACKEND": "gunicorn", "OPTIONS": {"port": port, "workers": 1, "drain_delay": 0}}}
    env = project_environ(processes, tmp)
    for key in ("PYTHONPATH", "VIRTUAL_ENV"):
        env.pop(key, None)
    proc = start([str(py), "-m", "django", "prodserver", "web"], env, tmp, tmp / "server.log")
    try:
        return wait_http(proc, port, timeout=60).body.decode()
    finally:
        assert proc.stop(timeout=15) == 0, proc.output()


def test_hatch_builds_every_package(wheelhouse: Path) -> None:
    built = sorted(p.name for p in wheelhouse.glob("*.whl"))
    assert len(built) == len(PACKAGES), built
    for name in PACKAGES:
        dist = "django_prodserver" if name == "prodserver" else "django_prodserver_" + name.removeprefix("backend-")
        assert any(n.startswith(dist.replace("-", "_") + "-4") for n in built), (name, built)


def test_non_editable_install_of_the_extra_works(wheelhouse: Path, tmp_path: Path) -> None:
    py = make_venv(tmp_path / "venv")
    result = pip(py, "--find-links", str(wheelhouse), "--pre", "django-prodserver[gunicorn]")
    if result.returncode != 0 and "No matching distribution" in result.stderr and "Django" in result.stderr:
        pytest.skip("package index unreachable: cannot install Django")
    assert result.returncode == 0, result.stderr
    assert '"ok": true' in serves_http(py, tmp_path)


def test_upgrade_from_upstream_3_0_0_keeps_a_working_install(wheelhouse: Path, tmp_path: Path) -> None:
    py = make_venv(tmp_path / "venv")
    if not index_reachable(py):
        pytest.skip("package index unreachable: cannot fetch upstream django-prodserver==3.0.0")
    result = pip(py, "django-prodserver[gunicorn]==3.0.0")
    assert result.returncode == 0, result.stderr
    assert "3.0.0" in run([str(py), "-c", "import django_prodserver; print(django_prodserver.__version__)"]).stdout
    result = pip(py, "-U", "--pre", "--find-links", str(wheelhouse), "django-prodserver[gunicorn]")
    assert result.returncode == 0, result.stderr
    check = run(
        [
            str(py),
            "-c",
            "import django_prodserver, django_prodserver.management.commands.prodserver as c;"
            "print(django_prodserver.__version__, django_prodserver.__file__)",
        ]
    )
    assert check.returncode == 0, check.stderr
    assert check.stdout.startswith("4."), check.stdout
    assert '"ok": true' in serves_http(py, tmp_path)
