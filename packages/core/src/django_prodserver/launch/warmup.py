"""Before a supervised process takes work: import the project's code, answer the warm-up request,
then tell the supervisor this generation is ready (``handover.announce_ready``).

A reload stops the old generation only after that line, so an import error in a view, a broken
setting or a warm-up answering 500 leaves the old processes serving: this process prints what
failed and exits 1, and ``prodserver reload`` reports it.
"""

from __future__ import annotations

import os
import sys

from django_prodserver.handover import READY_FD_ENV, announce_ready
from django_prodserver.plan import LaunchPlan

#: Exit code of a generation whose code or warm-up failed before it took any work.
FAILED = 1


def prepare(plan: LaunchPlan) -> None:
    """Import the URLconf (and with it the views) of a web process, send its warm-up request,
    then announce ready; only when a supervisor asked (``PRODSERVER_READY_FD`` is set)."""
    if not os.environ.get(READY_FD_ENV):
        return
    if plan.kind == "web":
        try:
            _import_code()
            path = str(plan.options.get("warmup_path") or "")
            if path:
                _warm_up(plan.process, path)
        except WarmupFailed as e:
            print(f"prodserver: {plan.process!r} is not ready: {e}", file=sys.stderr, flush=True)
            sys.exit(FAILED)
    announce_ready()


class WarmupFailed(Exception):
    """The code did not import, or the warm-up request did not answer 200."""


def _import_code() -> None:
    from django.urls import get_resolver

    try:
        get_resolver().url_patterns  # noqa: B018 - imports ROOT_URLCONF and every view module it names
    except Exception as e:
        import traceback

        traceback.print_exc()
        raise WarmupFailed(f"importing the URLconf failed: {type(e).__name__}: {e}") from None


def _warm_up(process: str, path: str) -> None:
    """GET ``path`` through the project's middleware and views in this process; 200 or it fails."""
    from django.conf import settings
    from django.db import connections
    from django.test import Client

    hosts = [h for h in getattr(settings, "ALLOWED_HOSTS", []) if h and h != "*"]
    host = hosts[0].lstrip(".") if hosts else "localhost"
    secure = bool(getattr(settings, "SECURE_SSL_REDIRECT", False))
    try:
        response = Client(raise_request_exception=False).get(path, HTTP_HOST=host, secure=secure)
    except Exception as e:
        raise WarmupFailed(f"warm-up GET {path} raised {type(e).__name__}: {e}") from None
    finally:
        connections.close_all()  # never hand a connection of this process to forked workers
    if response.status_code != 200:
        raise WarmupFailed(
            f"warm-up GET {path} (Host: {host}) answered {response.status_code}, not 200; fix the view, "
            f"or point OPTIONS warmup_path of {process!r} at a path that answers 200"
        )
