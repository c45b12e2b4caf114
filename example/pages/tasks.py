"""A background task the worker runs: it records that it ran, with the worker's PID."""

from __future__ import annotations

import os

try:  # Django 6.0+
    from django.tasks import task
except ImportError:  # the django-tasks backport
    from django_tasks import task

from .models import Visit


@task()
def record_visit(path: str) -> int:
    """Store a Visit from the worker process and return its id."""
    visit = Visit.objects.create(path=f"{path} (task in pid {os.getpid()})")
    return visit.pk
