"""django-prodserver backend for daphne."""

from .__about__ import __version__
from .backend import DaphneBackend

__all__ = ["DaphneBackend", "__version__"]
