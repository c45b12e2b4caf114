"""``python -m prodserver_wsgiref APP [--host H] [--port P] [--drain-delay S] [--graceful-timeout S]``."""

from __future__ import annotations

import sys

from .host import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
