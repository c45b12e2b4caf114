"""django-prodserver backend for RQ workers (through django-rq)."""

from .__about__ import __version__
from .backend import RQBackend

__all__ = ["RQBackend", "__version__"]
