"""The supervisor that runs several processes under one command (see docs/several-processes.md).

``django_prodserver.supervision`` turns plans into :class:`ChildSpec` objects; this package runs them."""

from __future__ import annotations

from .child import ChildSpec
from .core import Supervisor
from .policy import Policy, parse_policy

__all__ = ["ChildSpec", "Policy", "Supervisor", "parse_policy"]
