"""Settings of the contract suite's project; processes and extras come from the environment.

``PRODSERVER_TEST_PROCESSES`` (JSON) becomes PRODUCTION_PROCESSES, ``PRODSERVER_TEST_SETTINGS``
(JSON) adds or replaces settings, ``PRODSERVER_TEST_DIR`` holds the SQLite database.
"""

from __future__ import annotations

import json
import os
import tempfile

BASE_DIR = os.environ.get("PRODSERVER_TEST_DIR") or tempfile.gettempdir()
SECRET_KEY = "contract-suite-key-not-secret"  # noqa: S105 - test project only
DEBUG = False
ALLOWED_HOSTS = ["*"]
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django_prodserver",
]
MIDDLEWARE: list[str] = []
ROOT_URLCONF = "django_prodserver.testing.project.urls"
WSGI_APPLICATION = "django_prodserver.testing.project.wsgi.application"
ASGI_APPLICATION = "django_prodserver.testing.project.asgi.application"
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.path.join(BASE_DIR, "prodserver-contract.sqlite3"),
    }
}
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}

PRODUCTION_PROCESSES = json.loads(os.environ.get("PRODSERVER_TEST_PROCESSES") or "{}")

_extra = json.loads(os.environ.get("PRODSERVER_TEST_SETTINGS") or "{}")
for _app in _extra.pop("EXTRA_INSTALLED_APPS", []):
    INSTALLED_APPS.append(_app)
globals().update(_extra)
