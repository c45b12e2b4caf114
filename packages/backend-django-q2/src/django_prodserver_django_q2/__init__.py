"""django-prodserver backend for django-q2's ``qcluster``."""

from .__about__ import __version__
from .backend import DjangoQ2Backend

__all__ = ["DjangoQ2Backend", "__version__"]
