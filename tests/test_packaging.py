"""Built wheels install into a fresh virtualenv, and upgrading from upstream 3.0.0 works.

Upstream django-prodserver 3.0.0 owns site-packages/django_prodserver/. An in-place upgrade
installs django-prodserver-core first and uninstalls 3.0.0 after, which deletes every file
3.0.0 listed, including ours if we lived at the same path. Core therefore installs its
package under _django_prodserver_core/ with a .pth file (docs/decisions/0002-upgrade-from-3x.md).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tarfile
import venv
from pathlib import Path

import pytest

from django_prodserver.testing.processes import free_port, project_environ, start, wait_http

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
import release  # noqa: E402

# Builds every sdist and wheel and installs them into fresh virtualenvs from the index: minutes.
pytestmark = [pytest.mark.live, pytest.mark.timeout(900)]

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
                "--sdist",
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


def serves_http(py: Path, tmp: Path, backend: str = "gunicorn", args: object = None) -> str:
    """Start `prodserver web` from the installed (non-editable) packages; return the first body."""
    port = free_port()
    web: dict[str, object] = {"BACKEND": backend, "OPTIONS": {"port": port, "workers": 1, "drain_delay": 0}}
    if args is not None:  # upstream 3.x style: the bind is a native flag, no OPTIONS
        web = {"BACKEND": backend, "ARGS": {"bind": f"127.0.0.1:{port}", "workers": "1"}}
    env = project_environ({"web": web}, tmp)
    for key in ("PYTHONPATH", "VIRTUAL_ENV"):
        env.pop(key, None)
    proc = start([str(py), "-m", "django", "prodserver", "web"], env, tmp, tmp / "server.log")
    try:
        return wait_http(proc, port, timeout=60).body.decode()
    finally:
        assert proc.stop(timeout=15) == 0, proc.output()


def doc_command(page: str, starts: str) -> list[str]:
    """The first shell line of ``page`` that starts with ``starts``, as argv (quotes removed)."""
    for line in (ROOT / page).read_text().splitlines():
        if line.startswith(starts):
            command = line.split("#", 1)[0].strip()
            return [part.strip('"') for part in command.split()]
    raise AssertionError(f"{page} has no line starting {starts!r}")


def tree_version(folder: str) -> str:
    return release.find(folder).version


def installed_version(py: Path, dist: str) -> str:
    out = run([str(py), "-c", f"import importlib.metadata as m; print(m.version({dist!r}))"])
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_hatch_builds_every_package(wheelhouse: Path) -> None:
    built = sorted(p.name for p in wheelhouse.glob("*.whl"))
    assert len(built) == len(PACKAGES), built
    for name in PACKAGES:
        dist = release.find(name)
        assert f"{dist.wheel_stem}-{dist.version}-py3-none-any.whl" in built, (name, built)


def test_every_distribution_is_fit_for_the_package_index(wheelhouse: Path) -> None:
    """Each wheel's METADATA has a final version, the MIT license and its file, the classifiers,
    the Project-URLs and a README with absolute links; twine check --strict passes on wheel and
    sdist, and the sdist carries the LICENSE too."""
    problems = {w.name: release.metadata_problems(w) for w in sorted(wheelhouse.glob("*.whl"))}
    assert problems and not any(problems.values()), {k: v for k, v in problems.items() if v}
    files = sorted(str(p) for p in wheelhouse.iterdir() if p.suffix in (".whl", ".gz"))
    assert len(files) == 2 * len(PACKAGES), files
    twine = run([sys.executable, "-m", "twine", "check", "--strict", *files])
    assert twine.returncode == 0, twine.stdout + twine.stderr
    for sdist in wheelhouse.glob("*.tar.gz"):
        with tarfile.open(sdist) as tar:
            assert any(n.endswith("/LICENSE") for n in tar.getnames()), f"{sdist.name} has no LICENSE"


def test_the_readme_install_line_installs_ours_without_pre(wheelhouse: Path, tmp_path: Path) -> None:
    """`pip install "django-prodserver[granian]"`, exactly as the README says (plus our
    wheelhouse), gets our 4.x and not upstream's 3.0.0 from the index; the backend imports,
    shows in `prodserver --list` of a fresh startproject, and serves."""
    py = make_venv(tmp_path / "venv")
    if not index_reachable(py):
        pytest.skip("package index unreachable: the README's line needs it for Django and granian")
    line = doc_command("README.md", 'pip install "django-prodserver[')
    assert line == ["pip", "install", "django-prodserver[gunicorn]"], line
    result = pip(py, "--find-links", str(wheelhouse), "django-prodserver[granian]")
    assert result.returncode == 0, result.stderr
    assert installed_version(py, "django-prodserver") == tree_version("prodserver")
    assert installed_version(py, "django-prodserver-granian") == tree_version("backend-granian")
    imported = run([str(py), "-c", "import django_prodserver_granian"])
    assert imported.returncode == 0, imported.stderr
    project = tmp_path / "site"
    project.mkdir()
    made = run([str(py), "-m", "django", "startproject", "mysite", str(project)])
    assert made.returncode == 0, made.stderr
    settings = project / "mysite" / "settings.py"
    settings.write_text(
        settings.read_text()
        + '\nINSTALLED_APPS += ["django_prodserver"]\n'
        + 'PRODUCTION_PROCESSES = {"web": {"BACKEND": "granian", "OPTIONS": {"workers": 1}}}\n'
    )
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "PYTHONPATH", "VIRTUAL_ENV")}
    listed = run([str(py), "manage.py", "prodserver", "--list"], cwd=project, env=env)
    assert listed.returncode == 0, listed.stdout + listed.stderr
    row = next((r for r in listed.stdout.splitlines() if r.split()[:1] == ["web"]), "")
    assert "granian" in row and "django-prodserver-granian" in row and tree_version("backend-granian") in row, (
        listed.stdout
    )
    assert '"ok": true' in serves_http(py, tmp_path, "granian")


def test_upgrade_from_upstream_3_0_0_keeps_a_working_install(wheelhouse: Path, tmp_path: Path) -> None:
    """docs/upgrading-from-3.md's line, without --pre, over upstream 3.0.0: ours replaces it
    and settings written for 3.x still plan (--dry-run) and serve."""
    py = make_venv(tmp_path / "venv")
    if not index_reachable(py):
        pytest.skip("package index unreachable: cannot fetch upstream django-prodserver==3.0.0")
    result = pip(py, "django-prodserver[gunicorn]==3.0.0")
    assert result.returncode == 0, result.stderr
    assert "3.0.0" in run([str(py), "-c", "import django_prodserver; print(django_prodserver.__version__)"]).stdout
    line = doc_command("docs/upgrading-from-3.md", "pip install -U ")
    assert line == ["pip", "install", "-U", "django-prodserver[gunicorn]"], line
    result = pip(py, *line[2:], "--find-links", str(wheelhouse))
    assert result.returncode == 0, result.stderr
    assert installed_version(py, "django-prodserver") == tree_version("prodserver")
    check = run(
        [
            str(py),
            "-c",
            "import django_prodserver, django_prodserver.management.commands.prodserver as c;"
            "print(django_prodserver.__version__, django_prodserver.__file__)",
        ]
    )
    assert check.returncode == 0, check.stderr
    assert check.stdout.startswith(tree_version("core")), check.stdout
    upstream = "django_prodserver.backends.servers.gunicorn.GunicornServer"
    processes = {"web": {"BACKEND": upstream, "ARGS": {"bind": "127.0.0.1:8111", "workers": "1"}}}
    env = project_environ(processes, tmp_path)
    for key in ("PYTHONPATH", "VIRTUAL_ENV"):
        env.pop(key, None)
    dry = run([str(py), "-W", "default", "-m", "django", "prodserver", "--dry-run", "web"], env=env, cwd=tmp_path)
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert re.search(r"gunicorn.*--bind[= ]127\.0\.0\.1:8111", dry.stdout), dry.stdout
    assert 'write "BACKEND": "gunicorn" instead' in dry.stderr, dry.stderr
    assert '"ok": true' in serves_http(py, tmp_path, upstream, args=True)
