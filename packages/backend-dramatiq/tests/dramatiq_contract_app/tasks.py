"""The contract task as a Dramatiq actor on its own queue (no retries: a failure must show)."""

from __future__ import annotations

import dramatiq

from django_prodserver.testing.project.tasks import touch

QUEUE = "prodserver-contract"
touch_actor = dramatiq.actor(touch, actor_name="touch", queue_name=QUEUE, max_retries=0)
