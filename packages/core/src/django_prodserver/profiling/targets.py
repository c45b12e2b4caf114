"""The processes of one PRODUCTION_PROCESSES name on this machine: master and workers, labelled."""

from __future__ import annotations

import os
from dataclasses import dataclass

from django_prodserver.logs import PROCESS_ENV
from django_prodserver.ops import procfs

#: Options of ``prodserver`` that take a value (to find its process names in a command line).
_VALUED = frozenset({"--set", "--settings", "--pythonpath", "--verbosity", "-v", "--env-file"})


@dataclass(frozen=True)
class Target:
    """One process to look into: its pid, its role in its tree and a label for output."""

    pid: int
    name: str
    role: str  # "master", "worker" or "process" (a tree of one)
    command: str

    @property
    def label(self) -> str:
        return f"{self.name} {self.role} {self.pid}" if self.role != "process" else f"{self.name} {self.pid}"


def _prodserver_names(args: list[str]) -> list[str] | None:
    """The process names of a ``... prodserver NAME ...`` command line (None: not one)."""
    for i, word in enumerate(args):
        if os.path.basename(word) == "prodserver" or word == "prodserver":
            rest = args[i + 1 :]
            break
    else:
        return None
    names: list[str] = []
    skip = False
    for word in rest:
        if skip:
            skip = False
        elif word == "--":
            break
        elif word.startswith("-"):
            skip = word in _VALUED
        else:
            names.append(word)
    return names


def process_name(pid: int, env: dict[str, str] | None = None) -> str:
    """The PRODUCTION_PROCESSES name ``pid`` runs ("" when none): ``PRODSERVER_PROCESS`` in the
    environment it was started with, else a ``prodserver NAME`` command line of one name (a
    server hosted in the process that read the settings: it was started without the variable)."""
    env = procfs.environ(pid) if env is None else env
    if env.get(PROCESS_ENV):
        return env[PROCESS_ENV]
    names = _prodserver_names(procfs.argv(pid))
    return names[0] if names and len(names) == 1 else ""


def _settings_of(pid: int, env: dict[str, str]) -> str:
    args = procfs.argv(pid)
    for i, word in enumerate(args):
        if word == "--settings" and i + 1 < len(args):
            return args[i + 1]
        if word.startswith("--settings="):
            return word.split("=", 1)[1]
    return env.get("DJANGO_SETTINGS_MODULE", "")


def project_dir() -> str:
    """The directory this project's processes run in: what a start would give them (the
    ``BASE_DIR`` that holds manage.py, else the current directory; ``LaunchContext``'s rule)."""
    from django.conf import settings

    base = getattr(settings, "BASE_DIR", None)
    if base is not None and os.path.exists(os.path.join(str(base), "manage.py")):
        return os.path.realpath(str(base))
    return os.path.realpath(os.getcwd())


def running(settings_module: str, directory: str | None) -> dict[str, list[int]]:
    """Names of the running processes of a project (its settings module; run in ``directory``,
    None: anywhere) -> the pids of their roots (the topmost process of each tree carrying the
    name), among the processes this user may look into."""
    named: dict[int, str] = {}
    me = os.getpid()
    for pid in procfs.pids():
        if pid == me:
            continue
        env = procfs.environ(pid)
        name = process_name(pid, env)
        if not name:
            continue
        theirs = _settings_of(pid, env)
        if settings_module and theirs and theirs != settings_module:
            continue
        if directory is not None and procfs.cwd(pid) not in ("", directory):
            continue
        named[pid] = name
    roots: dict[str, list[int]] = {}
    for pid, name in named.items():
        if named.get(procfs.parent(pid)) != name:
            roots.setdefault(name, []).append(pid)
    return roots


def tree_targets(root: int, name: str) -> list[Target]:
    """``root`` and its descendants: the root is the master when it has children."""
    pids = procfs.tree(root)
    if len(pids) == 1:
        return [Target(root, name, "process", procfs.command(root))]
    return [Target(pid, name, "master" if pid == root else "worker", procfs.command(pid)) for pid in pids]


def find(name: str, settings_module: str, directory: str | None) -> list[Target]:
    """Every process of ``name`` (empty: none runs)."""
    out: list[Target] = []
    for root in running(settings_module, directory).get(name, []):
        out.extend(tree_targets(root, name))
    return out


def at_pid(pid: int) -> list[Target]:
    """The tree of ``pid`` (``--pid``), named after what it runs where known."""
    if not procfs.state(pid):
        return []
    return tree_targets(pid, process_name(pid) or "pid")


class NoTargets(Exception):
    """Nothing to look into, and what the user can do about it."""


def settings_module() -> str:
    from django.conf import settings

    return str(os.environ.get("DJANGO_SETTINGS_MODULE", "") or getattr(settings, "SETTINGS_MODULE", "") or "")


def choose(name: str | None, pid: int | None) -> list[Target]:
    """The processes ``dump``/``profile`` look into: the tree of ``--pid``, or those of NAME."""
    if pid is not None:
        found = at_pid(pid)
        if not found:
            raise NoTargets(f"no process {pid} is running (or it is not ours to look into)")
        return found
    if not name:
        raise NoTargets("say which process: NAME (of PRODUCTION_PROCESSES) or --pid PID")
    from django_prodserver.settings.config import get_processes_setting

    configured = list(get_processes_setting())
    if name not in configured:
        raise NoTargets(f"{name!r} is not in PRODUCTION_PROCESSES; configured: {', '.join(configured) or '(none)'}")
    project, directory = settings_module(), project_dir()
    found = find(name, project, directory)
    if not found:
        now = running(project, directory)
        listed = ", ".join(f"{n} (pid {', '.join(map(str, p))})" for n, p in sorted(now.items())) or "none"
        elsewhere = [
            f"pid {pid} in {procfs.cwd(pid)}"
            for pid in running(project, None).get(name, [])
            if procfs.cwd(pid) != directory
        ]
        also = f"; {name!r} of another directory: {', '.join(elsewhere)}" if elsewhere else ""
        raise NoTargets(
            f"{name!r} is not running on this machine in {directory} (processes started by prodserver carry "
            f"{PROCESS_ENV}={name}); running now: {listed}{also}. Aim at a process directly with --pid PID."
        )
    return found
