"""``.env`` files for prodserver: ``--env-file FILE`` or ``PRODSERVER_ENV_FILE`` loaded with
python-dotenv before settings are read, the real environment winning over the file.

Django reads settings before any management command runs, so the load belongs at the top of
``manage.py`` (or of ``settings.py``)::

    from django_prodserver.settings.envfile import load_env_file; load_env_file()
"""

from __future__ import annotations

import os
import sys
from collections.abc import MutableMapping, Sequence

from django_prodserver.errors import ConfigError

ENV_VAR = "PRODSERVER_ENV_FILE"
INSTALL = 'pip install "django-prodserver-core[dotenv]"'
#: Files loaded in this process (absolute paths), so a second call does not load again.
loaded: list[str] = []


def read_env_file(path: str, where: str = ENV_VAR) -> dict[str, str]:
    """The file's variables as python-dotenv parses them (values never printed)."""
    try:
        from dotenv import dotenv_values
    except ImportError:
        raise ConfigError(where, "needs python-dotenv, which is not installed", f"type: {INSTALL}") from None
    if not os.path.isfile(path):
        raise ConfigError(where, f"file {path!r} does not exist", "give the path of a dotenv file (KEY=value lines)")
    return {k: v for k, v in dotenv_values(path).items() if v is not None}


def env_file_arguments(argv: Sequence[str]) -> list[str]:
    """Every ``--env-file FILE`` / ``--env-file=FILE`` on a command line, in order."""
    found: list[str] = []
    for i, arg in enumerate(argv):
        if arg == "--":
            break
        if arg == "--env-file" and i + 1 < len(argv):
            found.append(argv[i + 1])
        elif arg.startswith("--env-file="):
            found.append(arg.split("=", 1)[1])
    return found


def env_file_argument(argv: Sequence[str]) -> str | None:
    """The first ``--env-file`` on a command line, if any (:func:`env_file_arguments` has them all)."""
    found = env_file_arguments(argv)
    return found[0] if found else None


def env_var_paths(value: str) -> list[str]:
    """``PRODSERVER_ENV_FILE``'s files: one path, or several separated by ``os.pathsep``."""
    return [p.strip() for p in value.split(os.pathsep) if p.strip()]


def load_env_files(
    paths: Sequence[str], environ: MutableMapping[str, str] | None = None, where: str = ENV_VAR
) -> list[str]:
    """Load ``paths`` into ``environ``: a later file wins over an earlier one (as Compose's
    ``env_file``, systemd's ``EnvironmentFile=`` and Kubernetes' ``envFrom`` do), and a variable
    already set in ``environ`` wins over every file. Returns the names taken from the files."""
    env = os.environ if environ is None else environ
    merged: dict[str, str] = {}
    fulls = [os.path.abspath(p) for p in paths]
    for full in fulls:
        merged.update(read_env_file(full, where))
    added = [k for k in merged if k not in env]
    for key in added:
        env[key] = merged[key]
    if env is os.environ:
        loaded.extend(f for f in fulls if f not in loaded)
    return added


def load_env_file(
    path: str | None = None,
    environ: MutableMapping[str, str] | None = None,
    argv: Sequence[str] | None = None,
) -> list[str]:
    """Load ``path`` (default: every ``--env-file FILE`` in ``argv``, which defaults to the command
    line, else ``$PRODSERVER_ENV_FILE``) into ``environ``; variables already set there win, and
    of several files the later wins. Returns the names taken from the files; nothing happens
    when no file is named."""
    env = os.environ if environ is None else environ
    where = "--env-file"
    paths = [path] if path is not None else env_file_arguments(sys.argv[1:] if argv is None else argv)
    if not paths:
        where, paths = ENV_VAR, env_var_paths(env.get(ENV_VAR, ""))
    return load_env_files(paths, env, where)
