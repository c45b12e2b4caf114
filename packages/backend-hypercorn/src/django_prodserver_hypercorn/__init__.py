"""django-prodserver backend for hypercorn."""

from .__about__ import __version__
from .backend import HypercornBackend

__all__ = ["HypercornBackend", "__version__"]
