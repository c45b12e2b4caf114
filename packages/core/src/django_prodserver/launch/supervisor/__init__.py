"""The supervisor that runs several processes under one command (see docs/several-processes.md).

``django_prodserver.launch.supervision`` turns plans into :class:`ChildSpec` objects; this package runs them."""

from __future__ import annotations

from django_prodserver.launch.supervisor.child import ChildSpec
from django_prodserver.launch.supervisor.core import Supervisor
from django_prodserver.settings.restart import Policy, parse_policy

__all__ = ["ChildSpec", "Policy", "Supervisor", "parse_policy"]
