"""Views the live contract tests request: JSON, database, slow, and process identity."""

from __future__ import annotations

import gc
import logging
import os
import time
from pathlib import Path

from django.db import connection
from django.http import HttpRequest, JsonResponse

logger = logging.getLogger(__name__)

#: Whether Python's cyclic collector was off when the serving process imported this module
#: (prodserver pauses it while a start builds its heap: django_prodserver.launch.collector).
COLLECTOR_OFF_AT_IMPORT = not gc.isenabled()


#: The release this process imported: ``PRODSERVER_TEST_RELEASE_FILE`` read once, at import. A
#: reload test changes the file between reloads: an answer carries the code its process loaded.
_RELEASE_FILE = os.environ.get("PRODSERVER_TEST_RELEASE_FILE", "")
RELEASE = Path(_RELEASE_FILE).read_text().strip() if _RELEASE_FILE else ""


def release(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"release": RELEASE, "pid": os.getpid()})


def index(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True, "pid": os.getpid(), "padding": "x" * 512})


def db(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM sqlite_master")
        (tables,) = cursor.fetchone()
    return JsonResponse({"ok": True, "tables": tables})


def slow(request: HttpRequest) -> JsonResponse:
    seconds = min(float(request.GET.get("seconds", "1")), 30.0)
    if "say" in request.GET:  # tests that must know the request is running wait for this line
        logger.warning("slow request running: %s s", seconds)
    time.sleep(seconds)
    return JsonResponse({"ok": True, "slept": seconds, "padding": "y" * 2048})


async def block(request: HttpRequest) -> JsonResponse:
    """Blocks its serving unit: an ASGI server's event loop (a blocking call in an async view),
    a WSGI worker's thread. New connections then wait in the listen backlog (drain contract)."""
    seconds = min(float(request.GET.get("seconds", "1")), 30.0)
    time.sleep(seconds)  # deliberately blocking
    return JsonResponse({"ok": True, "blocked": seconds})


def burn_cpu(seconds: float) -> int:
    """Pure-Python work for ``seconds`` (a profile of ``burn/`` finds its time here)."""
    end = time.perf_counter() + seconds
    n = 0
    while time.perf_counter() < end:
        n += sum(i * i for i in range(200))
    return n


def burn(request: HttpRequest) -> JsonResponse:
    """Burns CPU in :func:`burn_cpu` for ``?seconds=`` (profiling tests)."""
    seconds = min(float(request.GET.get("seconds", "0.05")), 5.0)
    return JsonResponse({"ok": True, "n": burn_cpu(seconds)})


#: What ``hoard/`` keeps (the last 64 blocks): a stand-in for a leak.
HOARD: list[bytearray] = []


def hoard_bytes(size: int) -> int:
    """Allocates ``size`` bytes and keeps them (a memory profile of ``hoard/`` finds them here)."""
    HOARD.append(bytearray(b"\xff") * size)  # written, so resident (a zeroed block may not be)
    del HOARD[:-64]
    return len(HOARD)


def hoard(request: HttpRequest) -> JsonResponse:
    """Keeps ``?kib=`` KiB (default 64) per request, like a leak (profiling tests)."""
    return JsonResponse({"ok": True, "kept": hoard_bytes(min(int(request.GET.get("kib", "64")), 1024) * 1024)})


def log(request: HttpRequest) -> JsonResponse:
    """Logs one info record (the JSON-logs tests find it, with the request id, in the output);
    ``?size=N`` pads its message to N bytes after the token and the worker's pid."""
    size = int(request.GET.get("size", "0"))
    if size:
        logger.info("view log record %s pid=%d %s", request.GET.get("token", ""), os.getpid(), "x" * size)
    else:
        logger.info("view log record %s", request.GET.get("token", ""))
    return JsonResponse({"ok": True})


async def alog(request: HttpRequest) -> JsonResponse:
    """The same from an async view (the request id contextvar must reach it too)."""
    logger.info("async view log record %s", request.GET.get("token", ""))
    return JsonResponse({"ok": True})


def boom(request: HttpRequest) -> JsonResponse:
    """Raises: Django logs the traceback on ``django.request`` and answers 500."""
    raise RuntimeError(f"boom {request.GET.get('token', '')}")


def collector(request: HttpRequest) -> JsonResponse:
    """The serving process' garbage collector: on, and how many start-up objects it froze."""
    return JsonResponse(
        {
            "enabled": gc.isenabled(),
            "frozen": gc.get_freeze_count(),
            "off_at_import": COLLECTOR_OFF_AT_IMPORT,
            "pid": os.getpid(),
        }
    )
