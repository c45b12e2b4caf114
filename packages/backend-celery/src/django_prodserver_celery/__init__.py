"""django-prodserver backends for celery: the worker and the beat scheduler."""

from .__about__ import __version__
from .backend import CeleryBeat, CeleryWorker

__all__ = ["CeleryBeat", "CeleryWorker", "__version__"]
