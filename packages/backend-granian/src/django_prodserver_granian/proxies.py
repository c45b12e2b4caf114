"""App factories that add granian's proxy-header middleware (granian has no CLI flag for it).

Granian imports ``--factory django_prodserver_granian.proxies:wsgi`` in each worker; the real
app and the trusted proxies come from the environment the plan sets.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

ENV_APP = "PRODSERVER_GRANIAN_APP"
ENV_TRUSTED = "PRODSERVER_GRANIAN_FORWARDED_ALLOW_IPS"
FACTORIES = {
    "wsgi": "django_prodserver_granian.proxies:wsgi",
    "asgi": "django_prodserver_granian.proxies:asgi",
}


def _load() -> tuple[Any, list[str]]:
    target = os.environ.get(ENV_APP, "")
    module_name, _, attr = target.partition(":")
    if not module_name or not attr:
        raise RuntimeError(f"{ENV_APP} must name the app as 'module:attribute', found {target!r}")
    app: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        app = getattr(app, part)
    trusted = [h.strip() for h in os.environ.get(ENV_TRUSTED, "").split(",") if h.strip()]
    return app, trusted


def wsgi() -> Any:
    """The WSGI app from ``PRODSERVER_GRANIAN_APP``, trusting X-Forwarded-* from the listed proxies."""
    from granian.utils.proxies import wrap_wsgi_with_proxy_headers

    app, trusted = _load()
    return wrap_wsgi_with_proxy_headers(app, trusted_hosts="*" if "*" in trusted else trusted)


def asgi() -> Any:
    """The ASGI app from ``PRODSERVER_GRANIAN_APP``, trusting X-Forwarded-* from the listed proxies."""
    from granian.utils.proxies import wrap_asgi_with_proxy_headers

    app, trusted = _load()
    return wrap_asgi_with_proxy_headers(app, trusted_hosts="*" if "*" in trusted else trusted)
