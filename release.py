#!/usr/bin/env python3
"""Release one distribution of the monorepo: ``python3 dev.py release backend-granian 4.0.1``.

Checks the tree is clean and the tests of that package and of core pass, bumps the version,
moves the changelog's Unreleased section under the new version, builds sdist and wheel into
dist/, checks them (twine check --strict and the metadata fields the index needs), installs the
wheel into a fresh virtualenv beside the oldest sibling versions it declares, commits and tags
``<distribution>-v<version>``. It never uploads: the last line is the command that does.
Stdlib only (runs on Python 3.10 without tomllib).
"""

from __future__ import annotations

import argparse
import datetime
import email.parser
import re
import shutil
import subprocess
import sys
import tempfile
import venv
import zipfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent
#: The repository every Project-URL points into. We continue upstream's distribution name
#: ``django-prodserver`` (its 3.x line), so its repository is where the sources, docs and issues live.
REPOSITORY = "https://github.com/nanorepublica/django-prodserver"
#: What every built distribution's METADATA must carry (the package index shows these).
REQUIRED_CLASSIFIERS = (
    "Development Status :: 5 - Production/Stable",
    "Framework :: Django :: 4.2",
    "Framework :: Django :: 5.2",
    "Framework :: Django :: 6.0",
    "Programming Language :: Python :: 3.10",
    "Programming Language :: Python :: 3.14",
)
REQUIRED_URLS = ("Documentation", "Changelog", "Source", "Issues")
UNRELEASED = re.compile(r"^## \[Unreleased\][ \t]*$", re.M | re.I)
FINAL_VERSION = re.compile(r"^\d+\.\d+\.\d+$")
#: Run in the fresh virtualenv: load the distribution's backends and print what is installed.
PROBE = """
import importlib.metadata as m, sys
name, *siblings = sys.argv[1:]
eps = [ep for ep in m.entry_points(group="django_prodserver.backends") if ep.dist.name == name]
for ep in eps:
    ep.load()
print(name, m.version(name), *(f"{s} {m.version(s)}" for s in siblings), f"({len(eps)} backends load)")
"""


class ReleaseError(Exception):
    """A check failed; the message says what was found and what to do."""


@dataclass(frozen=True)
class Distribution:
    """One folder under packages/ as the release sees it."""

    folder: Path

    @property
    def pyproject(self) -> str:
        return (self.folder / "pyproject.toml").read_text()

    @property
    def name(self) -> str:
        match = re.search(r'^name = "([^"]+)"', self.pyproject, re.M)
        assert match, f"{self.folder}/pyproject.toml has no name"
        return match.group(1)

    @property
    def version_file(self) -> Path:
        match = re.search(r'^\[tool\.hatch\.version\]\npath = "([^"]+)"', self.pyproject, re.M)
        assert match, f"{self.folder}/pyproject.toml has no [tool.hatch.version] path"
        return self.folder / match.group(1)

    @property
    def version(self) -> str:
        match = re.search(r'__version__ = "([^"]+)"', self.version_file.read_text())
        assert match, f"{self.version_file} has no __version__"
        return match.group(1)

    @property
    def changelog(self) -> Path:
        return self.folder / "CHANGELOG.md"

    @property
    def wheel_stem(self) -> str:
        return self.name.replace("-", "_")

    def tag(self, version: str) -> str:
        return f"{self.name}-v{version}"

    def sibling_floors(self) -> dict[str, str]:
        """Each django-prodserver-* distribution it depends on -> the lower bound it declares."""
        deps = re.search(r"^dependencies = \[(.*?)\]", self.pyproject, re.M | re.S)
        floors: dict[str, str] = {}
        for name, floor in re.findall(
            r'"(django-prodserver-[a-z0-9-]+)(?:\[[^\]]*\])?>=([0-9.]+)', deps.group(1) if deps else ""
        ):
            floors[name] = floor
        return floors


def distributions(root: Path = ROOT) -> list[Distribution]:
    return [Distribution(p) for p in sorted((root / "packages").iterdir()) if (p / "pyproject.toml").exists()]


def find(spec: str, root: Path = ROOT) -> Distribution:
    """``backend-granian``, ``granian`` or ``django-prodserver-granian``."""
    for dist in distributions(root):
        if spec in (dist.folder.name, dist.name, dist.folder.name.removeprefix("backend-")):
            return dist
    known = ", ".join(d.folder.name for d in distributions(root))
    raise ReleaseError(f"no distribution {spec!r}: name a folder under packages/ ({known})")


def same_version(a: str, b: str) -> bool:
    """``4.0`` and ``4.0.0`` are one version (a range's floor is often written short)."""

    def key(v: str) -> tuple[int, ...]:
        parts = [int(p) for p in v.split(".")]
        while parts and parts[-1] == 0:
            parts.pop()
        return tuple(parts)

    return key(a) == key(b)


def newer(a: str, b: str) -> bool:
    return tuple(int(p) for p in a.split(".")) > tuple(int(p) for p in b.split("."))


# -- changelog ------------------------------------------------------------------------------


def unreleased_body(text: str) -> str:
    """What the ``## [Unreleased]`` section holds (up to the next ``## `` heading)."""
    match = UNRELEASED.search(text)
    if not match:
        raise ReleaseError("CHANGELOG.md has no '## [Unreleased]' section: add it at the top with the changes")
    rest = text[match.end() :]
    nxt = re.search(r"^## ", rest, re.M)
    return rest[: nxt.start() if nxt else len(rest)].strip()


def move_unreleased(text: str, version: str, date: datetime.date) -> str:
    """Keep an empty ``## [Unreleased]`` on top; what it held goes under ``## [version] - date``."""
    match = UNRELEASED.search(text)
    assert match
    body = unreleased_body(text)
    rest = text[match.end() :].lstrip("\n")[len(body) :].lstrip("\n")
    moved = f"{text[: match.end()]}\n\n## [{version}] - {date.isoformat()}\n\n{body}\n"
    return moved + (f"\n{rest}" if rest else "")


# -- built distributions --------------------------------------------------------------------


def wheel_metadata(wheel: Path) -> email.message.Message:
    with zipfile.ZipFile(wheel) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        return email.parser.Parser().parsestr(zf.read(name).decode())


def wheel_license_files(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as zf:
        return [n for n in zf.namelist() if re.search(r"\.dist-info/licenses/LICENSE$", n)]


def metadata_problems(wheel: Path, root: Path = ROOT) -> list[str]:
    """What the package index would show missing or wrong for this wheel (empty: fit)."""
    meta = wheel_metadata(wheel)
    problems: list[str] = []
    version = meta.get("Version", "")
    if not FINAL_VERSION.match(version):
        problems.append(f"Version {version!r} is not a final release (X.Y.Z): pip skips it without --pre")
    if meta.get("License-Expression") != "MIT":
        problems.append(f"License-Expression is {meta.get('License-Expression')!r}, expected 'MIT'")
    if not wheel_license_files(wheel):
        problems.append("no LICENSE in .dist-info/licenses/ (license-files in pyproject.toml)")
    classifiers = set(meta.get_all("Classifier") or [])
    problems += [f"classifier missing: {c}" for c in REQUIRED_CLASSIFIERS if c not in classifiers]
    urls = dict(u.split(", ", 1) for u in meta.get_all("Project-URL") or [])
    for label in REQUIRED_URLS:
        if not urls.get(label, "").startswith(REPOSITORY):
            problems.append(f"Project-URL {label!r} is {urls.get(label)!r}, expected one under {REPOSITORY}")
    if meta.get("Description-Content-Type") != "text/markdown":
        problems.append("Description-Content-Type is not text/markdown")
    description = str(meta.get_payload() or "")
    relative = re.findall(r"\]\((?!https?://|#)([^)]+)\)", description)
    problems += [f"README link {link!r} is relative: it is broken on the package index" for link in relative]
    ours = [*urls.values(), *re.findall(r"\]\((https?://[^)\s]+)\)", description)]
    problems += [f"{url} names no file in this repository" for url in ours if not in_repository(url, root)]
    folder = next((d.folder.name for d in distributions(root) if d.name == meta.get("Name")), None)
    if folder and urls.get("Changelog") != f"{REPOSITORY}/blob/main/packages/{folder}/CHANGELOG.md":
        problems.append(f"Project-URL 'Changelog' is not packages/{folder}/CHANGELOG.md")
    return problems


def in_repository(url: str, root: Path) -> bool:
    """False for a link into REPOSITORY's main branch whose path this tree does not have."""
    match = re.match(re.escape(REPOSITORY) + r"/(?:blob|tree)/main/([^#?]*)", url)
    return not match or (root / match.group(1)).exists()


# -- steps ----------------------------------------------------------------------------------


class Releaser:
    def __init__(self, dist: Distribution, version: str, python: Path, dry_run: bool, pytest_args: list[str]) -> None:
        self.dist, self.version, self.python, self.dry_run = dist, version, python, dry_run
        self.pytest_args = pytest_args
        self.root = dist.folder.parent.parent
        self.out = self.root / "dist"
        self.step_no = 0

    def step(self, text: str) -> None:
        self.step_no += 1
        print(f"[{self.step_no}] {'(dry run) ' if self.dry_run else ''}{text}", flush=True)

    def run(self, argv: list[str], *, always: bool = False, **kw: object) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` (shown either way); in a dry run only when ``always`` (read-only checks)."""
        print("    $ " + " ".join(argv), flush=True)
        if self.dry_run and not always:
            return subprocess.CompletedProcess(argv, 0, "", "")
        result: subprocess.CompletedProcess[str] = subprocess.run(  # type: ignore[call-overload]
            argv, cwd=self.root, capture_output=True, text=True, check=False, **kw
        )
        if result.returncode != 0:
            raise ReleaseError(f"`{' '.join(argv)}` failed (exit {result.returncode}):\n{result.stdout}{result.stderr}")
        return result

    def git(self, *args: str, always: bool = False) -> str:
        return self.run(["git", *args], always=always).stdout.strip()

    def release(self) -> None:
        dist, version = self.dist, self.version
        self.step(f"check {dist.name} {dist.version} -> {version}")
        if not FINAL_VERSION.match(version):
            raise ReleaseError(f"version {version!r}: give a final release X.Y.Z (pip skips pre-releases by default)")
        # The version in the file may be the one to release (a distribution's first release).
        if newer(dist.version, version):
            raise ReleaseError(f"version {version} is older than {dist.name}'s current {dist.version}")
        tag = dist.tag(version)
        if self.git("tag", "--list", tag, always=True):
            raise ReleaseError(f"tag {tag} exists already: pick the next version")
        changes = unreleased_body(dist.changelog.read_text())
        if not changes:
            raise ReleaseError(f"{dist.changelog.relative_to(self.root)}: '## [Unreleased]' is empty; say what changed")

        self.step("check the working tree is clean")
        dirty = self.git("status", "--porcelain", always=True)
        if dirty:
            raise ReleaseError(f"the working tree has changes; commit or stash them first:\n{dirty}")

        self.step(f"run the tests of {dist.folder.name} and of core")
        folders = sorted({f"packages/{dist.folder.name}", "packages/core"})
        folders = [f for f in folders if (self.root / f / "tests").exists()]
        self.run([str(self.python), "-m", "pytest", *folders, "-q", *self.pytest_args])

        self.step(
            f"bump {dist.version_file.relative_to(self.root)} to {version}; Unreleased -> [{version}] in CHANGELOG.md"
        )
        if not self.dry_run:
            about = dist.version_file  # unchanged when it holds this version already
            about.write_text(re.sub(r'__version__ = "[^"]+"', f'__version__ = "{version}"', about.read_text()))
            dist.changelog.write_text(move_unreleased(dist.changelog.read_text(), version, datetime.date.today()))

        self.step(f"build sdist and wheel into {self.out.relative_to(self.root)}/")
        self.build(dist.folder, self.out, "--sdist", "--wheel")
        wheel = self.out / f"{dist.wheel_stem}-{version}-py3-none-any.whl"
        sdist = self.out / f"{dist.wheel_stem}-{version}.tar.gz"

        self.step("twine check --strict and the index's metadata fields")
        self.run([str(self.python), "-m", "twine", "check", "--strict", str(sdist), str(wheel)])
        if not self.dry_run:
            problems = metadata_problems(wheel)
            if problems:
                raise ReleaseError(f"{wheel.name}:\n  " + "\n  ".join(problems))

        floors = dist.sibling_floors()
        self.step(f"install the wheel into a fresh virtualenv with the oldest siblings it allows: {floors or 'none'}")
        if not self.dry_run:
            self.install_check(wheel, floors)

        self.step(f"commit and tag {tag}")
        self.git("add", str(dist.version_file), str(dist.changelog))
        self.git("commit", "-m", f"Release {dist.name} {version}")
        self.git("tag", "-a", tag, "-m", f"{dist.name} {version}\n\n{changes}")
        done = "Dry run: nothing was changed. A real run ends with" if self.dry_run else f"Tagged {tag} locally"
        print(f"{done}; nothing is uploaded. To publish {dist.name} {version}:", flush=True)
        print(f"git push origin {tag} && twine upload dist/{dist.wheel_stem}-{version}*", flush=True)

    def build(self, folder: Path, into: Path, *formats: str) -> None:
        """``python -m build`` with the venv's pinned hatchling (no isolated download)."""
        self.run([str(self.python), "-m", "build", *formats, "--no-isolation", "--outdir", str(into), str(folder)])

    def sibling_wheel(self, name: str, version: str, into: Path) -> None:
        """The wheel of ``name==version``: built from this tree when it is that version, from
        its release tag when there is one, else downloaded from the package index."""
        sibling = next(d for d in distributions(self.root) if d.name == name)
        if same_version(sibling.version, version):
            self.build(sibling.folder, into, "--wheel")
            return
        tag = sibling.tag(version if version.count(".") == 2 else version + ".0")
        if self.git("tag", "--list", tag, always=True):
            with tempfile.TemporaryDirectory() as tmp:
                archive = subprocess.run(
                    ["git", "archive", tag, str(sibling.folder.relative_to(self.root))],
                    cwd=self.root,
                    capture_output=True,
                    check=True,
                ).stdout
                subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
                self.build(Path(tmp) / sibling.folder.relative_to(self.root), into, "--wheel")
            return
        self.run([str(self.python), "-m", "pip", "download", "--no-deps", "-q", "-d", str(into), f"{name}=={version}"])

    def install_check(self, wheel: Path, floors: dict[str, str]) -> None:
        with tempfile.TemporaryDirectory(prefix="release-") as tmp:
            wheels = Path(tmp) / "wheels"
            for name, floor in floors.items():
                self.sibling_wheel(name, floor, wheels)
            env = Path(tmp) / "venv"
            venv.EnvBuilder(with_pip=True).create(env)
            py = env / "bin" / "python"
            pins = [f"{name}=={floor}" for name, floor in floors.items()]
            pip = [str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
            constraints = ["--constraint", str(self.root / "constraints.txt")]
            self.run([*pip, "--find-links", str(wheels), *constraints, str(wheel), *pins])
            names = [self.dist.name, *sorted(floors)]
            print("    " + self.run([str(py), "-c", PROBE, *names]).stdout.strip(), flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("distribution", help="a folder under packages/ (backend-granian), or the distribution's name")
    parser.add_argument("version", help="the new version, X.Y.Z")
    parser.add_argument("--dry-run", action="store_true", help="show every step; change, build and tag nothing")
    parser.add_argument(
        "--python", type=Path, default=Path(sys.executable), help="the venv's python (dev.py passes it)"
    )
    parser.epilog = "Arguments after -- go to pytest (e.g. -- -x)."
    argv = list(sys.argv[1:] if argv is None else argv)
    cut = argv.index("--") if "--" in argv else len(argv)
    args = parser.parse_args(argv[:cut])
    pytest_args = argv[cut + 1 :]
    if shutil.which("git") is None:
        print("release needs git on PATH", file=sys.stderr)
        return 2
    try:
        Releaser(find(args.distribution), args.version, args.python, args.dry_run, pytest_args).release()
    except ReleaseError as exc:
        print(f"release stopped: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
