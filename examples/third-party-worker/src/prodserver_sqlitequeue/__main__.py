"""``python -m prodserver_sqlitequeue [--queues a,b] [--concurrency N] [--graceful-timeout S] ...``
(with ``DJANGO_SETTINGS_MODULE`` set: the tasks are the project's code)."""

from __future__ import annotations

import sys

import django

from .host import main

if __name__ == "__main__":
    django.setup()  # with log_format json (prodserver's environment), JSON logging too
    sys.exit(main(sys.argv[1:]))
