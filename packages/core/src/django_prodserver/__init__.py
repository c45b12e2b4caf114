"""django-prodserver core: one command starts any production process of a Django project."""

from .__about__ import __version__

__all__ = ["__version__"]
