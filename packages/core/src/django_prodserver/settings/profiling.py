"""``settings.PRODSERVER_PROFILE_REQUESTS``: profile one request that carries the secret token.

Off unless set. ``True`` takes the token from ``PRODSERVER_PROFILE_TOKEN``; a dict may name
another variable (``TOKEN_ENV``) or a file (``TOKEN_FILE``), and a directory (``DIR``) to store
profiles in instead of answering with them. The token itself is never written in settings.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.core import checks

from django_prodserver.errors import ConfigError

SETTING = "PRODSERVER_PROFILE_REQUESTS"
CHECK_ID = "prodserver.E030"
DEFAULT_TOKEN_ENV = "PRODSERVER_PROFILE_TOKEN"  # noqa: S105  (a variable name, not a token)
#: The request header that carries the token.
HEADER = "X-Prodserver-Profile"
#: The response header naming the stored profile (``DIR`` set).
FILE_HEADER = "X-Prodserver-Profile-File"
#: Shorter tokens are refused: the header is the only thing between a client and a profiled request.
MIN_TOKEN_LENGTH = 16
#: Keys the setting may carry, with what each is for (errors list them).
KEYS: Mapping[str, str] = {
    "TOKEN_ENV": f"environment variable holding the token (default {DEFAULT_TOKEN_ENV})",
    "TOKEN_FILE": "file holding the token (instead of TOKEN_ENV), e.g. a mounted secret",
    "DIR": "store each profile in this directory and answer normally (default: answer with the profile)",
}
_EXAMPLE = f'{SETTING} = {{"TOKEN_ENV": "{DEFAULT_TOKEN_ENV}"}}'
_MAKE = "python -c 'import secrets; print(secrets.token_urlsafe(32))'"


@dataclass(frozen=True)
class ProfileConfig:
    """Where the token comes from and where profiles go."""

    token_env: str | None = DEFAULT_TOKEN_ENV
    token_file: str | None = None
    directory: str | None = None

    @property
    def token_source(self) -> str:
        """The token's source, as the user would fix it (errors name it)."""
        if self.token_file:
            return f"file {self.token_file} (settings.{SETTING}['TOKEN_FILE'])"
        return f"environment variable {self.token_env} (settings.{SETTING}['TOKEN_ENV'])"


def load_profile_config(settings: Any = None) -> ProfileConfig | None:
    """The configured profiling, or None when it is off. Raises ConfigError naming the key."""
    if settings is None:
        from django.conf import settings as django_settings

        settings = django_settings
    raw = getattr(settings, SETTING, None)
    if raw is None or raw is False:
        return None
    if raw is True:
        return ProfileConfig()
    if not isinstance(raw, Mapping):
        raise ConfigError(
            SETTING, f"expected True or a dict, found {type(raw).__name__}", f"write {_EXAMPLE}", check_id=CHECK_ID
        )
    if "TOKEN" in raw:
        raise ConfigError(
            f"{SETTING}['TOKEN']",
            "the token must not be written in settings (they end up in the repository)",
            f"put it in an environment variable named by TOKEN_ENV or a file named by TOKEN_FILE: {_EXAMPLE}",
            check_id=CHECK_ID,
        )
    unknown = [k for k in raw if k not in KEYS]
    if unknown:
        raise ConfigError(
            f"{SETTING}[{unknown[0]!r}]",
            f"unknown key {unknown[0]!r}",
            f"allowed keys are {', '.join(KEYS)}",
            check_id=CHECK_ID,
        )
    if "TOKEN_ENV" in raw and "TOKEN_FILE" in raw:
        raise ConfigError(SETTING, "has both 'TOKEN_ENV' and 'TOKEN_FILE'", "keep one of them", check_id=CHECK_ID)
    for key in KEYS:
        value = raw.get(key)
        if key in raw and (not isinstance(value, str) or not value.strip()):
            raise ConfigError(
                f"{SETTING}[{key!r}]",
                f"expected a non-empty string, found {value!r}",
                f"write {_EXAMPLE}",
                check_id=CHECK_ID,
            )
    token_env = raw.get("TOKEN_ENV", DEFAULT_TOKEN_ENV) if "TOKEN_FILE" not in raw else None
    if token_env is not None and ("=" in token_env or any(c.isspace() for c in token_env)):
        raise ConfigError(
            f"{SETTING}['TOKEN_ENV']",
            "expected the name of an environment variable, not its value",
            f"write {_EXAMPLE} and export {DEFAULT_TOKEN_ENV}=<token>",
            check_id=CHECK_ID,
        )
    return ProfileConfig(token_env=token_env, token_file=raw.get("TOKEN_FILE"), directory=raw.get("DIR"))


def read_token(config: ProfileConfig, environ: Mapping[str, str] | None = None) -> bytes:
    """The token, read now from its variable or file. Raises ConfigError naming the key when it
    is missing, empty or shorter than :data:`MIN_TOKEN_LENGTH` characters: nothing starts."""
    env = os.environ if environ is None else environ
    if config.token_file:
        try:
            with open(config.token_file, encoding="utf-8") as f:
                token = f.read().strip()
        except OSError as e:
            raise ConfigError(
                config.token_source,
                f"cannot be read ({type(e).__name__}: {e.strerror or e})",
                "mount the secret there, or point TOKEN_FILE at it",
                check_id=CHECK_ID,
            ) from None
        fix = f"write a random token into it: {_MAKE} > {config.token_file}"
    else:
        token = env.get(config.token_env or DEFAULT_TOKEN_ENV, "").strip()
        fix = f"export {config.token_env}=$({_MAKE})"
    if not token:
        raise ConfigError(
            config.token_source, "is empty or not set, and request profiling is on", fix, check_id=CHECK_ID
        )
    if len(token) < MIN_TOKEN_LENGTH:
        raise ConfigError(
            config.token_source, f"holds a token shorter than {MIN_TOKEN_LENGTH} characters", fix, check_id=CHECK_ID
        )
    return token.encode("utf-8")


def prepare_directory(config: ProfileConfig) -> None:
    """Create ``DIR`` (mode 0700) when set and make sure profiles can be written into it.
    Raises ConfigError naming the key: nothing starts that would fail at its first profile."""
    if not config.directory:
        return
    try:
        os.makedirs(config.directory, mode=0o700, exist_ok=True)
        writable = os.access(config.directory, os.W_OK | os.X_OK)
    except OSError as e:
        problem = f"{config.directory} cannot be created ({type(e).__name__}: {e.strerror or e})"
    else:
        if writable:
            return
        problem = f"{config.directory} is not writable by this process"
    raise ConfigError(
        f"settings.{SETTING}['DIR']", problem, "point DIR at a directory this process can write", check_id=CHECK_ID
    )


@checks.register("prodserver")
def check_profile_requests(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    try:
        load_profile_config()
    except ConfigError as e:
        return [checks.Error(e.problem_text, hint=e.fix or None, id=e.check_id)]
    return []
