"""Put a process' stdlib logging into JSON mode without losing the project's LOGGING.

Every handler writing to stdout/stderr gets the JSON formatter, the user's other handlers
(files, syslog, Sentry) are kept as they are, every handler gets the request id filter,
and warnings, uncaught exceptions (main and threads) and ``lastResort`` become JSON too."""

from __future__ import annotations

import logging
import os
import sys
import threading
from types import TracebackType
from typing import Any

from django_prodserver.logs import FORMAT_ENV, PROCESS_ENV
from django_prodserver.logs.access import LOGGER as ACCESS_LOGGER
from django_prodserver.logs.access import access_handler
from django_prodserver.logs.requestid import RequestIdFilter
from django_prodserver.logs.schema import TASK_LOGGER

#: Logger of uncaught exceptions (``sys.excepthook`` / ``threading.excepthook``).
UNCAUGHT = "prodserver.uncaught"
_state: dict[str, Any] = {}


def json_enabled(environ: dict[str, str] | os._Environ[str] | None = None) -> bool:
    """True in a process prodserver started with ``log_format`` json."""
    env = os.environ if environ is None else environ
    return env.get(FORMAT_ENV) == "json" and PROCESS_ENV in env


def configure_from_env() -> bool:
    """JSON mode for this process when its plan asked for it; False (nothing done) otherwise."""
    if not json_enabled():
        return False
    configure(os.environ.get(PROCESS_ENV, ""))
    return True


def is_std_stream(handler: logging.Handler) -> bool:
    """A StreamHandler whose stream is this process' stdout or stderr (not a file)."""
    if not isinstance(handler, logging.StreamHandler) or isinstance(handler, logging.FileHandler):
        return False
    stream = getattr(handler, "stream", None)
    if stream is None:
        return False
    if stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        return True
    try:
        return stream.fileno() in (1, 2)
    except (AttributeError, OSError, ValueError):
        return False


def formatter(process: str | None = None) -> logging.Formatter:
    from django_prodserver.logs.formatter import JsonFormatter, require_library

    require_library(f"{FORMAT_ENV}=json")
    return JsonFormatter(process=process)


def all_loggers() -> list[logging.Logger]:
    found = [logging.getLogger()]
    found += [lg for lg in list(logging.Logger.manager.loggerDict.values()) if isinstance(lg, logging.Logger)]
    return found


def jsonify(loggers: list[logging.Logger], fmt: logging.Formatter) -> None:
    """JSON formatter on the std-stream handlers of ``loggers``; request id filter on all."""
    from django_prodserver.logs.streams import JsonLines

    for lg in loggers:
        for handler in lg.handlers:
            if is_std_stream(handler):
                handler.setFormatter(fmt)
                stream = getattr(handler, "stream", None)
                if isinstance(stream, JsonLines):  # made after the wrap: write JSON straight through
                    handler.setStream(stream.wrapped)  # type: ignore[attr-defined]
            if not any(isinstance(f, RequestIdFilter) for f in handler.filters):
                handler.addFilter(RequestIdFilter())


def configure(process: str) -> None:
    """Apply JSON mode to every logger configured so far (idempotent: safe to call again
    after a server or Django re-ran its own logging configuration)."""
    fmt = formatter(process)
    root = logging.getLogger()
    if not any(is_std_stream(h) for h in root.handlers):
        root.addHandler(logging.StreamHandler(sys.stderr))
    jsonify(all_loggers(), fmt)
    access = logging.getLogger(ACCESS_LOGGER)
    if not access.handlers:
        access.addHandler(access_handler(sys.stdout, fmt))
        access.propagate = False
    if access.level == logging.NOTSET:
        access.setLevel(logging.INFO)
    tasks = logging.getLogger(TASK_LOGGER)  # one line per task, whatever root's level
    if not tasks.handlers:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(fmt)
        handler.addFilter(RequestIdFilter())
        tasks.addHandler(handler)
        tasks.propagate = False
    if tasks.level == logging.NOTSET:
        tasks.setLevel(logging.INFO)
    last = logging.StreamHandler(sys.stderr)
    last.setFormatter(fmt)
    logging.lastResort = last
    logging.captureWarnings(True)
    from django_prodserver.logs.streams import wrap_std_streams

    wrap_std_streams(process)  # after the handlers above took the real streams
    if not _state.get("hooks"):
        _state["hooks"] = True
        sys.excepthook = _excepthook
        threading.excepthook = _thread_excepthook


def _excepthook(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, value, tb)
        return
    logging.getLogger(UNCAUGHT).critical("uncaught exception: %s", value, exc_info=(kind, value, tb))


def _thread_excepthook(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit:
        return
    name = args.thread.name if args.thread is not None else "?"
    logging.getLogger(UNCAUGHT).critical(
        "uncaught exception in thread %s: %s",
        name,
        args.exc_value,
        exc_info=(args.exc_type, args.exc_value, args.exc_traceback),  # type: ignore[arg-type]
    )


def server_dictconfig(loggers: dict[str, str]) -> dict[str, Any]:
    """A dictConfig for a server's own loggers (name -> "stdout"/"stderr"), JSON formatted;
    root is left out so the project's LOGGING handlers on root stay as they are, and levels
    are left to the server's own ``--log-level``. ``server_logging.json`` is this for the
    servers whose CLI takes a file (uvicorn, granian, hypercorn)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "django_prodserver.logs.formatter.JsonFormatter"}},
        "filters": {"request_id": {"()": "django_prodserver.logs.requestid.RequestIdFilter"}},
        "handlers": {
            name: {
                "class": "logging.StreamHandler",
                "stream": f"ext://sys.{name}",
                "formatter": "json",
                "filters": ["request_id"],
            }
            for name in ("stdout", "stderr")
        },
        "loggers": {name: {"handlers": [stream], "propagate": False} for name, stream in loggers.items()},
    }
