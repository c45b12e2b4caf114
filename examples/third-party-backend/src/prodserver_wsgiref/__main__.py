"""``python -m prodserver_wsgiref APP``, with the options in ``PRODSERVER_HOST_PLAN`` (what ``--dry-run`` shows)."""

from __future__ import annotations

import sys

from .host import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
