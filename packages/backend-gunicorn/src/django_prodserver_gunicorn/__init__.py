"""django-prodserver backend for gunicorn."""

from .__about__ import __version__
from .backend import GunicornBackend

__all__ = ["GunicornBackend", "__version__"]
