"""The profilers behind request profiling: pyinstrument (HTML report) when installed, else
cProfile from the standard library (a speedscope JSON file)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any, Protocol

#: speedscope's file format (https://www.speedscope.app/file-format-schema.json).
SPEEDSCOPE_SCHEMA = "https://www.speedscope.app/file-format-schema.json"
#: Paths below this share of the request's time are left out of a cProfile flame graph.
_MIN_SHARE = 1e-4
_MAX_DEPTH = 200
_MAX_SAMPLES = 20_000


class Session(Protocol):
    """One request's profile: ``start``, ``stop``, then ``render`` the report."""

    suffix: str
    content_type: str

    def start(self) -> None: ...
    def stop(self) -> None: ...
    def render(self, title: str) -> bytes: ...


def pyinstrument_available() -> bool:
    try:
        import pyinstrument  # noqa: F401
    except ImportError:
        return False
    return True


def session_factory(interface: str) -> Callable[[], Session]:
    """What makes a session in this process: pyinstrument when it imports, else cProfile."""
    if pyinstrument_available():
        return lambda: PyinstrumentSession(interface)
    return CProfileSession


class PyinstrumentSession:
    """pyinstrument's statistical profiler; under ASGI it follows the request's task."""

    suffix = ".html"
    content_type = "text/html; charset=utf-8"

    def __init__(self, interface: str) -> None:
        from pyinstrument import Profiler

        self.profiler = Profiler(interval=0.001, async_mode="enabled" if interface == "asgi" else "disabled")

    def start(self) -> None:
        self.profiler.start()

    def stop(self) -> None:
        self.profiler.stop()

    def render(self, title: str) -> bytes:
        return self.profiler.output_html().encode("utf-8")


class CProfileSession:
    """cProfile (deterministic, every call of this thread) rendered for speedscope."""

    suffix = ".speedscope.json"
    content_type = "application/json"

    def __init__(self) -> None:
        import cProfile

        self.profile = cProfile.Profile()

    def start(self) -> None:
        self.profile.enable()

    def stop(self) -> None:
        self.profile.disable()

    def render(self, title: str) -> bytes:
        import pstats

        stats: dict[Any, Any] = pstats.Stats(self.profile).stats  # type: ignore[attr-defined]
        return json.dumps(speedscope(stats, title)).encode("utf-8")


def speedscope(stats: dict[Any, Any], title: str) -> dict[str, Any]:
    """A speedscope "sampled" profile from cProfile's call graph. cProfile records callers, not
    whole stacks: a function's time reached along several paths is shared among them in
    proportion to the time each caller spent in it (the usual call-graph flame graph)."""
    stats = {f: v for f, v in stats.items() if "_lsprof.Profiler" not in f[2]}
    children: dict[Any, list[tuple[Any, float]]] = {}
    for func, (_cc, _nc, _tt, _ct, callers) in stats.items():
        for caller, edge in callers.items():
            if caller in stats:
                children.setdefault(caller, []).append((func, float(edge[3])))
    roots = [f for f, v in stats.items() if not any(c in stats for c in v[4])]
    total = sum(float(stats[f][3]) for f in roots) or 1e-9
    frames: list[dict[str, Any]] = []
    index: dict[Any, int] = {}
    samples: list[list[int]] = []
    weights: list[float] = []

    def frame(func: Any) -> int:
        if func not in index:
            file, line, name = func
            entry: dict[str, Any] = {"name": name}
            if file not in ("~", ""):
                entry.update(file=file, line=line, name=f"{name} ({os.path.basename(file)}:{line})")
            index[func] = len(frames)
            frames.append(entry)
        return index[func]

    def visit(func: Any, stack: list[Any], seconds: float) -> None:
        if seconds < total * _MIN_SHARE or len(samples) >= _MAX_SAMPLES:
            return
        _cc, _nc, tt, ct, _callers = stats[func]
        share = seconds / ct if ct else 0.0
        here = [*stack, func]
        if tt * share > 0:
            samples.append([frame(f) for f in here])
            weights.append(tt * share)
        if len(here) >= _MAX_DEPTH:
            return
        for child, edge_seconds in children.get(func, ()):
            if child not in here:  # recursion is already inside the caller's time
                visit(child, here, edge_seconds * share)

    for root in sorted(roots, key=lambda f: -float(stats[f][3])):
        visit(root, [], float(stats[root][3]))
    return {
        "$schema": SPEEDSCOPE_SCHEMA,
        "name": title,
        "exporter": "django-prodserver (cProfile)",
        "shared": {"frames": frames},
        "profiles": [
            {
                "type": "sampled",
                "name": title,
                "unit": "seconds",
                "startValue": 0,
                "endValue": sum(weights),
                "samples": samples,
                "weights": weights,
            }
        ],
    }
