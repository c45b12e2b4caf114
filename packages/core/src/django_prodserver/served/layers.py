"""The application a server loads when prodserver wraps the user's app in request layers.

When a process needs layers (metrics, request ids, an access log, a deadline), its plan points
the server at ``django_prodserver.served.wsgi:application`` (or ``served.asgi``) instead of
``mysite.wsgi:application`` and names the real app and the layers in the environment, so exec
and in-process launches and every server wrap the app the same way. Importing this module has no
side effects; importing ``served.wsgi``/``served.asgi`` builds the app, like a project's wsgi.py.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

#: The user's application, ``module:attribute``.
APP_ENV = "PRODSERVER_APP"
#: Layer factories ``module:callable``, comma-separated, innermost first. Each is called as
#: ``factory(app, interface)`` with interface ``"wsgi"`` or ``"asgi"`` and returns the wrapped app.
LAYERS_ENV = "PRODSERVER_APP_LAYERS"
#: What the server loads (real module attributes: hypercorn ``eval``s the name in the module).
WSGI_PATH = "django_prodserver.served.wsgi:application"
ASGI_PATH = "django_prodserver.served.asgi:application"


def import_path(path: str) -> Any:
    """``module:attr`` (or ``module.attr``) -> the object; errors name the path."""
    module, sep, attr = path.partition(":")
    if not sep:
        module, _, attr = path.rpartition(".")
    if not module or not attr:
        raise ImportError(f"{path!r} is not 'module:attribute'")
    obj: Any = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def wrap(app: Any, interface: str, layers: Sequence[str]) -> Any:
    """Apply each layer factory to ``app``, innermost first."""
    for path in layers:
        factory: Callable[[Any, str], Any] = import_path(path)
        app = factory(app, interface)
    return app


def layer_paths(environ: Mapping[str, str] | None = None) -> list[str]:
    """The layer factories named in ``PRODSERVER_APP_LAYERS``, innermost first."""
    env = os.environ if environ is None else environ
    return [p.strip() for p in env.get(LAYERS_ENV, "").split(",") if p.strip()]


def preload(environ: Mapping[str, str] | None = None) -> None:
    """Import the layers (and what each module's ``preload()`` imports) in a server's master,
    before it forks workers: a recycled gunicorn worker then does not import them again
    (prometheus-client alone is ~90 ms, paid once per recycled worker otherwise)."""
    for path in layer_paths(environ):
        factory = import_path(path)
        hook = getattr(importlib.import_module(factory.__module__), "preload", None)
        if callable(hook):
            hook()


def build(interface: str, environ: dict[str, str] | None = None) -> Any:
    """The user's app from ``PRODSERVER_APP`` wrapped in ``PRODSERVER_APP_LAYERS``."""
    env = os.environ if environ is None else environ
    path = env.get(APP_ENV)
    if not path:
        raise RuntimeError(f"{APP_ENV} is not set: this module is loaded only through a prodserver plan")
    layers = layer_paths(env)
    app = import_path(path)
    # The user's app is imported: its Django logging setup is final, so log_format json is
    # (re)applied to its handlers now, once per worker (a no-op for text logs).
    from django_prodserver.logs.setup import configure_from_env

    configure_from_env()
    return wrap(app, interface, layers)
