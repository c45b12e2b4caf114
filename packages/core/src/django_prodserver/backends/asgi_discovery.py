"""Find a stock project's ASGI app: the ``asgi`` module beside the one WSGI_APPLICATION names.

``django-admin startproject`` writes ``mysite/asgi.py`` but sets only ``WSGI_APPLICATION``
(``ASGI_APPLICATION`` is a Channels convention), so an ASGI server would otherwise stop at the check.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Sequence

#: How ``--dry-run`` says where a discovered ASGI app came from.
SOURCE = "asgi module beside settings.WSGI_APPLICATION (settings.ASGI_APPLICATION is not set)"


def sibling_module(wsgi_application: str) -> str | None:
    """``mysite.wsgi.application`` (or ``mysite.wsgi:application``) -> ``mysite.asgi``."""
    if ":" in wsgi_application:
        module = wsgi_application.partition(":")[0]
    else:
        module = wsgi_application.rpartition(".")[0]
    if not module:
        return None
    package, _, _ = module.rpartition(".")
    candidate = f"{package}.asgi" if package else "asgi"
    return None if candidate == module else candidate


def asgi_beside_wsgi(wsgi_application: str | None, roots: Sequence[str] = ()) -> str | None:
    """``mysite.asgi:application`` when that module exists, else None.

    Looked up with :func:`importlib.util.find_spec` (which may import the parent package, never the
    ``asgi`` module itself, so planning stays free of the app's side effects), then as a file under
    ``roots`` (the plan's cwd and import path) for a planner whose ``sys.path`` lacks the project."""
    if not wsgi_application:
        return None
    module = sibling_module(wsgi_application)
    if module is None:
        return None
    if _spec_exists(module) or _file_exists(module, roots):
        return f"{module}:application"
    return None


def _spec_exists(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a parent that is not a package, or fails to import
        return False


def _file_exists(module: str, roots: Sequence[str]) -> bool:
    parts = module.split(".")
    for root in roots:
        if not root:
            continue
        base = os.path.join(root, *parts)
        if os.path.isfile(base + ".py") or os.path.isfile(os.path.join(base, "__init__.py")):
            return True
    return False


#: The docs section that weighs WSGI against ASGI for a project of sync views.
TRADEOFF_URL = "https://github.com/nanorepublica/django-prodserver/blob/main/docs/tuning.md#wsgi-or-asgi"


def serves_asgi_line(backend: str, app: str) -> str:
    """The one line every start prints when a project that configures only WSGI is served as
    ASGI (an ASGI-only server, or ``interface: asgi``): it changes speed, not behaviour."""
    return (
        f"serves ASGI: {backend} runs {app} through Django's ASGI handler (sync views run in a thread "
        f"each), not settings.WSGI_APPLICATION; WSGI or ASGI: {TRADEOFF_URL}"
    )
