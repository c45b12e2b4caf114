"""Where the control socket lives: ``settings.PRODSERVER_CONTROL`` or the environment variable
of the same name (the environment wins).

Unset or True: a default path per project and set of processes (``$XDG_RUNTIME_DIR/prodserver/``,
else a directory of our own under the temporary directory, mode 0700), so that two supervisors of
one project (``prodserver web`` and ``prodserver worker`` as two services) each have their own and
a client finds both. A string: that path. False (``off`` in the
environment): no control socket. There is no TCP listener: asking for one is an error."""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
from collections.abc import Mapping, Sequence
from typing import Any

from django_prodserver.errors import ConfigError

SETTING = "PRODSERVER_CONTROL"
ENV = "PRODSERVER_CONTROL"
_OFF = ("", "0", "off", "false", "no")
_CHECK_ID = "prodserver.E011"
#: How a default socket's name ends (``<project>.<processes>.ctl.sock``): a configured path is used as is.
DEFAULT_SUFFIX = ".ctl.sock"
#: Longest path a Unix socket address takes on Linux (sun_path is 108 bytes with its NUL).
MAX_PATH = 107


def _project_key(settings: Any) -> str:
    """What tells two projects apart on one machine: BASE_DIR (else the working directory) and
    the settings module, so ``prodserver status`` from the project finds its supervisor."""
    base = getattr(settings, "BASE_DIR", None) or os.getcwd()
    module = os.environ.get("DJANGO_SETTINGS_MODULE", "")
    text = f"{os.path.realpath(str(base))}\0{module}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def runtime_dir(environ: Mapping[str, str] | None = None) -> str:
    """Our directory for sockets: ``$XDG_RUNTIME_DIR/prodserver`` or ``$TMPDIR/prodserver-UID``."""
    env = os.environ if environ is None else environ
    xdg = env.get("XDG_RUNTIME_DIR")
    if xdg and os.path.isabs(xdg):
        return os.path.join(xdg, "prodserver")
    return os.path.join(tempfile.gettempdir(), f"prodserver-{os.getuid()}")


def ensure_private_dir(path: str) -> None:
    """Create ``path`` with mode 0700, or check that the one there is ours, a real directory
    (not a symlink) and closed to others; ConfigError otherwise."""
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    except OSError as e:
        raise ConfigError(
            SETTING, f"cannot create the directory {path}: {e.strerror}", _fix(), check_id=_CHECK_ID
        ) from None
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode):
        raise ConfigError(SETTING, f"{path} is not a directory (a symlink?)", _fix(), check_id=_CHECK_ID)
    if st.st_uid != os.getuid() or st.st_mode & 0o077:
        raise ConfigError(
            SETTING,
            f"{path} belongs to uid {st.st_uid} with mode {stat.S_IMODE(st.st_mode):o}, not to us with 0700",
            _fix(),
            check_id=_CHECK_ID,
        )


def _fix() -> str:
    return f"set {SETTING} = '/path/to/prodserver.sock' (a directory only you can write), or False to turn it off"


def _names_key(names: Sequence[str]) -> str:
    """The processes one supervisor runs, as a short stable part of its socket's name."""
    return hashlib.sha256("\0".join(sorted(names)).encode()).hexdigest()[:8]


def control_paths(settings: Any = None, environ: Mapping[str, str] | None = None) -> tuple[str, list[str]] | None:
    """Where a client looks: ``(what to name in an error, the socket files there)``; the
    configured path, or every default socket of this project. None when the socket is off."""
    env = os.environ if environ is None else environ
    if settings is None:
        from django.conf import settings as django_settings

        settings = django_settings
    path = load_control_path(settings, env)
    if path is None:
        return None
    if path == load_control_path(settings, env, names=("?",)):  # configured: the same whatever runs
        return path, [path]
    directory, pattern = os.path.dirname(path), f"{_project_key(settings)}."
    try:
        found = sorted(f for f in os.listdir(directory) if f.startswith(pattern) and f.endswith(DEFAULT_SUFFIX))
    except OSError:
        found = []
    return os.path.join(directory, f"{pattern}*{DEFAULT_SUFFIX}"), [os.path.join(directory, f) for f in found]


def load_control_path(
    settings: Any = None,
    environ: Mapping[str, str] | None = None,
    *,
    create: bool = False,
    names: Sequence[str] = (),
) -> str | None:
    """The control socket's path, or None when it is off. ``create`` makes the default
    directory (the supervisor does; a client only looks); ``names``: the processes the
    supervisor runs, part of the default path. Raises ConfigError naming the key."""
    env = os.environ if environ is None else environ
    if settings is None:
        from django.conf import settings as django_settings

        settings = django_settings
    where = SETTING
    if ENV in env:
        raw: Any = env[ENV]
        where = f"the environment variable {ENV}"
        if raw.strip().lower() in _OFF:
            return None
    else:
        raw = getattr(settings, SETTING, None)
    if raw is False:
        return None
    if isinstance(raw, Mapping) or (isinstance(raw, str) and raw.startswith(("tcp:", "tcp://"))):
        raise ConfigError(
            where,
            "a TCP control listener is not available: the control socket is a Unix socket only",
            _fix(),
            check_id=_CHECK_ID,
        )
    if raw is None or raw is True:
        directory = runtime_dir(env)
        if create:
            ensure_private_dir(directory)
        return os.path.join(directory, f"{_project_key(settings)}.{_names_key(names)}{DEFAULT_SUFFIX}")
    if not isinstance(raw, (str, os.PathLike)):
        raise ConfigError(where, f"expected a socket path, True or False, found {raw!r}", _fix(), check_id=_CHECK_ID)
    path = os.path.abspath(os.fspath(raw))
    if len(os.fsencode(path)) > MAX_PATH:
        raise ConfigError(
            where,
            f"the path {path} is longer than {MAX_PATH} bytes, too long for a Unix socket",
            _fix(),
            check_id=_CHECK_ID,
        )
    return path
