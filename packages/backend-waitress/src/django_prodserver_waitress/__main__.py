"""``python -m django_prodserver_waitress [waitress flags] [--drain-delay=S ...] MODULE:APP``."""

from __future__ import annotations

import sys

from .host import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
