"""``python3 dev.py release <distribution> <version>`` on a throwaway copy of this repository:
every step runs for real except the upload, and a dirty tree, a failing test or a dry run
leave no version, commit or tag behind."""

from __future__ import annotations

import datetime
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
import dev  # noqa: E402
import release  # noqa: E402

TAG = "django-prodserver-granian-v4.0.1"
#: The tests the release runs in the copy: a quick, real selection (the full run is CI's job).
SELECTION = [
    "--",
    "-m",
    "not live",
    "-k",
    "test_core_top_level_shows_the_pipeline or test_production_defaults",
    "-p",
    "no:cacheprovider",
]


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """This working tree's files (committed or not, ignored ones left out) as a fresh repository."""
    copy = tmp_path / "repo"
    listed = git(ROOT, "ls-files", "--cached", "--others", "--exclude-standard", "-z").split("\0")
    for rel in filter(None, listed):
        src = ROOT / rel
        if src.is_file():
            (copy / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, copy / rel)
    git(copy, "init", "-q", "-b", "main")
    git(copy, "-c", "user.name=t", "-c", "user.email=t@example.invalid", "add", "-A")
    git(copy, "-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-qm", "copy")
    git(copy, "config", "user.name", "t")
    git(copy, "config", "user.email", "t@example.invalid")
    return copy


def run_release(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, str(repo / "release.py"), "backend-granian", "4.0.1", "--python", sys.executable, *args]
    return subprocess.run(argv, cwd=repo, capture_output=True, text=True, timeout=900, check=False)


def test_dev_py_hands_dry_run_to_the_release_and_the_rest_to_pytest() -> None:
    """`python3 dev.py release backend-granian 4.0.1 --dry-run -- -x`, as CONTRIBUTING.md types it
    (not run here: dev.py would re-install the venv it is given from the copy's packages)."""
    args = dev.parse_args(["release", "backend-granian", "4.0.1", "--dry-run", "--", "-x"])
    assert (args.distribution, args.version, args.dry_run, args.pytest_args) == (
        "backend-granian",
        "4.0.1",
        True,
        ["-x"],
    )
    args = dev.parse_args(["release", "granian", "4.0.2"])
    assert (args.dry_run, args.pytest_args) == (False, [])


def test_unreleased_moves_under_the_version_and_stays_on_top() -> None:
    text = "# Changelog\n\n## [Unreleased]\n\n### Fixed\n\n- a fix\n\n## [4.0.0] - 2026-01-01\n\n- first\n"
    moved = release.move_unreleased(text, "4.0.1", datetime.date(2026, 2, 3))
    assert moved.startswith("# Changelog\n\n## [Unreleased]\n\n## [4.0.1] - 2026-02-03\n\n### Fixed\n\n- a fix\n")
    assert release.unreleased_body(moved) == ""
    assert release.unreleased_body(text) == "### Fixed\n\n- a fix"


@pytest.mark.live
@pytest.mark.timeout(1200)
def test_release_tags_one_distribution_and_prints_the_upload(repo: Path) -> None:
    result = run_release(repo, *SELECTION)
    assert result.returncode == 0, result.stdout + result.stderr
    last = result.stdout.strip().splitlines()[-1]
    assert last == f"git push origin {TAG} && twine upload dist/django_prodserver_granian-4.0.1*", last
    assert git(repo, "tag", "--list", TAG) == TAG
    assert git(repo, "status", "--porcelain") == ""
    assert git(repo, "log", "-1", "--format=%s") == "Release django-prodserver-granian 4.0.1"
    granian = release.find("backend-granian", repo)
    assert granian.version == "4.0.1"
    assert release.find("core", repo).version == "4.0.0", "only the released distribution moves"
    changelog = granian.changelog.read_text()
    assert f"## [Unreleased]\n\n## [4.0.1] - {datetime.date.today().isoformat()}\n\n### Added" in changelog
    built = sorted(p.name for p in (repo / "dist").iterdir())
    assert built == ["django_prodserver_granian-4.0.1-py3-none-any.whl", "django_prodserver_granian-4.0.1.tar.gz"]
    # the fresh virtualenv held the oldest core this backend declares (>=4.0)
    assert "django-prodserver-granian 4.0.1 django-prodserver-core 4.0.0 (1 backends load)" in result.stdout


@pytest.mark.live
def test_dry_run_shows_every_step_and_changes_nothing(repo: Path) -> None:
    head = git(repo, "rev-parse", "HEAD")
    result = run_release(repo, "--dry-run", "--", "-x")
    assert result.returncode == 0, result.stdout + result.stderr
    for step in ("clean", "tests", "bump", "build", "twine check", "fresh virtualenv", "tag"):
        assert step in result.stdout, (step, result.stdout)
    assert "$ git tag -a django-prodserver-granian-v4.0.1" in result.stdout
    assert "packages/core -q -x" in result.stdout, "pytest arguments after -- reach the test step"
    assert result.stdout.strip().splitlines()[-1].startswith(f"git push origin {TAG} && twine upload ")
    assert git(repo, "rev-parse", "HEAD") == head and git(repo, "tag") == ""
    assert git(repo, "status", "--porcelain") == "" and not (repo / "dist").exists()


@pytest.mark.live
def test_a_dirty_tree_or_a_failing_test_stops_the_release(repo: Path) -> None:
    readme = repo / "packages" / "backend-granian" / "README.md"
    readme.write_text(readme.read_text() + "\nlocal edit\n")
    result = run_release(repo, *SELECTION)
    assert result.returncode == 1 and "working tree has changes" in result.stderr, result.stderr
    git(repo, "checkout", "--", str(readme))

    failing = repo / "packages" / "backend-granian" / "tests" / "test_release_blocker.py"
    failing.write_text("def test_release_blocker() -> None:\n    assert False, 'broken'\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "a broken test")
    result = run_release(repo, "--", "-k", "test_release_blocker", "-p", "no:cacheprovider")
    assert result.returncode == 1 and "test_release_blocker" in result.stderr, result.stdout + result.stderr
    assert git(repo, "tag") == "" and release.find("granian", repo).version == "4.0.0"


def test_pre_releases_and_older_versions_are_refused(repo: Path) -> None:
    for version, why in (("4.0.1rc1", "final release"), ("3.9.0", "older than")):
        argv = [sys.executable, str(repo / "release.py"), "granian", version, "--dry-run"]
        result = subprocess.run(argv, cwd=repo, capture_output=True, text=True, timeout=60, check=False)
        assert result.returncode == 1 and why in result.stderr, result.stderr


@pytest.mark.parametrize("dist", release.distributions(), ids=lambda d: d.folder.name)
def test_versions_are_final_and_changelogs_keep_a_changelog(dist: release.Distribution) -> None:
    """What the README's install line resolves must be a final release, and so must every range
    between siblings (a range whose floor is a pre-release tells pip to consider pre-releases); each
    changelog has `## [Unreleased]` on top and only Keep a Changelog's sections."""
    assert release.FINAL_VERSION.match(dist.version), f"{dist.version_file}: {dist.version} is not X.Y.Z"
    prerelease = re.findall(r'"(django-prodserver[^"]*\d(?:a|b|rc|\.dev)\d[^"]*)"', dist.pyproject)
    assert not prerelease, f"{dist.folder.name}/pyproject.toml: pre-release floors {prerelease}"
    text = dist.changelog.read_text()
    headings = re.findall(r"^## .*$", text, re.M)
    assert headings[:1] == ["## [Unreleased]"], f"{dist.changelog}: the first section must be '## [Unreleased]'"
    for heading in headings[1:]:
        assert re.fullmatch(r"## \[\d+\.\d+\.\d+\] - \d{4}-\d{2}-\d{2}", heading), heading
    sections = set(re.findall(r"^### (.*)$", text, re.M))
    assert sections <= {"Added", "Changed", "Deprecated", "Removed", "Fixed", "Security"}, sections


def test_metadata_check_names_each_missing_field(tmp_path: Path) -> None:
    """A wheel like 4.0.0a1's (pre-release, no license file, no classifiers or URLs, a relative
    README link) gets one problem per missing field; what tests/test_packaging.py runs on every
    built wheel."""
    wheel = tmp_path / "django_prodserver_granian-4.0.0a1-py3-none-any.whl"
    meta = (
        "Metadata-Version: 2.4\nName: django-prodserver-granian\nVersion: 4.0.0a1\n"
        "Description-Content-Type: text/markdown\n\nSee [docs](../../docs/backends/granian.md).\n"
    )
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("django_prodserver_granian-4.0.0a1.dist-info/METADATA", meta)
    problems = "\n".join(release.metadata_problems(wheel))
    for expected in (
        "'4.0.0a1' is not a final release",
        "License-Expression",
        "no LICENSE",
        "Development Status :: 5 - Production/Stable",
        "Framework :: Django :: 6.0",
        "Project-URL 'Documentation'",
        "Project-URL 'Issues'",
        "'../../docs/backends/granian.md' is relative",
        "'Changelog' is not packages/backend-granian/CHANGELOG.md",
    ):
        assert expected in problems, (expected, problems)
