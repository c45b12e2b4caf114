"""django-prodserver backend for granian."""

from .__about__ import __version__
from .backend import GranianBackend

__all__ = ["GranianBackend", "__version__"]
