"""django-prodserver backends for celery: the worker and the beat scheduler."""

from .__about__ import __version__
from ._cli import BROKER_CHECK, CELERY_AMBIENT_ENV, GLOBAL_ALIASES, CeleryCLI, cli_flags
from .backend import CeleryBeat, CeleryWorker

__all__ = [
    "BROKER_CHECK",
    "CELERY_AMBIENT_ENV",
    "GLOBAL_ALIASES",
    "CeleryBeat",
    "CeleryCLI",
    "CeleryWorker",
    "__version__",
    "cli_flags",
]
