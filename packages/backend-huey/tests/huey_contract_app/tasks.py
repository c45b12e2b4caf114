"""The contract task as a huey task of settings.HUEY's instance (no retries: a failure must show)."""

from __future__ import annotations

from huey.contrib.djhuey import task

from django_prodserver.testing.project.tasks import touch

touch_task = task(name="touch", retries=0)(touch)


@task(name="flaky", retries=1)
def flaky() -> None:
    """Fails each time: one retry, then a failure."""
    raise ValueError("flaky fails")
