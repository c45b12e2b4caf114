"""The Redis URL from the environment, reachability, and the test project's huey settings."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Any

from django_prodserver.testing.plugin import broker_unreachable

BASE_URL = os.environ.get("PRODSERVER_TEST_REDIS_URL", "redis://127.0.0.1:6379/7")
#: A database of its own (other suites flush theirs); each test's huey name is its own too.
REDIS_URL = BASE_URL.rsplit("/", 1)[0] + "/7"
TESTS_DIR = str(Path(__file__).resolve().parent)
APPS = ["huey.contrib.djhuey", "huey_contract_app"]

ENQUEUE = "from huey_contract_app.tasks import touch_task\ntouch_task({token!r}, {seconds!r})\n"


def unreachable(url: str = REDIS_URL) -> str | None:
    """None when something listens at the URL's host:port, else a skip reason naming the env var."""
    reason = broker_unreachable(url, timeout=3)
    return None if reason is None else f"no Redis: {reason}; set PRODSERVER_TEST_REDIS_URL to a reachable one"


def huey_name(workdir: Path | str) -> str:
    """A huey name of the test's own (its keys in Redis), the same for worker and enqueuer."""
    return "prodserver-contract-" + hashlib.sha1(str(workdir).encode()).hexdigest()[:12]


def redis_settings(workdir: Path | str = "static", url: str = REDIS_URL) -> dict[str, Any]:
    huey = {
        "huey_class": "huey.RedisHuey",
        "name": huey_name(workdir),
        "immediate": False,
        "results": False,
        "connection": {"url": url},
    }
    return {"EXTRA_INSTALLED_APPS": APPS, "HUEY": huey}


def sqlite_settings(workdir: Path | str = "static") -> dict[str, Any]:
    huey = {
        "huey_class": "huey.SqliteHuey",
        "name": huey_name(workdir),
        "immediate": False,
        "results": False,
        "filename": str(Path(workdir) / "huey.db"),
    }
    return {"EXTRA_INSTALLED_APPS": APPS, "HUEY": huey}


def forget(workdir: Path | str, url: str = REDIS_URL) -> None:
    """Delete the keys of this test's huey name (huey strips its name to [a-z0-9])."""
    import redis

    clean = re.sub("[^a-z0-9]", "", huey_name(workdir))
    client = redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3)
    try:
        keys = list(client.scan_iter(match=f"huey.*{clean}*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()
