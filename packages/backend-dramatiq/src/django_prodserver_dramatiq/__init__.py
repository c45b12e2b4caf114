"""django-prodserver backend for Dramatiq workers."""

from .__about__ import __version__
from ._broker import configure_broker
from .backend import DramatiqBackend

__all__ = ["DramatiqBackend", "__version__", "configure_broker"]
