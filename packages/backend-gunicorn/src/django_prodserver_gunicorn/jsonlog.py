"""gunicorn's logger class in JSON mode: its error log handlers get prodserver's formatter.

Passed as ``--logger-class`` when ``log_format`` is json; gunicorn calls ``setup`` on start
and on every SIGHUP/USR1 reopen, so the JSON formatter survives them."""

from __future__ import annotations

from typing import Any

from gunicorn.glogging import Logger

from django_prodserver.api import configure_from_env, formatter, jsonify


class JsonLogger(Logger):
    """gunicorn's Logger, JSON formatted (access lines come from prodserver's request layer)."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        fmt = formatter()
        jsonify([self.error_log, self.access_log], fmt)
        configure_from_env()
