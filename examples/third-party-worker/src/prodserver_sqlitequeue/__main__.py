"""``python -m prodserver_sqlitequeue``, with ``DJANGO_SETTINGS_MODULE`` set (the tasks are the
project's code) and the options in ``PRODSERVER_HOST_PLAN`` (``--dry-run`` prints both)."""

from __future__ import annotations

import sys

import django

from .host import main

if __name__ == "__main__":
    django.setup()  # with log_format json (prodserver's environment), JSON logging too
    sys.exit(main(sys.argv[1:]))
