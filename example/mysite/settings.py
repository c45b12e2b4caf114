"""Example project: one settings file that runs under any prodserver backend.

Switch the web server by changing only "BACKEND" below (gunicorn, uvicorn, granian, waitress,
hypercorn, daphne). The worker runs django-tasks on the project's own database: no services.
"""

from __future__ import annotations

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("EXAMPLE_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-only-not-a-secret")
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"]

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django_prodserver",
    "pages",
    "django_tasks_db",
]
try:  # Django 6.0+ has django.tasks built in; older Django uses the django-tasks backport.
    import django.tasks  # noqa: F401
except ImportError:
    INSTALLED_APPS.insert(-1, "django_tasks")

# Tasks are stored in the project's own database: the worker needs no external service.
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
ROOT_URLCONF = "mysite.urls"
WSGI_APPLICATION = "mysite.wsgi.application"
ASGI_APPLICATION = "mysite.asgi.application"
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": VAR_DIR / "db.sqlite3",
        "OPTIONS": {"timeout": 20},
    }
}
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "INFO"},
}

PRODUCTION_PROCESSES = {
    # Runs once, first; web and worker start only after it succeeds.
    "migrate": {"BACKEND": "command", "ARGS": ["migrate", "--noinput"], "ONESHOT": True},
    "web": {
        # One line picks the server: gunicorn, uvicorn, granian, waitress, hypercorn or daphne.
        # (The environment variable only lets the benchmarks switch it without editing this file.)
        "BACKEND": os.environ.get("EXAMPLE_WEB_BACKEND", "gunicorn"),
        # No "workers" here: each server's default applies (WEB_CONCURRENCY, else from the
        # CPU count; one process for waitress and daphne), so the BACKEND line alone switches.
    },
    "worker": {
        "BACKEND": "django-tasks",
        "OPTIONS": {"queues": ["default"]},
    },
}
