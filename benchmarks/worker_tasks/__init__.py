"""The task benchmarks/workers.py runs, and its enqueuer: one body, wrapped by each task system.

A Django app (``worker_tasks``): dramatiq's and huey's Django integrations import its ``tasks``
module in the worker. Every run of the task appends one line to the file named by
``PRODSERVER_BENCH_RECORDS`` (``kind enqueued started finished``, wall-clock seconds), so the
benchmark reads throughput and enqueue-to-start latency from outside the worker, the same way
for every family. A task of 0.5 s or more also writes a ``started`` line first (the SIGTERM test
waits for it).
"""

from __future__ import annotations

import json
import os
import sys
import time

RECORDS_ENV = "PRODSERVER_BENCH_RECORDS"
QUEUE_ENV = "PRODSERVER_BENCH_QUEUE"
FAMILY_ENV = "PRODSERVER_BENCH_FAMILY"


def _append(line: str) -> None:
    # O_APPEND writes under PIPE_BUF land whole, whichever pool process or thread writes.
    fd = os.open(os.environ[RECORDS_ENV], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def run(kind: str, enqueued: float, sleep: float) -> None:
    """The benchmark's task: ``sleep`` seconds of waiting (0: a no-op), and its record."""
    started = time.time()
    if sleep >= 0.5:
        _append(f"{kind} {enqueued:.6f} {started:.6f} started\n")
    if sleep:
        time.sleep(sleep)
    _append(f"{kind} {enqueued:.6f} {started:.6f} {time.time():.6f}\n")


def _sender(family: str):  # type: ignore[no-untyped-def]
    """A function ``send(kind, enqueued, sleep)`` that enqueues one task through ``family``'s
    own client API (Django is set up)."""
    if family == "celery":
        from worker_tasks.celery_app import run_task

        return lambda *a: run_task.apply_async(a)
    if family == "rq":
        import django_rq

        queue = django_rq.get_queue(os.environ[QUEUE_ENV])
        return lambda *a: queue.enqueue("worker_tasks.run", *a, result_ttl=0, job_timeout=60)
    if family == "dramatiq":
        from worker_tasks.tasks import run_actor

        return run_actor.send
    if family == "django-q2":
        from django_q.tasks import async_task

        return lambda *a: async_task("worker_tasks.run", *a)
    if family == "django-tasks":
        from worker_tasks.dtasks import run_task

        return run_task.enqueue
    if family == "huey":
        from worker_tasks.tasks import run_huey

        return run_huey
    raise ValueError(family)


def serve() -> None:
    """The enqueuer: one JSON request a line on stdin (``kind``, ``n``, ``sleep``, ``interval``
    seconds between two tasks), "ok" on stdout when all are enqueued. One process per family
    and benchmark, so no enqueue pays for a Django start."""
    import django

    django.setup()
    send = _sender(os.environ[FAMILY_ENV])
    print("ready", flush=True)
    for line in sys.stdin:
        req = json.loads(line)
        for i in range(int(req["n"])):
            if i and req["interval"]:
                time.sleep(req["interval"])
            send(req["kind"], time.time(), float(req["sleep"]))
        print("ok", flush=True)
