"""Backends: the protocol (``base``), option declarations (``options``), native argv
(``argv``), names to classes (``registry``, ``legacy``) and name to plan (``loading``).

Backend packages import these names from ``django_prodserver.api``.
"""
