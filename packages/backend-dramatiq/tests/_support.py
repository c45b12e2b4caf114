"""Broker URLs from the environment, reachability, and the test project's Dramatiq settings."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

REDIS_URL = os.environ.get("PRODSERVER_TEST_REDIS_URL", "redis://127.0.0.1:6379/13")
AMQP_URL = os.environ.get("PRODSERVER_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
TESTS_DIR = str(Path(__file__).resolve().parent)
REDIS_BROKER = "dramatiq.brokers.redis.RedisBroker"
RABBIT_BROKER = "dramatiq.brokers.rabbitmq.RabbitmqBroker"
MIDDLEWARE = [
    "dramatiq.middleware.AgeLimit",
    "dramatiq.middleware.TimeLimit",
    "dramatiq.middleware.Callbacks",
    "dramatiq.middleware.Retries",
]


def unreachable(url: str, env_var: str) -> str | None:
    """None when something listens at the URL's host:port, else a skip reason naming env_var."""
    parts = urlsplit(url)
    port = parts.port or {"redis": 6379, "amqp": 5672}.get(parts.scheme, 0)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", port), timeout=3):
            return None
    except OSError as e:
        return f"no broker at {url} ({e}); set {env_var} to a reachable one"


def broker_settings(broker: str, url: str, *, django_dramatiq: bool) -> dict[str, Any]:
    """PRODSERVER_TEST_SETTINGS for the contract project: the test app, the broker, maybe django-dramatiq."""
    apps = ["django_dramatiq", "dramatiq_contract_app"] if django_dramatiq else ["dramatiq_contract_app"]
    middleware = [*MIDDLEWARE, "django_dramatiq.middleware.DbConnectionsMiddleware"] if django_dramatiq else MIDDLEWARE
    return {
        "EXTRA_INSTALLED_APPS": apps,
        "DRAMATIQ_BROKER": {"BROKER": broker, "OPTIONS": {"url": url}, "MIDDLEWARE": middleware},
    }


ENQUEUE = """
import django_prodserver_dramatiq, dramatiq
from django.conf import settings
if "django_dramatiq" not in settings.INSTALLED_APPS:
    django_prodserver_dramatiq.configure_broker()
from dramatiq_contract_app.tasks import touch_actor
touch_actor.send({token!r}, {seconds!r})
dramatiq.get_broker().close()
"""
