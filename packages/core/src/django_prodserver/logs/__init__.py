"""One JSON log schema for every server and worker prodserver starts, with request ids.

``log_format`` ("text" or "json", project default ``PRODSERVER_LOG_FORMAT``) is resolved per
process; in JSON mode the plan hands the child ``PRODSERVER_LOG_FORMAT=json`` and
``PRODSERVER_PROCESS=<name>``, and :func:`django_prodserver.logs.setup.configure_from_env`
(called from the app's ``ready()``, the in-process runner and each server's logging hook)
makes every stdout/stderr handler write one JSON object per record.
"""

from __future__ import annotations

import os

#: Setting and environment variable: the project-wide default of ``log_format``.
FORMAT_ENV = "PRODSERVER_LOG_FORMAT"
#: The PRODUCTION_PROCESSES name the child's records carry in ``process``.
PROCESS_ENV = "PRODSERVER_PROCESS"
#: Setting and environment variable: the request header a request id is taken from.
REQUEST_ID_HEADER_ENV = "PRODSERVER_REQUEST_ID_HEADER"
DEFAULT_REQUEST_ID_HEADER = "X-Request-ID"
FORMATS = ("text", "json")
#: A dictConfig file (JSON) for the servers whose CLI takes one: their loggers, JSON formatted.
SERVER_LOGGING_FILE = os.path.join(os.path.dirname(__file__), "server_logging.json")
