"""django-prodserver core: one command starts any production process of a Django project."""

from django_prodserver import _moved
from django_prodserver.__about__ import __version__

_moved.install()

__all__ = ["__version__"]
