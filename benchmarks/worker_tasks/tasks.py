"""The task as dramatiq and huey want it: defined in an installed app's ``tasks`` module, which
their Django integrations import in the worker. Only the family under test is defined."""

from __future__ import annotations

import os

from worker_tasks import FAMILY_ENV, QUEUE_ENV, run

family = os.environ.get(FAMILY_ENV)

if family == "dramatiq":
    import dramatiq

    run_actor = dramatiq.actor(run, actor_name="bench_run", queue_name=os.environ[QUEUE_ENV], max_retries=0)

if family == "huey":
    from huey.contrib.djhuey import task

    @task(retries=0)  # type: ignore[misc]
    def run_huey(kind: str, enqueued: float, sleep: float) -> None:
        run(kind, enqueued, sleep)
