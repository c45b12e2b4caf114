"""django-prodserver backend for Flower, the celery monitor."""

from .__about__ import __version__
from .backend import Flower

__all__ = ["Flower", "__version__"]
