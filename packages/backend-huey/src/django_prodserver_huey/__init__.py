"""django-prodserver backend for huey consumers (huey.contrib.djhuey, optionally django-huey)."""

from .__about__ import __version__
from .backend import HueyBackend

__all__ = ["HueyBackend", "__version__"]
