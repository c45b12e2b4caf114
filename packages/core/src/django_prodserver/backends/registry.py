"""Find backend classes: entry-point names, dotted paths, and upstream's legacy paths."""

from __future__ import annotations

import importlib
import os
import sys
import warnings
from dataclasses import dataclass
from importlib import metadata
from typing import TYPE_CHECKING, Any

from django_prodserver.backends.legacy import KNOWN_EXTRAS, LEGACY_BACKENDS, LegacyAlias
from django_prodserver.errors import BackendNotFound, ConfigError

if TYPE_CHECKING:
    from django_prodserver.backends.base import Backend

ENTRY_POINT_GROUP = "django_prodserver.backends"


@dataclass(frozen=True)
class InstalledBackend:
    """One entry point of the group, with the distribution that provides it."""

    name: str
    value: str
    distribution: str
    version: str

    def load(self) -> type[Backend]:
        module_name, _, attr = self.value.partition(":")
        module = importlib.import_module(module_name)
        obj: Any = module
        for part in attr.split(".") if attr else ():
            obj = getattr(obj, part)
        return obj  # type: ignore[no-any-return]


@dataclass(frozen=True)
class ResolvedBackend:
    """What a ``BACKEND`` string resolved to."""

    cls: type[Backend]
    name: str
    distribution: str
    version: str
    legacy: LegacyAlias | None = None


def installed_backends() -> dict[str, InstalledBackend]:
    """Every backend registered in the entry-point group, by name.

    Two different distributions claiming one name is an error naming both, never a coin toss.
    Scanning every distribution's metadata took ~30 ms per call and a start made two (its check
    and its plan), so the result is kept while ``sys.path`` and its folders are unchanged.
    """
    key = _path_state()
    cached = _scanned.get(key)
    if cached is None:
        cached = _scan()
        _scanned.clear()
        _scanned[key] = cached
    return dict(cached)


#: The last scan, keyed by the state of ``sys.path`` it was made under.
_scanned: dict[tuple[tuple[str, int], ...], dict[str, InstalledBackend]] = {}


def _path_state() -> tuple[tuple[str, int], ...]:
    """``sys.path`` with each folder's modification time: installing or removing a
    distribution (a new ``*.dist-info`` folder) changes it."""
    state = []
    for entry in sys.path:
        try:
            state.append((entry, os.stat(entry or ".").st_mtime_ns))
        except OSError:
            state.append((entry, -1))
    return tuple(state)


def _scan() -> dict[str, InstalledBackend]:
    """What ``metadata.entry_points(group=...)`` finds, at a fraction of its cost.

    That call parses every entry point of every distribution, and reading each one's name and
    version parsed its METADATA with the email parser twice: ~12 ms of a start on a project
    with 130 distributions. Here a distribution's ``entry_points.txt`` is parsed only when it
    names the group, and only those distributions' METADATA headers are read. As in
    ``importlib.metadata``, the first distribution of a name on ``sys.path`` wins.
    """
    found: dict[str, InstalledBackend] = {}
    seen: set[str] = set()
    for dist in metadata.distributions():
        key = _normalized_name(dist)
        if key in seen:
            continue
        seen.add(key)
        text = dist.read_text("entry_points.txt")
        if not text or ENTRY_POINT_GROUP not in text:
            continue
        pairs = group_pairs(text, ENTRY_POINT_GROUP)
        if not pairs:
            continue
        dist_name, version = name_and_version(dist)
        for name, value in pairs:
            item = InstalledBackend(name, value, dist_name, version)
            prior = found.get(name)
            if prior is not None and (prior.distribution, prior.value) != (item.distribution, item.value):
                raise ConfigError(
                    f"entry point {name!r} in group {ENTRY_POINT_GROUP!r}",
                    f"claimed by two distributions: {prior.distribution} ({prior.value}) "
                    f"and {item.distribution} ({item.value})",
                    f"uninstall one of them (pip uninstall {item.distribution})",
                    check_id="prodserver.E004",
                )
            found[name] = item
    return dict(sorted(found.items()))


def _normalized_name(dist: metadata.Distribution) -> str:
    """The key ``importlib.metadata`` deduplicates distributions by: taken from the dist-info
    folder's name where it can (its own private shortcut), else from METADATA."""
    cheap = getattr(dist, "_normalized_name", None)
    if isinstance(cheap, str) and cheap:
        return cheap
    return (dist.metadata["Name"] or "").lower().replace("-", "_")


def group_pairs(text: str, group: str) -> list[tuple[str, str]]:
    """``(name, value)`` of one section of an ``entry_points.txt``, read as ``importlib.metadata``
    reads it (stripped lines, ``#`` comments dropped, split at the first ``=``)."""
    pairs: list[tuple[str, str]] = []
    section: str | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line.strip("[]")
        elif section == group:
            name, _, value = line.partition("=")
            pairs.append((name.strip(), value.strip()))
    return pairs


def name_and_version(dist: metadata.Distribution) -> tuple[str, str]:
    """``Name`` and ``Version`` from the METADATA (or PKG-INFO) headers, which come before the
    first blank line; "?" where missing, as before."""
    text = dist.read_text("METADATA") or dist.read_text("PKG-INFO") or ""
    headers: dict[str, str] = {}
    for line in text.splitlines():
        if not line:
            break
        key, sep, value = line.partition(":")
        if sep and key in ("Name", "Version") and key not in headers:
            headers[key] = value.strip()
        if len(headers) == 2:
            break
    return headers.get("Name") or "?", headers.get("Version") or "?"


def _install_hint(name: str) -> str:
    extra = KNOWN_EXTRAS.get(name)
    if extra:
        return f'pip install "django-prodserver[{extra}]"'
    return f"install the package that provides the backend {name!r}"


def _not_found(where: str, name: str, problem: str) -> BackendNotFound:
    installed = installed_backends()
    listing = ", ".join(installed) if installed else "none"
    return BackendNotFound(where, f"{problem}; installed backends: {listing}", _install_hint(name))


def resolve_backend(spec: str, where: str = "BACKEND") -> ResolvedBackend:
    """Resolve ``spec`` to a backend class, with errors that say what to install or type."""
    from django_prodserver.backends.base import Backend

    legacy = LEGACY_BACKENDS.get(spec)
    if legacy is not None:
        warnings.warn(
            f"{where} = {spec!r} is an upstream django-prodserver 3.x path; write "
            f"{legacy.spelling()} instead (it keeps working for now).",
            DeprecationWarning,
            stacklevel=2,
        )
        resolved = resolve_backend(legacy.entry_point, where)
        return ResolvedBackend(resolved.cls, resolved.name, resolved.distribution, resolved.version, legacy)

    if "." not in spec:
        item = installed_backends().get(spec)
        if item is None:
            raise _not_found(where, spec, f"no backend named {spec!r} is installed")
        try:
            cls = item.load()
        except ImportError as e:
            raise BackendNotFound(
                where,
                f"backend {spec!r} from {item.distribution} failed to import: {e}",
                f'pip install --force-reinstall "{item.distribution}"',
            ) from e
        _require_backend(cls, where, spec, Backend)
        return ResolvedBackend(cls, spec, item.distribution, item.version)

    module_name, _, attr = spec.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        # Re-raise real import errors inside the module; only a missing module is "not found".
        if e.name is None or not module_name.startswith(e.name):
            raise
        raise _not_found(where, spec, f"cannot import {module_name!r} (no module {e.name!r})") from None
    try:
        cls = getattr(module, attr)
    except AttributeError:
        raise BackendNotFound(
            where, f"module {module_name!r} has no attribute {attr!r}", "check the class name"
        ) from None
    _require_backend(cls, where, spec, Backend)
    dist, version = _distribution_of(module_name)
    return ResolvedBackend(cls, getattr(cls, "name", "") or spec, dist, version)


def _require_backend(cls: Any, where: str, spec: str, base: type) -> None:
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise BackendNotFound(
            where,
            f"{spec!r} is not a django_prodserver.backends.base.Backend subclass",
            "point BACKEND at a backend class (see docs/writing-a-backend.md)",
        )


def _distribution_of(module_name: str) -> tuple[str, str]:
    top = module_name.split(".")[0]
    for dist_name in metadata.packages_distributions().get(top, []):
        try:
            return dist_name, metadata.version(dist_name)
        except metadata.PackageNotFoundError:  # pragma: no cover
            continue
    return "(not installed; on sys.path)", ""


def installed_versions() -> str:
    """What ``prodserver --version`` prints: core's version, the meta package's when installed,
    each distribution that provides backends (with their names), then Django's and Python's."""
    import platform

    import django

    from django_prodserver.__about__ import __version__

    core = "django-prodserver-core"
    provides: dict[tuple[str, str], list[str]] = {(core, __version__): []}
    for item in installed_backends().values():
        provides.setdefault((item.distribution, item.version), []).append(item.name)
    try:
        provides.setdefault(("django-prodserver", metadata.version("django-prodserver")), [])
    except metadata.PackageNotFoundError:
        pass
    lines = []
    for (dist, version), names in sorted(provides.items(), key=lambda kv: (kv[0][0] != core, kv[0])):
        lines.append(f"{dist} {version}" + (f" ({', '.join(sorted(names))})" if names else ""))
    lines.append(f"Django {django.get_version()}, Python {platform.python_version()}")
    return "\n".join(lines)
