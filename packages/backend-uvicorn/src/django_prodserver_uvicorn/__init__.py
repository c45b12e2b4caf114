"""django-prodserver backend for uvicorn."""

from .__about__ import __version__
from .backend import UvicornBackend

__all__ = ["UvicornBackend", "__version__"]
