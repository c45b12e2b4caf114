"""One profile from many processes' py-spy files, each process labelled, and its summary.

- speedscope: one file, one profile per thread of each process, named ``<label> <thread>``.
- raw (collapsed stacks, ``frame;frame;frame count``): every stack starts with the process label.

The thread of prodserver's memory hook is left out: it only ever waits.
- flamegraph: py-spy draws an SVG from its own samples only, so one SVG per process
  (``FILE`` becomes ``FILE-<pid>.svg``); open a speedscope file for all of them in one view.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

SPEEDSCOPE_SCHEMA = "https://www.speedscope.app/file-format-schema.json"
#: prodserver's own waiting thread (``ops.memhook``): left out, it only says "waiting".
HOOK_THREAD = '"prodserver-profile-hook"'
HOOK_FRAME = "ops/memhook.py:"
Stack = tuple[tuple[str, ...], float]  # frames root first, samples (or seconds sampled)


def speedscope(parts: Sequence[tuple[str, Path]], title: str) -> dict[str, Any]:
    """py-spy's speedscope files of several processes as one document."""
    frames: list[dict[str, Any]] = []
    profiles: list[dict[str, Any]] = []
    for label, path in parts:
        doc = json.loads(path.read_text())
        offset = len(frames)
        frames.extend(doc.get("shared", {}).get("frames", []))
        for profile in doc.get("profiles", []):
            if HOOK_THREAD in str(profile.get("name", "")):
                continue
            profile = dict(profile)
            profile["name"] = f"{label}: {profile.get('name', '')}".rstrip(": ")
            if profile.get("type") == "sampled":
                profile["samples"] = [[i + offset for i in sample] for sample in profile.get("samples", [])]
            elif profile.get("type") == "evented":
                profile["events"] = [{**e, "frame": e["frame"] + offset} for e in profile.get("events", [])]
            profiles.append(profile)
    return {
        "$schema": SPEEDSCOPE_SCHEMA,
        "name": title,
        "exporter": "django-prodserver (py-spy)",
        "activeProfileIndex": 0,
        "shared": {"frames": frames},
        "profiles": profiles,
    }


def speedscope_stacks(doc: dict[str, Any]) -> list[Stack]:
    """Every sampled stack of a speedscope document, frames by name (``function (file:line)``)."""
    frames = doc.get("shared", {}).get("frames", [])
    names = [_frame_name(f) for f in frames]
    out: list[Stack] = []
    for profile in doc.get("profiles", []):
        if profile.get("type") != "sampled":
            continue
        weights = profile.get("weights") or [1] * len(profile.get("samples", []))
        for sample, weight in zip(profile.get("samples", []), weights, strict=False):
            out.append((tuple(names[i] for i in sample), float(weight)))
    return out


def _frame_name(frame: dict[str, Any]) -> str:
    where = frame.get("file", "")
    line = frame.get("line")
    return f"{frame.get('name', '?')} ({where}:{line})" if line else f"{frame.get('name', '?')} ({where})"


def raw(parts: Sequence[tuple[str, Path]]) -> str:
    """py-spy's collapsed stacks of several processes, each stack prefixed with its label."""
    lines: list[str] = []
    for label, path in parts:
        for line in path.read_text().splitlines():
            if line.strip() and HOOK_FRAME not in line:
                lines.append(f"{label.replace(';', ',')};{line}")
    return "\n".join(lines) + ("\n" if lines else "")


_COUNT = re.compile(r"^(.*) (\d+)$")


def raw_stacks(text: str, *, labelled: bool = True) -> list[Stack]:
    """The stacks of collapsed text; ``labelled``: each starts with a process label (dropped)."""
    out: list[Stack] = []
    for line in text.splitlines():
        match = _COUNT.match(line.strip())
        if match:
            frames = tuple(match.group(1).split(";"))
            out.append((frames[1:] if labelled else frames, int(match.group(2))))
    return out


def summary(stacks: Iterable[Stack], top: int = 10) -> tuple[float, list[tuple[str, float, float]]]:
    """Total weight (samples, or seconds for speedscope), and the functions the samples were
    in: (function, % of samples with it anywhere in the stack, % with it on top)."""
    total = 0.0
    inclusive: dict[str, float] = {}
    own: dict[str, float] = {}
    for frames, count in stacks:
        total += count
        for name in set(frames):
            inclusive[name] = inclusive.get(name, 0.0) + count
        if frames:
            own[frames[-1]] = own.get(frames[-1], 0.0) + count
    if not total:
        return 0, []
    # A function that only calls others (a server's main loop) is in every stack: what it calls
    # tells more, so rank by own time first and show inclusive time beside it.
    ranked = sorted(inclusive, key=lambda n: (own.get(n, 0.0), inclusive[n]), reverse=True)[:top]
    return total, [(n, 100.0 * inclusive[n] / total, 100.0 * own.get(n, 0.0) / total) for n in ranked]
