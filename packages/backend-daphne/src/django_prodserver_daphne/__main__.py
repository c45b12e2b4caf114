"""``python -m django_prodserver_daphne [daphne flags] [--drain-delay S] [--graceful-timeout S] APP``."""

from __future__ import annotations

import sys

from .host import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
