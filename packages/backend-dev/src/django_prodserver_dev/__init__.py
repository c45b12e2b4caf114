"""Development servers for django-prodserver, and ``manage.py devserver`` (add the app to INSTALLED_APPS)."""

from .__about__ import __version__
from .asgi import GranianReloadBackend, UvicornReloadBackend
from .backend import (
    DaphneRunserverBackend,
    DevAlias,
    DevBackend,
    RunserverBackend,
    RunserverPlusBackend,
    WerkzeugBackend,
)

__all__ = [
    "DaphneRunserverBackend",
    "DevAlias",
    "DevBackend",
    "GranianReloadBackend",
    "RunserverBackend",
    "RunserverPlusBackend",
    "UvicornReloadBackend",
    "WerkzeugBackend",
    "__version__",
]
