"""Why a web process binds where it does: the reason the banner and ``--dry-run`` print beside it."""

from __future__ import annotations

import os
from collections.abc import Mapping

from django_prodserver.plan import OptionTable

#: Files a container runtime leaves in the container's root (Docker, Podman/CRI-O).
CONTAINER_MARKERS = ("/.dockerenv", "/run/.containerenv")


def in_container(root: str = "/") -> bool:
    """True when this process seems to run in a container (used for wording only: the default
    bind stays loopback everywhere, so a mistaken guess never opens a port)."""
    if any(os.path.exists(os.path.join(root, m.lstrip("/"))) for m in CONTAINER_MARKERS):
        return True
    try:
        with open(os.path.join(root, "proc/1/cgroup"), encoding="utf-8") as f:
            text = f.read()
    except OSError:
        return False
    return any(word in text for word in ("docker", "kubepods", "containerd", "libpod"))


def _named(source: str) -> str:
    """``env PORT`` -> ``PORT``; ``settings OPTIONS`` -> ``OPTIONS``; ``settings ARGS -b`` -> ``ARGS -b``."""
    for prefix in ("env ", "settings "):
        if source.startswith(prefix):
            return source[len(prefix) :]
    return "--set" if source == "command line --set" else source


def bind_reason(opts: OptionTable, environ: Mapping[str, str], *, container: bool | None = None) -> str:
    """Where the bind came from, e.g. ``from PORT`` or ``default: loopback, this machine only;
    set PORT or OPTIONS host to accept other machines``; empty when the process binds nothing."""
    if opts.get("socket"):
        return f"from {_named(opts.source('socket'))}"
    if "host" not in opts.values or opts.get("port") is None:
        return ""
    host, port = opts.source("host"), opts.source("port")
    loopback_default = host == "default" and not environ.get("PORT")
    if host == "default" and not loopback_default:
        host = "env PORT"  # the default follows PORT: every interface when the platform routes to us
    if loopback_default:
        if container is None:
            container = in_container()
        place = "unreachable from outside this container" if container else "this machine only"
        said = f"default: loopback, {place}; set PORT or OPTIONS host to accept connections from outside"
        return said if port == "default" else f"port from {_named(port)}; host {said}"
    if host == port:
        return f"from {_named(host)}"
    return f"host from {_named(host)}, " + ("port default" if port == "default" else f"port from {_named(port)}")
