"""``python -m django_prodserver_django_q2 qcluster ...``: the exec launch (see :mod:`.host`)."""

from __future__ import annotations

from .host import main

if __name__ == "__main__":
    main()
