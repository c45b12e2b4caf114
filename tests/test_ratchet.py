"""Ratchet: every packages/backend-* keeps the layout a third party copies and CI relies on."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")

ROOT = Path(__file__).resolve().parent.parent
BACKENDS = sorted(p for p in (ROOT / "packages").glob("backend-*") if (p / "pyproject.toml").exists())
META = tomllib.loads((ROOT / "packages" / "prodserver" / "pyproject.toml").read_text())


def test_there_are_backends() -> None:
    assert len(BACKENDS) >= 1


@pytest.mark.parametrize("folder", BACKENDS, ids=lambda p: p.name)
def test_backend_package_layout(folder: Path) -> None:
    name = folder.name.removeprefix("backend-")
    project = tomllib.loads((folder / "pyproject.toml").read_text())["project"]
    assert project["name"] == f"django-prodserver-{name}"
    entry_points = project["entry-points"]["django_prodserver.backends"]
    assert name in entry_points or any(k.startswith(f"{name}-") for k in entry_points), entry_points
    module = f"django_prodserver_{name.replace('-', '_')}"
    src = folder / "src" / module
    assert re.search(r'__version__ = "\d+\.\d+\.\d+', (src / "__about__.py").read_text())
    assert (src / "py.typed").exists() and (src / "__init__.py").exists()
    assert (folder / "CHANGELOG.md").exists() and (folder / "README.md").exists()
    contract = (folder / "tests" / "test_contract.py").read_text()
    assert "Contract" in contract, "tests/test_contract.py must subclass the contract suite"
    core = [d for d in project["dependencies"] if d.startswith("django-prodserver-core")]
    assert core and "==" not in core[0] and ">=" in core[0] and "<" in core[0].split(">=", 1)[1], core
    assert any(
        any(req.startswith(f"django-prodserver-{name}") for req in reqs)
        for reqs in META["project"]["optional-dependencies"].values()
    ), f"no django-prodserver[...] extra installs django-prodserver-{name}"
    assert (ROOT / "docs" / "backends" / f"{name}.md").exists(), f"docs/backends/{name}.md is missing"


def test_sibling_dependencies_are_ranges() -> None:
    for folder in (ROOT / "packages").iterdir():
        pyproject = folder / "pyproject.toml"
        if not pyproject.exists():
            continue
        project = tomllib.loads(pyproject.read_text())["project"]
        reqs = list(project.get("dependencies", []))
        for extra in project.get("optional-dependencies", {}).values():
            reqs += extra
        for req in reqs:
            if req.startswith("django-prodserver"):
                assert "==" not in req, f"{folder.name}: {req} pins a sibling (use a range)"


# -- one shape for every backend package (issue 14) ------------------------------------

#: The names a backend package is made of (docs/writing-a-backend.md, "Package layout").
LAYOUT_MODULES = frozenset(
    {"__init__", "__about__", "__main__", "backend", "host", "drain", "preflight", "legacy", "testing"}
)

#: Private names that hide a layout role (the host was ``_run``/``_inprocess``, celery's ``_cli``
#: was no CLI): the role gets its layout name instead.
ROLE_ALIASES = frozenset({"_run", "_inprocess", "_launch", "_cli", "_application"}) | {
    f"_{name}" for name in LAYOUT_MODULES if not name.startswith("_")
}

#: What else a package may hold, each with its reason; private helpers (``_name.py``) need none.
EXTRA_MODULES: dict[str, dict[str, str]] = {
    "backend-dev": {
        "apps": "Django AppConfig (INSTALLED_APPS): makes `manage.py devserver` and the deploy check exist",
        "asgi": "the reloading ASGI servers (uvicorn --reload, granian --reload)",
        "checks": "the system checks the AppConfig registers (check --deploy, bad DEV entries)",
        "management": "Django finds the devserver command only in <app>/management/commands",
        "overrides": "a production process -> its development twin (the DEV override)",
        "reloader": "devserver's reloader: the supervisor's restart-on-code-change policy and its watcher",
        "watch": "which file changes restart the reloader's child",
    },
    "backend-dramatiq": {
        "boot": "public by dotted path: the broker module `python -m dramatiq` imports in each worker",
    },
    "backend-granian": {
        "proxies": "public by dotted path: granian imports --factory django_prodserver_granian.proxies:wsgi",
    },
    "backend-gunicorn": {
        "jsonlog": "public by dotted path: --logger-class django_prodserver_gunicorn.jsonlog.JsonLogger",
        "no_config": "public by dotted path: -c python:django_prodserver_gunicorn.no_config",
        "workers": "public by dotted path: gunicorn's -k worker classes",
    },
}


def _package_dir(folder: Path) -> Path:
    return folder / "src" / f"django_prodserver_{folder.name.removeprefix('backend-').replace('-', '_')}"


def _modules(package: Path) -> dict[str, Path]:
    """Dotted module name (relative to the package, ``__init__`` for the package) -> file."""
    found: dict[str, Path] = {}
    for path in sorted(package.rglob("*.py")):
        parts = list(path.relative_to(package).with_suffix("").parts)
        if parts[-1] == "__init__" and len(parts) > 1:
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


@pytest.mark.parametrize("folder", BACKENDS, ids=lambda p: p.name)
def test_backend_module_names(folder: Path) -> None:
    package = _package_dir(folder)
    allowed = EXTRA_MODULES.get(folder.name, {})
    unexpected = []
    for entry in sorted(package.iterdir()):
        if entry.name in ("py.typed", "__pycache__"):
            continue
        stem = entry.name.removesuffix(".py") if entry.is_file() else entry.name
        if entry.is_file() and not entry.name.endswith(".py"):
            unexpected.append(entry.name)
        elif stem in allowed:
            continue
        elif stem in ROLE_ALIASES:
            unexpected.append(entry.name)
        elif stem in LAYOUT_MODULES or stem.startswith("_"):
            continue
        else:
            unexpected.append(entry.name)
    stale = sorted(set(allowed) - {e.name.removesuffix(".py") for e in package.iterdir()})
    assert not unexpected, (
        f"{folder.name}: {', '.join(unexpected)} not in the backend layout "
        f"({', '.join(sorted(LAYOUT_MODULES))}, private _*.py helpers): rename it, "
        f"or add it with a reason to EXTRA_MODULES[{folder.name!r}] in tests/test_ratchet.py"
    )
    assert not stale, f"EXTRA_MODULES[{folder.name!r}] lists {stale}, which no longer exist(s)"


def _imports(package_name: str, module: str, path: Path, known: set[str]) -> set[str]:
    """Modules of the same package ``module`` imports, at any depth (function-level too)."""
    import ast

    is_package = path.name == "__init__.py"
    here = [] if module == "__init__" else module.split(".")
    base = here if is_package else here[:-1]
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                prefix = ".".join([package_name, *anchor, *([node.module] if node.module else [])])
            else:
                prefix = node.module or ""
            # ``from .x import y``: y is a submodule when one has that name, else a name in x.
            names = [
                f"{prefix}.{a.name}" if _rel(package_name, f"{prefix}.{a.name}") in known else prefix
                for a in node.names
            ]
        for name in names:
            if name != package_name and not name.startswith(package_name + "."):
                continue
            rel = _rel(package_name, name)
            if rel in known and rel != module:
                targets.add(rel)
    return targets


def _rel(package_name: str, dotted: str) -> str:
    return dotted.removeprefix(package_name).lstrip(".") or "__init__"


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected component of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _cycle_path(graph: dict[str, set[str]], component: list[str]) -> str:
    """One concrete loop through ``component``, e.g. ``a -> b -> a``."""
    start, members = component[0], set(component)
    path, seen = [start], {start}
    node = start
    while True:
        nxt = sorted(graph[node] & members)
        back = [n for n in nxt if n == start]
        if back and len(path) > 1:
            return " -> ".join([*path, start])
        fresh = [n for n in nxt if n not in seen]
        if not fresh:
            return " <-> ".join(component)
        node = fresh[0]
        path.append(node)
        seen.add(node)


@pytest.mark.parametrize("folder", BACKENDS, ids=lambda p: p.name)
def test_backend_has_no_import_cycle(folder: Path) -> None:
    package = _package_dir(folder)
    modules = _modules(package)
    graph = {m: _imports(package.name, m, p, set(modules)) for m, p in modules.items()}
    loops = [_cycle_path(graph, c) for c in _cycles(graph)]
    assert not loops, (
        f"{folder.name}: import cycle(s) {'; '.join(loops)} (function-level imports count): "
        "move what both sides need into a module neither imports back"
    )


def test_the_cycle_check_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycle_path({"a": {"b"}, "b": {"a"}}, ["a", "b"]) == "a -> b -> a"


#: Backends that still override ``run_in_process`` instead of naming a host, with the reason.
OWN_RUN_IN_PROCESS: dict[str, str] = {}


def test_in_process_backends_name_their_host() -> None:
    import importlib
    from importlib.metadata import entry_points

    from django_prodserver.backends.base import Backend

    seen = 0
    for ep in entry_points(group="django_prodserver.backends"):
        cls = ep.load()
        seen += 1
        overrides_run = cls.run_in_process is not Backend.run_in_process
        if ep.name in OWN_RUN_IN_PROCESS:
            assert overrides_run, f"{ep.name}: drop it from OWN_RUN_IN_PROCESS, it names a host now"
            continue
        assert not overrides_run, f"{ep.name}: set host = 'package.host:run' instead of overriding run_in_process"
        assert cls.launch in ("exec", "in-process"), (ep.name, cls.launch)
        if cls.launch == "in-process" or cls.in_process is not Backend.in_process:
            module, _, function = cls.host.partition(":")
            assert module.endswith(".host") and function == "run", f"{ep.name}: host {cls.host!r} is not <pkg>.host:run"
            assert callable(getattr(importlib.import_module(module), function)), cls.host
        else:
            problem = "set, but launch is exec and in_process() is not overridden"
            assert not cls.host, f"{ep.name}: host {cls.host!r} {problem}"
    assert seen >= 10
