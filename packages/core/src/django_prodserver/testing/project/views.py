"""Views the live contract tests request: JSON, database, slow, and process identity."""

from __future__ import annotations

import os
import time

from django.db import connection
from django.http import HttpRequest, JsonResponse


def index(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True, "pid": os.getpid(), "padding": "x" * 512})


def db(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM sqlite_master")
        (tables,) = cursor.fetchone()
    return JsonResponse({"ok": True, "tables": tables})


def slow(request: HttpRequest) -> JsonResponse:
    seconds = min(float(request.GET.get("seconds", "1")), 30.0)
    time.sleep(seconds)
    return JsonResponse({"ok": True, "slept": seconds, "padding": "y" * 2048})
