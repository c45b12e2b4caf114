"""The celery app of the benchmark (``APP = "worker_tasks.celery_app:app"``), set up from Django's
settings as celery's Django guide says."""

from __future__ import annotations

from celery import Celery

from worker_tasks import run

app = Celery("prodserver_bench")
app.config_from_object("django.conf:settings", namespace="CELERY")


@app.task(name="bench.run")  # type: ignore[untyped-decorator,misc]
def run_task(kind: str, enqueued: float, sleep: float) -> None:
    run(kind, enqueued, sleep)
