"""``django_prodserver.served.wsgi:application``: the user's WSGI app inside its layers."""

from __future__ import annotations

from django_prodserver.served.layers import build

application = build("wsgi")
