"""``django_prodserver.served.asgi:application``: the user's ASGI app inside its layers."""

from __future__ import annotations

from django_prodserver.served.layers import build

application = build("asgi")
