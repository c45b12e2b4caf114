"""The backend: declarations and pure planning (uniform options mapped to the server's flags).

Nothing here starts anything: ``host.py`` runs the server, ``drain.py`` is its SIGTERM drain.
"""

from __future__ import annotations

from typing import ClassVar

from django_prodserver.api import WEB_OPTIONS, FlagSpec, LaunchContext, Option, OptionTable, WebBackend

W = WEB_OPTIONS


class WsgirefBackend(WebBackend):
    """Django's WSGI app on the stdlib wsgiref server, one thread per request."""

    name = "wsgiref"
    module = "prodserver_wsgiref"  # what --dry-run shows: python -m prodserver_wsgiref ...
    launch = "in-process"  # prodserver calls host in manage.py's process (Django set up once)
    host = "prodserver_wsgiref.host:run"
    check_namespace = "prodserver_wsgiref"
    capabilities = frozenset({"http", "wsgi"})
    flags: ClassVar[FlagSpec] = FlagSpec()
    options: ClassVar[tuple[Option, ...]] = (
        W["host"].declare(native="(host plan)"),
        W["port"].declare(native="(host plan)"),
        W["drain_delay"].declare(native="(host plan)"),
        W["graceful_timeout"].declare(native="(host plan)"),
    )
    # wsgiref has no command line: host.py reads these from PRODSERVER_HOST_PLAN (--dry-run shows it).
    host_options: ClassVar[tuple[str, ...]] = ("host", "port", "drain_delay", "graceful_timeout")

    def build_args(self, opts: OptionTable, ctx: LaunchContext) -> list[str]:
        return [self.app_path(opts, ctx)]
