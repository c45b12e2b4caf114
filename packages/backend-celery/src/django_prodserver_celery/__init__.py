"""django-prodserver backends for celery: the worker and the beat scheduler."""

from .__about__ import __version__
from ._flags import GLOBAL_ALIASES, cli_flags
from .backend import BROKER_CHECK, CELERY_AMBIENT_ENV, CeleryBeat, CeleryCLI, CeleryWorker

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
