"""django-prodserver core: one command starts any production process of a Django project."""

from django_prodserver.__about__ import __version__
from django_prodserver.launch import collector

# A start (``manage.py prodserver ...``) runs with the cyclic collector off until it serves:
# the earliest moment prodserver runs in a process is this import (launch/collector.py says why).
collector.pause_for_start()

__all__ = ["__version__"]
