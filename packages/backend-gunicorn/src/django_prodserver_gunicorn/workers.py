"""gunicorn worker classes tuned for Django."""

from __future__ import annotations

from typing import Any, ClassVar

from uvicorn_worker import UvicornWorker


class DjangoUvicornWorker(UvicornWorker):
    """uvicorn worker with lifespan off: Django does not speak it, and would log noise."""

    CONFIG_KWARGS: ClassVar[dict[str, Any]] = {"loop": "auto", "http": "auto", "lifespan": "off"}
