"""From a process name to a backend instance and its plan: the one path every command uses."""

from __future__ import annotations

from dataclasses import replace

from django_prodserver.backends.base import Backend, LaunchContext
from django_prodserver.backends.registry import ResolvedBackend, resolve_backend
from django_prodserver.plan import LaunchPlan
from django_prodserver.settings.config import ProcessConfig, where


def load_backend(config: ProcessConfig) -> tuple[Backend, ResolvedBackend]:
    """Resolve the BACKEND of ``config`` and instantiate it (legacy entries adapted)."""
    resolved = resolve_backend(config.backend, where(config.name, "BACKEND"))
    if resolved.legacy is not None:
        config = resolved.cls.from_legacy(config, resolved.legacy.options)
    return resolved.cls(config), resolved


def plan_process(config: ProcessConfig, ctx: LaunchContext) -> tuple[Backend, LaunchPlan]:
    """The backend and its resolved plan, with provenance of the backend filled in."""
    backend, resolved = load_backend(config)
    plan = backend.plan(ctx)
    return backend, replace(plan, distribution=resolved.distribution, version=resolved.version)
