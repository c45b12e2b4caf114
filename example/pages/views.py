"""Views: JSON, a database round trip, and a slow one for shutdown tests."""

from __future__ import annotations

import os
import time

from django.http import HttpRequest, JsonResponse

from .models import Visit


def index(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"hello": "world", "pid": os.getpid()})


def db(request: HttpRequest) -> JsonResponse:
    Visit.objects.create(path=request.path)
    return JsonResponse({"visits": Visit.objects.count()})


def enqueue(request: HttpRequest) -> JsonResponse:
    """Enqueue a task for the worker; GET /task/<id>/ shows its status and result."""
    from .tasks import record_visit

    result = record_visit.enqueue(request.path)
    return JsonResponse({"task": str(result.id), "status": str(result.status)}, status=202)


def task_status(request: HttpRequest, task_id: str) -> JsonResponse:
    from .tasks import record_visit

    result = record_visit.get_result(task_id)
    value = result.return_value if str(result.status).endswith("SUCCESSFUL") else None
    return JsonResponse({"task": task_id, "status": str(result.status), "result": value})


def slow(request: HttpRequest) -> JsonResponse:
    seconds = min(float(request.GET.get("seconds", "2")), 30.0)
    time.sleep(seconds)
    return JsonResponse({"slept": seconds})
