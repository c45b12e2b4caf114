"""One of each, in core: no backend parses prodserver's flags again (a host reads its settings
from the host plan), brackets an IPv6 host itself (``host_port``) or wraps ``where(..., "OPTIONS",
key)`` in a helper of its own (``Backend.option_key``)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BACKEND_SOURCES = sorted([*ROOT.glob("packages/backend-*/src/**/*.py"), *ROOT.glob("examples/*/src/**/*.py")])
ALL_SOURCES = sorted([*ROOT.glob("packages/*/src/**/*.py"), *ROOT.glob("examples/*/src/**/*.py")])
#: The one host:port helper.
HOST_PORT = ROOT / "packages/core/src/django_prodserver/ops/address.py"

#: The one process-tree walker (who is whose child, from /proc).
PROCFS = ROOT / "packages/core/src/django_prodserver/ops/procfs.py"
#: Reading parentage from /proc: ``/proc/<pid>/stat``/``status`` (ppid) or ``.../children``.
TREE_READ = re.compile(r"""/proc/[^"'\s]*/(?:stat|status|children)["']""")

#: ``f"[{host}]..." if ":" in host``: an IPv6 address bracketed by hand.
BRACKETING = re.compile(r"""f(["'])\[\{(?P<name>\w+)[^}]*\}\][^"']*\1\s+if\s+["']:["']\s+in\s+(?P=name)\b""")


def shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else path.name


def option_spellings() -> frozenset[str]:
    """getopt's spelling of every uniform option that takes a value (``drain-delay=``)."""
    from django_prodserver.backends.options import WEB_OPTIONS, WORKER_OPTIONS

    return frozenset(f"{name.replace('_', '-')}=" for name in {*WEB_OPTIONS, *WORKER_OPTIONS})


def own_parsers(path: Path) -> list[str]:
    """Where ``path`` builds a parser of prodserver's flags: an ``argparse.ArgumentParser`` (a
    Django command is handed its parser, a host has none to build), or getopt long options that
    name an option (``"drain-delay="``)."""
    spellings = option_spellings()
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name == "ArgumentParser":
                found.append(f"{shown(path)}:{node.lineno}: argparse.ArgumentParser")
        elif isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            for item in node.elts:
                if isinstance(item, ast.Constant) and item.value in spellings:
                    found.append(f"{shown(path)}:{item.lineno}: getopt option {item.value!r}")
    return found


def own_brackets(path: Path) -> list[str]:
    text = path.read_text()
    return [f"{shown(path)}:{text.count(chr(10), 0, m.start()) + 1}: {m.group(0)}" for m in BRACKETING.finditer(text)]


def own_option_keys(path: Path) -> list[str]:
    """Functions whose whole body is ``return where(<name>, "OPTIONS", key)``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.FunctionDef) and len(node.body) == 1 and isinstance(node.body[0], ast.Return):
            value = node.body[0].value
            if (
                isinstance(value, ast.Call)
                and getattr(value.func, "id", getattr(value.func, "attr", "")) == "where"
                and any(isinstance(a, ast.Constant) and a.value == "OPTIONS" for a in value.args)
                and node.name != "option_key"
            ):
                found.append(f"{shown(path)}:{node.lineno}: def {node.name}")
    return found


def own_tree_walks(path: Path) -> list[str]:
    text = path.read_text()
    return [f"{shown(path)}:{text.count(chr(10), 0, m.start()) + 1}: {m.group(0)}" for m in TREE_READ.finditer(text)]


def test_one_process_tree_walker() -> None:
    """Fix: ``django_prodserver.ops.procfs`` (``tree``, ``children``; backends: ``api.child_pids``)."""
    sources = [*ALL_SOURCES, *sorted((ROOT / "benchmarks").glob("*.py"))]
    offenders = [hit for path in sources if path != PROCFS for hit in own_tree_walks(path)]
    assert not offenders, "walk the process tree with ops.procfs:\n" + "\n".join(offenders)


def test_no_backend_parses_prodserver_flags_again() -> None:
    """Fix: list the options in ``host_options`` and read them with ``HostPlan.from_environ()``."""
    assert BACKEND_SOURCES
    offenders = [hit for path in BACKEND_SOURCES for hit in own_parsers(path)]
    assert not offenders, "read these from the host plan instead:\n" + "\n".join(offenders)


def test_ipv6_hosts_are_bracketed_by_the_one_helper() -> None:
    """Fix: ``host_port(host, port)`` from ``django_prodserver.api``."""
    offenders = [hit for path in ALL_SOURCES if path != HOST_PORT for hit in own_brackets(path)]
    assert not offenders, "use host_port():\n" + "\n".join(offenders)


def test_option_keys_come_from_the_backend() -> None:
    """Fix: ``self.option_key(name)``."""
    offenders = [hit for path in ALL_SOURCES for hit in own_option_keys(path)]
    assert not offenders, "use Backend.option_key:\n" + "\n".join(offenders)


def test_the_checkers_see_what_they_forbid(tmp_path: Path) -> None:
    sample = tmp_path / "host.py"
    sample.write_text(
        "import argparse, getopt\n"
        "OWN = argparse.ArgumentParser()\n"
        'getopt.gnu_getopt([], "", ["drain-delay=", "threads="])\n'
        'bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"\n'
        'h = f"[{host}]" if ":" in host and not host.startswith("[") else host\n'
        "def opt(key):\n"
        '    return where(name, "OPTIONS", key)\n'
        'open(f"/proc/self/task/{task}/children")\n'
        'open(f"/proc/{pid}/stat")\n'
    )
    assert own_parsers(sample) == [
        "host.py:2: argparse.ArgumentParser",
        "host.py:3: getopt option 'drain-delay='",
        "host.py:3: getopt option 'threads='",
    ]
    assert [hit.split(":")[1] for hit in own_brackets(sample)] == ["4", "5"]
    assert own_option_keys(sample) == ["host.py:6: def opt"]
    assert [hit.split(":")[1] for hit in own_tree_walks(sample)] == ["8", "9"]
