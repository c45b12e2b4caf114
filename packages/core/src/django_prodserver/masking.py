"""Secrets out of anything printed or exported: passwords and tokens in URLs, in ``name=value``
pairs (query strings, keyword DSNs, ``--password=`` flags), and whole values of variables whose
name says secret or that ``settings.PRODSERVER_SECRET_ENV`` lists."""

from __future__ import annotations

import re

MASK = "***"

#: ``scheme://user:password@`` and ``scheme://token@`` (a Sentry DSN, ``https://TOKEN@host``).
#: Userinfo holds no ``/ ? #`` unencoded; the password runs to the last ``@`` before the host.
_URL_USERINFO = re.compile(
    r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^:/@\s?#]*)(?::(?P<pw>[^/\s?#]*))?@(?=[^\s@])"
)
#: ``name=value`` where the name may say secret: ``?password=``, ``&token=``, libpq's
#: ``host=db password=x``, ``--password=x``; a value quoted with ' or " is masked whole.
_PAIR = re.compile(r"(?<![\w.-])(?P<name>-{0,2}[A-Za-z][\w.-]*)=(?P<value>'[^']*'|\"[^\"]*\"|[^\s&;'\"]+)")
#: Words in a variable (or parameter) name that make its whole value a secret.
_SECRET_NAME = re.compile(r"(PASSWORD|PASSWD|PASSPHRASE|PWD|SECRET|TOKEN|KEY|CREDENTIAL|AUTH|DSN|SIGNATURE)", re.I)


def _pair(match: re.Match[str]) -> str:
    if not _SECRET_NAME.search(match["name"]):
        return match[0]
    return f"{match['name']}={MASK}"


def _userinfo(match: re.Match[str]) -> str:
    if match["pw"] is not None:
        return f"{match['scheme']}{match['user']}:{MASK}@"
    if match["user"]:
        return f"{match['scheme']}{MASK}@"  # a lone token: the user part is the credential
    return match[0]


def mask(text: str) -> str:
    """Hide secrets inside a value: ``redis://:pw@host`` -> ``redis://:***@host``,
    ``https://TOKEN@host`` -> ``https://***@host``, ``?password=x`` -> ``?password=***``,
    ``host=db password=x`` -> ``host=db password=***``."""
    return _URL_USERINFO.sub(_userinfo, _PAIR.sub(_pair, text))


def secret_names() -> frozenset[str]:
    """``settings.PRODSERVER_SECRET_ENV`` and the ``TOKEN_ENV`` of ``PRODSERVER_PROFILE_REQUESTS``
    (names only; a bad value is the system check's to report)."""
    from django.conf import settings

    if not settings.configured:
        return frozenset()
    value = getattr(settings, "PRODSERVER_SECRET_ENV", ())
    names = set()
    if not isinstance(value, str) and isinstance(value, (list, tuple, set, frozenset)):
        names = {v for v in value if isinstance(v, str)}
    # The variable PRODSERVER_PROFILE_REQUESTS reads its token from, whatever its name.
    profile = getattr(settings, "PRODSERVER_PROFILE_REQUESTS", None)
    if isinstance(profile, dict) and isinstance(profile.get("TOKEN_ENV"), str):
        names.add(profile["TOKEN_ENV"])
    return frozenset(names)


def is_secret_name(name: str) -> bool:
    """True when the name says secret, or the user listed it in ``PRODSERVER_SECRET_ENV``."""
    return bool(_SECRET_NAME.search(name)) or name in secret_names()


def mask_env(name: str, value: str) -> str:
    """Mask a whole value when its name says it is a secret, else the secrets inside it."""
    return MASK if value and is_secret_name(name) else mask(value)


def is_secret(name: str, value: str) -> bool:
    """True for a variable that must never be written into an exported file or printed."""
    return is_secret_name(name) or mask(value) != value


__all__ = ["MASK", "is_secret", "is_secret_name", "mask", "mask_env", "secret_names"]
