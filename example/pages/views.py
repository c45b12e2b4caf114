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


def slow(request: HttpRequest) -> JsonResponse:
    seconds = min(float(request.GET.get("seconds", "2")), 30.0)
    time.sleep(seconds)
    return JsonResponse({"slept": seconds})
