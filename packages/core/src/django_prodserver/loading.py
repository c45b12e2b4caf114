"""From a process name to a backend instance and its plan: the one path every command uses."""

from __future__ import annotations

from dataclasses import replace

from .backends.base import Backend, LaunchContext
from .conf import ProcessConfig, where
from .plan import LaunchPlan
from .registry import ResolvedBackend, resolve_backend


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
