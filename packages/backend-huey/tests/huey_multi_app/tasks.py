"""The contract task on django-huey's queue ``emails`` (no retries: a failure must show)."""

from __future__ import annotations

from django_huey import task

from django_prodserver.testing.project.tasks import touch

touch_task = task(queue="emails", retries=0)(touch)
