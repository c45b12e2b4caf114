"""django-prodserver backend for waitress."""

from .__about__ import __version__
from .backend import WaitressBackend

__all__ = ["WaitressBackend", "__version__"]
