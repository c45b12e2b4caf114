"""The JSON formatter: a python-json-logger formatter that writes prodserver's schema.

A ``logging.Formatter`` subclass, so any server's logging hook (dictConfig, a logger class)
can take it. The library is the optional extra ``django-prodserver-core[json-logs]``."""

from __future__ import annotations

import logging
import os
from typing import Any

from django_prodserver.logs import PROCESS_ENV
from django_prodserver.logs.lines import fit, timestamp
from django_prodserver.logs.schema import LEVELS

__all__ = ["INSTALL", "JsonFormatter", "require_library", "timestamp"]

INSTALL = 'pip install "django-prodserver-core[json-logs]"'

_Base: Any
try:
    from pythonjsonlogger.core import RESERVED_ATTRS, merge_record_extra
    from pythonjsonlogger.json import JsonFormatter as _Library
except ImportError:  # pragma: no cover - exercised by a clean install without the extra
    _Base = None
else:
    _Base = _Library


def require_library(where: str) -> None:
    """Raise ConfigError naming the pip line when JSON mode is asked for without the library."""
    if _Base is None:
        from django_prodserver.errors import ConfigError

        raise ConfigError(
            where,
            "log_format 'json' needs python-json-logger, which is not installed",
            INSTALL,
        )


if _Base is not None:
    _SKIP = {*RESERVED_ATTRS, "message", "asctime", "request_id", "color_message"}

    class JsonFormatter(_Base):  # type: ignore[misc]
        """One JSON object per record: timestamp, level, logger, message, process, pid,
        exc_info, request_id, then the record's extras (``http.*`` on access lines)."""

        def __init__(self, *args: Any, process: str | None = None, **kwargs: Any) -> None:
            kwargs.setdefault("json_ensure_ascii", False)
            super().__init__(*args, **kwargs)
            self.process_name = process if process is not None else os.environ.get(PROCESS_ENV, "")

        def add_fields(self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]) -> None:
            log_data["timestamp"] = timestamp(record.created)
            log_data["level"] = LEVELS.get(record.levelname, record.levelname.lower())
            log_data["logger"] = record.name
            log_data["message"] = record.message
            log_data["process"] = self.process_name
            log_data["pid"] = record.process
            request_id = getattr(record, "request_id", None)
            if request_id:
                log_data["request_id"] = request_id
            log_data.update(message_dict)
            merge_record_extra(record, log_data, reserved=_SKIP)

        def jsonify_log_record(self, log_data: dict[str, Any]) -> str:
            """The record as one line that one write to a shared pipe keeps whole (``lines.fit``)."""
            return fit(log_data, super().jsonify_log_record)

else:  # pragma: no cover

    class JsonFormatter(logging.Formatter):  # type: ignore[no-redef]
        """Stand-in that explains the missing extra the moment JSON mode is configured."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            raise ImportError(f"log_format 'json' needs python-json-logger: {INSTALL}")
