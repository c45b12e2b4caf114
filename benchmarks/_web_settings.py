"""The example project's settings with an empty web OPTIONS, for benchmarks/web.py.

The example hard-codes workers=2, which waitress and daphne refuse in a system check that
--set cannot override; here every option comes from --set (or the backend's own default).
"""

from __future__ import annotations

import os

from mysite.settings import *  # noqa: F403

PRODUCTION_PROCESSES = {
    "web": {"BACKEND": os.environ.get("EXAMPLE_WEB_BACKEND", "gunicorn"), "OPTIONS": {}},
}
