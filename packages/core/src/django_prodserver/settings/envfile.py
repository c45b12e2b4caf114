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


def env_file_argument(argv: Sequence[str]) -> str | None:
    """The value of ``--env-file FILE`` / ``--env-file=FILE`` on a command line, if any."""
    for i, arg in enumerate(argv):
        if arg == "--":
            break
        if arg == "--env-file" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--env-file="):
            return arg.split("=", 1)[1]
    return None


def load_env_file(
    path: str | None = None,
    environ: MutableMapping[str, str] | None = None,
    argv: Sequence[str] | None = None,
) -> list[str]:
    """Load ``path`` (default: ``--env-file FILE`` in ``argv``, which defaults to the command
    line, else ``$PRODSERVER_ENV_FILE``) into ``environ``; variables already set there win.
    Returns the names taken from the file; nothing happens when no file is named."""
    env = os.environ if environ is None else environ
    where = "--env-file"
    if path is None:
        path = env_file_argument(sys.argv[1:] if argv is None else argv)
    if path is None:
        where, path = ENV_VAR, env.get(ENV_VAR, "").strip()
    if not path:
        return []
    full = os.path.abspath(path)
    values = read_env_file(full, where)
    added = [k for k in values if k not in env]
    for key in added:
        env[key] = values[key]
    if env is os.environ and full not in loaded:
        loaded.append(full)
    return added
