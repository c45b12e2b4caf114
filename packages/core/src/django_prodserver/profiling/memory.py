"""``prodserver profile --memory``: memray attached to each process for a while, then its top
allocation sites (memray injects itself with gdb/lldb, or ``sys.remote_exec`` on Python 3.14+)."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from django_prodserver.profiling.access import explain, missing, tool
from django_prodserver.profiling.targets import Target


@dataclass
class MemoryReport:
    target: Target
    tool: str
    ok: bool
    lines: list[str] = field(default_factory=list)
    problem: str = ""


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def profile(
    targets: Sequence[Target],
    *,
    duration: int,
    top: int,
    tick: Callable[[float], None] | None = None,
    tracemalloc: bool = False,
) -> list[MemoryReport]:
    """memray on every target at once for ``duration`` seconds: bytes allocated per site; where
    memray is missing or cannot attach (no gdb/lldb in the image, no ptrace), or with
    ``tracemalloc``, prodserver's in-process hook (``ops.memhook``) answers instead."""
    memray = None if tracemalloc else tool("memray")
    if memray is None:
        return ask_hooks(targets, duration=duration, top=top, tick=tick, why="" if tracemalloc else missing("memray"))
    reports = with_memray(memray, targets, duration=duration, top=top, tick=tick)
    failed = [r for r in reports if not r.ok and "has exited" not in r.problem]
    if not failed:
        return reports
    again = {r.target.pid: r for r in ask_hooks([r.target for r in failed], duration=duration, top=top, tick=tick)}
    out = []
    for r in reports:
        retried = again.get(r.target.pid)
        if retried is not None and retried.ok:
            retried.lines.insert(0, f"    (memray: {r.problem})")
            out.append(retried)
        else:
            out.append(r)
    return out


def with_memray(
    memray: str, targets: Sequence[Target], *, duration: int, top: int, tick: Callable[[float], None] | None
) -> list[MemoryReport]:
    with tempfile.TemporaryDirectory(prefix="prodserver-memory-") as tmp:
        started = []
        for t in targets:  # all at once: attaching pauses a process for about a second
            capture = Path(tmp) / f"{t.pid}.bin"
            argv = [memray, "attach", "--output", str(capture), "--duration", str(duration), str(t.pid)]
            popen = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            started.append((t, capture, argv, popen))
        jobs = []
        for t, capture, argv, popen in started:
            try:
                out, err = popen.communicate(timeout=120)
            except subprocess.TimeoutExpired:
                popen.kill()
                out, err = popen.communicate()
            jobs.append((t, capture, subprocess.CompletedProcess(argv, popen.returncode, out, err)))
        start = time.monotonic()
        while time.monotonic() - start < duration + 0.5:
            time.sleep(min(1.0, max(0.05, duration + 0.5 - (time.monotonic() - start))))
            if tick is not None:
                tick(time.monotonic() - start)
        return [_report(memray, t, capture, attached, top) for t, capture, attached in jobs]


def _report(
    memray: str, t: Target, capture: Path, attached: subprocess.CompletedProcess[str], top: int
) -> MemoryReport:
    if attached.returncode != 0:
        return MemoryReport(t, "memray", False, problem=explain(t.pid, attached.stderr or attached.stdout))
    stats = capture.with_suffix(".json")
    deadline = time.monotonic() + 15.0  # the process writes its capture out after the last second
    said = ""
    while time.monotonic() < deadline:
        argv = [memray, "stats", "--json", "--force", "--num-largest", str(top), "--output", str(stats), str(capture)]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
        if done.returncode == 0 and stats.exists():
            data = json.loads(stats.read_text())
            lines = [
                f"    {_size(data.get('total_bytes_allocated', 0))} in {data.get('total_num_allocations', 0)} "
                "allocations; top sites by bytes allocated:"
            ]
            lines += [
                f"    {_size(row['size']):>10}  {row['location']}" for row in data.get("top_allocations_by_size", [])
            ]
            return MemoryReport(t, "memray", True, lines)
        said = done.stderr or done.stdout
        time.sleep(0.5)
    return MemoryReport(t, "memray", False, problem=f"memray wrote no readable capture: {said.strip()[:200]}")


def ask_hooks(
    targets: Sequence[Target],
    *,
    duration: int,
    top: int,
    tick: Callable[[float], None] | None = None,
    why: str = "",
) -> list[MemoryReport]:
    """Ask each target's in-process hook for a tracemalloc comparison over ``duration`` seconds."""
    from django_prodserver.ops import procfs
    from django_prodserver.ops.memhook import POLL, directory

    asked: dict[int, Path] = {}
    problems: dict[int, str] = {}
    for t in targets:
        uid = procfs.owner(t.pid)
        if uid is None:
            problems[t.pid] = f"pid {t.pid} has exited"
            continue
        try:
            folder = _folder(directory(uid), uid)
            request = folder / f"{t.pid}.request"
            (folder / f"{t.pid}.result").unlink(missing_ok=True)
            request.write_text(json.dumps({"duration": duration, "top": top}))
            if os.getuid() == 0 and uid != 0:
                os.chown(request, uid, -1)
        except OSError as e:
            problems[t.pid] = f"cannot ask pid {t.pid}'s hook: {e}"
            continue
        asked[t.pid] = folder
    start = time.monotonic()
    deadline = start + duration + 2 * POLL + 10.0
    results: dict[int, dict[str, object]] = {}
    unheard: set[int] = set()  # a hook takes its request within a poll; one left there has none
    while asked.keys() - results.keys() - unheard and time.monotonic() < deadline:
        time.sleep(0.25)
        waited = time.monotonic() - start
        for pid, folder in asked.items():
            path = folder / f"{pid}.result"
            if pid not in results and path.exists():
                results[pid] = json.loads(path.read_text())
                path.unlink(missing_ok=True)
            elif waited > 2 * POLL + 1.5 and (folder / f"{pid}.request").exists():
                unheard.add(pid)
        if tick is not None:
            tick(waited)
    out = []
    for t in targets:
        if t.pid in results:
            out.append(_hook_report(t, results[t.pid], why))
            continue
        if t.pid in asked:
            (asked[t.pid] / f"{t.pid}.request").unlink(missing_ok=True)
        problem = problems.get(t.pid) or (
            f"no answer from pid {t.pid}: prodserver's in-process hook runs only in processes started "
            f"with PRODSERVER_PROFILE_HOOK=1 in their environment (it is off by default) that set up "
            f"Django with django_prodserver in INSTALLED_APPS; without a restart, use memray "
            '(pip install "django-prodserver[profile]")' + ("; " + why if why else "")
        )
        out.append(MemoryReport(t, "tracemalloc", False, problem=problem))
    return out


def _folder(path: Path, uid: int) -> Path:
    """The request directory of ``uid``, made (0700, theirs) when missing; refused when it is not
    a real directory of theirs."""
    if not path.exists():
        path.mkdir(mode=0o700)
        if os.getuid() == 0 and uid != 0:
            os.chown(path, uid, -1)
    st = path.lstat()
    if path.is_symlink() or not path.is_dir() or st.st_uid != uid or st.st_mode & 0o022:
        raise OSError(f"{path} is not a private directory of uid {uid}: remove it and try again")
    return path


def _hook_report(t: Target, result: dict[str, object], why: str) -> MemoryReport:
    rows = result.get("top")
    lines = [f"    (memray: {why})"] if why else []
    lines.append(
        f"    {_size(float(str(result.get('traced', 0))))} traced; top sites by growth of live memory "
        f"over {result.get('duration')} s:"
    )
    for row in rows if isinstance(rows, list) else []:
        lines.append(f"    {_size(row['size_diff']):>10}  {row['count_diff']:+d} blocks  {row['where']}")
    return MemoryReport(t, "tracemalloc", True, lines)
